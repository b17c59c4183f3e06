package refserver

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

// httpError is an error the server answers with exactly this code and
// message.
type httpError struct {
	code    string
	message string
	cause   error // for the audit log only
}

func (e *httpError) Error() string {
	if e.cause != nil {
		return e.message + ": " + e.cause.Error()
	}
	return e.message
}

func (e *httpError) Unwrap() error { return e.cause }

func newError(code, format string, args ...any) *httpError {
	return &httpError{code: code, message: fmt.Sprintf(format, args...)}
}

var (
	errNotFound      = newError(wire.CodeNotFound, "not found")
	errForbidden     = &httpError{code: wire.CodeForbidden, message: "the credential does not grant a role this route needs", cause: authn.ErrForbidden}
	errNoCredentials = &httpError{code: wire.CodeUnauthenticated, message: "authentication required", cause: fmt.Errorf("no credentials: %w", authn.ErrUnauthenticated)}
)

func badRequest(format string, args ...any) error {
	return newError(wire.CodeBadRequest, format, args...)
}

// invalid wraps a validation failure of the request as backend.ErrInvalidInput.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", backend.ErrInvalidInput, fmt.Sprintf(format, args...))
}

// classify maps an error to the code and the message a client sees. The
// message is either one this package wrote for the client (an httpError),
// a fixed text per code, or, for a request the backend or authn found
// invalid, that explanation cleaned by clientText. Nothing else of an
// error's text reaches the client: backend URIs, file paths, store errors
// and whatever the caller sent stay in the audit log.
func classify(err error) (code, message string) {
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.code, he.message
	case errors.As(err, &mbe):
		return wire.CodeTooLarge, "request body larger than " + strconv.FormatInt(mbe.Limit, 10) + " bytes"
	case errors.Is(err, authn.ErrApprovalRejected):
		return wire.CodeApprovalRejected, "an approver rejected the request"
	case errors.Is(err, authn.ErrTaskClosed):
		return wire.CodeTaskClosed, "the approval task is closed" + authnReason(err)
	case errors.Is(err, authn.ErrKeyBlocked):
		return wire.CodeKeyBlocked, "the key is blocked until it is unblocked"
	case errors.Is(err, authn.ErrApprovalPending):
		return wire.CodeApprovalPending, "the request still waits for approvals"
	case errors.Is(err, authn.ErrInvalidApproval):
		return wire.CodeInvalidApproval, "the signature does not verify over this task and decision under the approver's registered key"
	case errors.Is(err, authn.ErrTooManyTasks):
		return wire.CodeTooManyTasks, "too many open approval requests; cancel some or let them end"
	case errors.Is(err, authn.ErrCredentialInURL):
		return wire.CodeCredentialInURL, "credentials are accepted in headers only, never in the URL"
	case errors.Is(err, authn.ErrRateLimited):
		return wire.CodeRateLimited, "too many failed authentications; retry later"
	case errors.Is(err, authn.ErrUnauthenticated):
		return wire.CodeUnauthenticated, "authentication required"
	case errors.Is(err, authn.ErrForbidden):
		return wire.CodeForbidden, "not allowed for this principal" + authnReason(err)
	case errors.Is(err, authn.ErrNotFound):
		return wire.CodeNotFound, "not found"
	case errors.Is(err, authn.ErrAlreadyExists):
		return wire.CodeConflict, "already exists" + authnReason(err)
	case errors.Is(err, authn.ErrInUse):
		return wire.CodeInUse, "still in use"
	case errors.Is(err, authn.ErrInvalidArgument):
		return wire.CodeInvalidInput, "invalid argument" + authnReason(err)
	case errors.Is(err, backend.ErrKeyNotFound):
		return wire.CodeKeyNotFound, "key not found"
	case errors.Is(err, backend.ErrKeyExists):
		return wire.CodeKeyExists, "a key with this label or ID exists"
	case errors.Is(err, backend.ErrInvalidInput):
		return wire.CodeInvalidInput, clientText(err, "the request does not fit the key or the backend")
	case errors.Is(err, backend.ErrUnsupported):
		return wire.CodeUnsupported, clientText(err, "the key or the backend does not support this")
	case errors.Is(err, rsa.ErrDecryption):
		return wire.CodeDecryptionFailed, "decryption error"
	case errors.Is(err, backend.ErrNotExtractable):
		return wire.CodeNotExtractable, "key not extractable"
	case errors.Is(err, backend.ErrClosed), errors.Is(err, backend.ErrUnavailable):
		return wire.CodeBackendUnavailable, "backend unavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return wire.CodeTimeout, "the backend did not answer in time"
	}
	return wire.CodeInternal, "internal error"
}

// authnReason returns ": <why>" for an authn error that explains itself
// (authn's ErrInvalidArgument errors carry a Reason that never quotes the
// input), or "".
func authnReason(err error) string {
	var r interface{ Reason() string }
	if errors.As(err, &r) {
		if text := safeText(r.Reason()); text != "" {
			return ": " + text
		}
	}
	return ""
}

// maxClientText bounds the explanation sent with a 400.
const maxClientText = 240

// clientText explains a backend's refusal without what a client must not
// see: the operation of the outermost backend error and the innermost
// cause, never a backend error's Backend field (a URI that names files),
// with every quoted string (the caller's own input, echoed) replaced by
// "…". An explanation that still holds a path, a URI or something shaped
// like a credential is replaced by fallback.
func clientText(err error, fallback string) string {
	op, inner := "", err
	for {
		var be *backend.Error
		if !errors.As(inner, &be) {
			break
		}
		if op == "" {
			op = be.Op
		}
		inner = be.Err
	}
	text := inner.Error()
	if op != "" {
		text = op + ": " + text
	}
	if text = safeText(text); text == "" {
		return fallback
	}
	return text
}

// safeText returns s with quoted strings replaced, or "" if it is too long
// or holds a path, a URI or something shaped like a credential.
func safeText(s string) string {
	s = unquote(s)
	if len(s) > maxClientText || strings.ContainsAny(s, "/\\") || authn.ContainsToken(s) {
		return ""
	}
	return s
}

// unquote replaces every Go-quoted string in s with "…", except the
// identifiers this server makes ("usr_…", "key_…", …), which are no
// caller's input. Errors quote what a caller sent (a scheme, a label, an
// ID that matched nothing): none of it may reach a client or a log.
func unquote(s string) string {
	if !strings.ContainsRune(s, '"') {
		return s
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		q, err := strconv.QuotedPrefix(s[i:])
		if err != nil {
			b.WriteString("…") // an unterminated quote: drop the rest
			return b.String()
		}
		if inner, err := strconv.Unquote(q); err == nil && isOurID(inner) {
			b.WriteString(q)
		} else {
			b.WriteString("…")
		}
		s = s[i+len(q):]
	}
}

// writeError answers rq with err's code and status. 401 carries the
// challenges, 429 Retry-After. Internal errors name the request ID so that
// the operator can find the cause in the audit log.
func (s *Server) writeError(rq *request, err error) {
	code, msg := classify(err)
	status := wire.StatusOf(code)
	h := rq.w.Header()
	switch status {
	case http.StatusUnauthorized:
		h.Add("WWW-Authenticate", `Bearer realm="cryptoplug"`)
		h.Add("WWW-Authenticate", `Basic realm="cryptoplug", charset="UTF-8"`)
	case http.StatusTooManyRequests:
		var rl *authn.RateLimitError
		secs := int64(1)
		if errors.As(err, &rl) && rl.RetryAfter > 0 {
			secs = int64((rl.RetryAfter + 999_999_999) / 1_000_000_000)
		}
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	if status >= 500 {
		msg += " (request " + rq.id + ")"
	}
	if status == http.StatusRequestEntityTooLarge {
		h.Set("Connection", "close")
	}
	writeJSON(rq.w, status, wire.ErrorBody{Error: wire.ErrorDetail{Code: code, Message: msg}})
}

// writeJSON answers with v as JSON. Responses are never cached: many hold
// credentials or signatures.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	// Shared value slices, as Set would store, without an allocation each:
	// their length equals their capacity, so a later Add copies.
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	h["X-Content-Type-Options"] = noSniff
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	b = append(b, '\n')
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

var (
	jsonContentType = []string{"application/json"}
	noStore         = []string{"no-store"}
	noSniff         = []string{"nosniff"}
)

// isOurID reports whether s has the shape of an identifier authn makes: a
// known prefix and 32 lowercase hex digits.
func isOurID(s string) bool {
	if len(s) != 36 {
		return false
	}
	switch s[:4] {
	case "usr_", "app_", "cli_", "key_", "ses_", "pin_", "reg_", "grp_", "apr_":
	default:
		return false
	}
	for i := 4; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// logText is what the audit log may record of an error or a caller's
// string: quoted input replaced (see unquote), and anything shaped like a
// credential redacted.
func logText(s string) string { return authn.RedactTokens(unquote(s)) }

// auditReason is what the audit log records of err: logText, after the key
// names in backend errors are replaced unless they name keep, the key the
// request was allowed to use. A backend error names the key it was asked
// for; for a key that does not exist, or that the caller may not see, that
// name is only what the caller typed.
func auditReason(err error, keep string) string {
	text := err.Error()
	for e := err; e != nil; {
		var be *backend.Error
		if !errors.As(e, &be) {
			break
		}
		if be.Key != "" && be.Key != keep {
			for _, form := range []string{" key " + be.Key + ":", " key " + strconv.Quote(be.Key) + ":"} {
				text = strings.ReplaceAll(text, form, " key …:")
			}
			if k := " key " + be.Key; strings.HasSuffix(text, k) {
				text = strings.TrimSuffix(text, k) + " key …"
			}
		}
		e = be.Err
	}
	return logText(text)
}
