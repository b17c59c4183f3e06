package refserver

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

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

// classify maps an error to the code and message a client sees. Backend
// errors about the request (invalid input, unsupported) keep their message,
// which names the operation and key but never a secret; everything else gets
// a fixed message, with the detail left to the audit log.
func classify(err error) (code, message string) {
	var he *httpError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.code, he.message
	case errors.As(err, &mbe):
		return wire.CodeTooLarge, "request body larger than " + strconv.FormatInt(mbe.Limit, 10) + " bytes"
	case errors.Is(err, authn.ErrCredentialInURL):
		return wire.CodeCredentialInURL, "credentials are accepted in headers only, never in the URL"
	case errors.Is(err, authn.ErrRateLimited):
		return wire.CodeRateLimited, "too many failed authentications; retry later"
	case errors.Is(err, authn.ErrUnauthenticated):
		return wire.CodeUnauthenticated, "authentication required"
	case errors.Is(err, authn.ErrForbidden):
		return wire.CodeForbidden, "not allowed for this principal"
	case errors.Is(err, authn.ErrNotFound):
		return wire.CodeNotFound, "not found"
	case errors.Is(err, authn.ErrAlreadyExists):
		return wire.CodeConflict, "already exists"
	case errors.Is(err, authn.ErrInvalidArgument):
		return wire.CodeInvalidInput, err.Error()
	case errors.Is(err, backend.ErrKeyNotFound):
		return wire.CodeKeyNotFound, "key not found"
	case errors.Is(err, backend.ErrKeyExists):
		return wire.CodeKeyExists, "a key with this label or ID exists"
	case errors.Is(err, backend.ErrInvalidInput):
		return wire.CodeInvalidInput, err.Error()
	case errors.Is(err, backend.ErrUnsupported):
		return wire.CodeUnsupported, err.Error()
	case errors.Is(err, rsa.ErrDecryption):
		return wire.CodeDecryptionFailed, "decryption error"
	case errors.Is(err, backend.ErrNotExtractable):
		return wire.CodeNotExtractable, "key not extractable"
	case errors.Is(err, backend.ErrClosed):
		return wire.CodeBackendUnavailable, "backend unavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return wire.CodeTimeout, "the backend did not answer in time"
	}
	return wire.CodeInternal, "internal error"
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
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
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

// decodeJSON reads exactly one JSON object into v, refusing unknown fields
// and trailing data. A body over the route's limit gives 413.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return badRequest("request body required")
		}
		return badRequest("malformed JSON body: %s", jsonErrorText(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("malformed JSON body: data after the object")
	}
	return nil
}

// jsonErrorText describes a decoding error without echoing the input.
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return "syntax error at offset " + strconv.FormatInt(se.Offset, 10)
	case errors.As(err, &te):
		return "field " + strconv.Quote(te.Field) + " has the wrong type"
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}
