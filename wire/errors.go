package wire

import (
	"net/http"
	"slices"
)

// APIKeyHeader is the request header an API key travels in. No credential
// ever travels in a URL.
const APIKeyHeader = "X-API-KEY"

// Error codes carried in [ErrorBody]. Each has one HTTP status, given by
// [StatusOf]; clients branch on the code, never on the message.
const (
	CodeBadRequest           = "bad_request"            // 400: malformed JSON, unknown field, bad path parameter
	CodeInvalidInput         = "invalid_input"          // 400: well-formed but invalid (backend.ErrInvalidInput, authn.ErrInvalidArgument)
	CodeUnsupported          = "unsupported"            // 400: the key or backend cannot do this (backend.ErrUnsupported)
	CodeDecryptionFailed     = "decryption_failed"      // 400: the ciphertext did not decrypt (rsa.ErrDecryption)
	CodeCredentialInURL      = "credential_in_url"      // 400: a credential in the query string or path
	CodeUnauthenticated      = "unauthenticated"        // 401: no valid credential (always with WWW-Authenticate)
	CodeForbidden            = "forbidden"              // 403: valid credential, wrong role or principal kind
	CodeNotFound             = "not_found"              // 404: no such route, account, API key, secret or token
	CodeKeyNotFound          = "key_not_found"          // 404: no such key (backend.ErrKeyNotFound)
	CodeConflict             = "already_exists"         // 409: unique name, e-mail or certificate taken (authn.ErrAlreadyExists)
	CodeKeyExists            = "key_exists"             // 409: a key with this label or ID exists (backend.ErrKeyExists)
	CodeInUse                = "in_use"                 // 409: still needed by something else: a group that owns keys (authn.ErrInUse)
	CodeTooLarge             = "too_large"              // 413: request body over the route's limit
	CodeUnsupportedMediaType = "unsupported_media_type" // 415: a body that is not Content-Type application/json
	CodeRateLimited          = "rate_limited"           // 429: too many failed authentications (with Retry-After)
	CodeNotExtractable       = "not_extractable"        // 403: key material was asked for and the store refuses
	CodeInternal             = "internal"               // 500: anything else; details only in the server's log
	CodeBackendUnavailable   = "backend_unavailable"    // 503: the backend is closed or its store failed
	CodeTimeout              = "timeout"                // 504: the backend did not answer in time
	CodeKeyBlocked           = "key_blocked"            // 409: the key is blocked; no use until it is unblocked
	CodeApprovalPending      = "approval_pending"       // 409: the request still waits for approvals
	CodeTaskClosed           = "task_closed"            // 409: the approval task expired, was cancelled or superseded, or has run
	CodeApprovalRejected     = "approval_rejected"      // 409: an approver rejected the request
	CodeInvalidApproval      = "invalid_approval"       // 400: the approval's signature does not verify over this task and decision
	CodeTooManyTasks         = "too_many_tasks"         // 429: the caller has too many open approval requests
)

var statusOf = map[string]int{
	CodeBadRequest:           http.StatusBadRequest,
	CodeInvalidInput:         http.StatusBadRequest,
	CodeUnsupported:          http.StatusBadRequest,
	CodeDecryptionFailed:     http.StatusBadRequest,
	CodeCredentialInURL:      http.StatusBadRequest,
	CodeUnauthenticated:      http.StatusUnauthorized,
	CodeForbidden:            http.StatusForbidden,
	CodeNotExtractable:       http.StatusForbidden,
	CodeNotFound:             http.StatusNotFound,
	CodeKeyNotFound:          http.StatusNotFound,
	CodeConflict:             http.StatusConflict,
	CodeKeyExists:            http.StatusConflict,
	CodeInUse:                http.StatusConflict,
	CodeTooLarge:             http.StatusRequestEntityTooLarge,
	CodeUnsupportedMediaType: http.StatusUnsupportedMediaType,
	CodeRateLimited:          http.StatusTooManyRequests,
	CodeInternal:             http.StatusInternalServerError,
	CodeBackendUnavailable:   http.StatusServiceUnavailable,
	CodeTimeout:              http.StatusGatewayTimeout,
	CodeKeyBlocked:           http.StatusConflict,
	CodeApprovalPending:      http.StatusConflict,
	CodeTaskClosed:           http.StatusConflict,
	CodeApprovalRejected:     http.StatusConflict,
	CodeInvalidApproval:      http.StatusBadRequest,
	CodeTooManyTasks:         http.StatusTooManyRequests,
}

// Codes returns every error code, sorted.
func Codes() []string {
	out := make([]string, 0, len(statusOf))
	for c := range statusOf {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// StatusOf returns the HTTP status of an error code, and 500 for a code it
// does not know.
func StatusOf(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ErrorBody is the body of every error response:
// {"error": {"code": "...", "message": "..."}}. The message is for people; it
// never holds a secret, a stack trace or a backend's internal detail.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of an [ErrorBody].
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
