package backend

import (
	"context"
	"errors"
	"strconv"
	"strings"
)

// Sentinel errors. Backends wrap them in an [*Error]; callers test for them
// with [errors.Is].
var (
	// ErrKeyNotFound means no key matches the ID or label asked for.
	ErrKeyNotFound = errors.New("key not found")
	// ErrKeyExists means a key with the same label (or ID) already exists.
	ErrKeyExists = errors.New("key already exists")
	// ErrUnsupported means the backend, token or key cannot do what was asked:
	// an algorithm, an operation or a parameter combination. It also matches
	// [errors.ErrUnsupported].
	ErrUnsupported error = unsupportedError{}
	// ErrClosed means the backend (or a key obtained from it) was used after
	// [Backend.Close].
	ErrClosed = errors.New("backend closed")
	// ErrInvalidInput means an argument was malformed: a digest of the wrong
	// length, options that do not fit the key, a bad URI.
	ErrInvalidInput = errors.New("invalid input")
	// ErrAuth means a PIN or passphrase was refused.
	ErrAuth = errors.New("authentication failed")
	// ErrPolicy means the store refused to use a key because a condition
	// bound to it when it was made ([KeyPolicy]) does not hold now: a TPM
	// key bound to PCR values after the platform's state changed. Unlike
	// [ErrAuth], no credential the caller could give fixes it; restoring
	// the state does.
	ErrPolicy = errors.New("key use refused by its policy")
	// ErrNotExtractable means private key material was asked for and the
	// store will not release it.
	ErrNotExtractable = errors.New("key not extractable")
	// ErrCorrupt means stored key data could not be read back: a damaged or
	// truncated file, or an object whose attributes do not describe a usable
	// key. The error names the file or object; other keys are unaffected.
	ErrCorrupt = errors.New("stored key data corrupt")
	// ErrUnavailable means the store cannot be reached for now: its device,
	// token or daemon stopped answering, was removed, or is being
	// reconnected, or earlier calls to it have not returned. The backend
	// refused the operation at once rather than wait, and keeps recovering
	// in the background (see [HealthReporter]); retry later, with backoff.
	// An operation that failed so was not performed, except a key creation
	// cut off by the outage, which the store may have completed: look the
	// key up once it is back. A call that was under way when its context
	// ended fails with the context's error instead.
	ErrUnavailable = errors.New("store unavailable")
	// ErrInternal means cryptoplug or a library it calls failed in a way
	// that is a bug, such as a panic caught at the API boundary. The error
	// says where; report it.
	ErrInternal = errors.New("internal error")
)

// unsupportedError is ErrUnsupported; its Is method makes it match
// errors.ErrUnsupported as well, so generic code that knows only the
// standard sentinel still recognises it.
type unsupportedError struct{}

func (unsupportedError) Error() string { return "operation not supported" }

func (unsupportedError) Is(target error) bool { return target == errors.ErrUnsupported }

// Error describes a failed backend operation. Backends return it (wrapped or
// not) from every method; Err is the cause, usually wrapping a sentinel from
// this package or a context error.
//
// Error never holds a PIN, passphrase or key material: Key is the key's label
// or hex ID, Backend the backend's name or redacted URI.
type Error struct {
	Op      string // operation, such as "sign" or "generate key"
	Backend string // backend name or redacted URI; may be empty
	Key     string // key label or ID; may be empty
	Err     error  // the cause
}

// Error returns "cryptoplug: <backend>: <op> key <key>: <cause>", omitting the
// parts that are empty.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cryptoplug: ")
	if e.Backend != "" {
		b.WriteString(e.Backend)
		b.WriteString(": ")
	}
	b.WriteString(e.Op)
	if e.Key != "" {
		if strings.HasSuffix(e.Op, "key") {
			b.WriteString(" ") // "sign key web", not "sign key key web"
		} else {
			b.WriteString(" key ")
		}
		b.WriteString(quoteIfNeeded(e.Key))
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf is shorthand for &Error{Op: op, Backend: backendName, Key: key, Err: err}.
// It returns nil when err is nil and returns context errors wrapped so that
// errors.Is(err, context.Canceled) still holds.
func Errorf(op, backendName, key string, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Op: op, Backend: backendName, Key: key, Err: err}
}

// ContextErr returns ctx.Err() wrapped as an [*Error] for op, or nil when the
// context is still live. Backends call it before starting work so a cancelled
// context fails fast.
func ContextErr(ctx context.Context, op, backendName, key string) error {
	if err := ctx.Err(); err != nil {
		return &Error{Op: op, Backend: backendName, Key: key, Err: err}
	}
	return nil
}

func quoteIfNeeded(s string) string {
	for _, r := range s {
		if r <= ' ' || r == '"' || r > '~' {
			return strconv.Quote(s)
		}
	}
	return s
}
