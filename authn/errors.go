package authn

import (
	"strconv"
	"time"

	"github.com/cryptoplug/cryptoplug/authn/autherr"
)

// Sentinel errors. Every error returned by this package wraps exactly one of
// them; test with [errors.Is]. None of their messages ever contains a secret.
// They are the values of package [autherr] (the same pointers), which clients
// import to test errors without linking this package.
var (
	// ErrUnauthenticated is returned for every credential that does not prove
	// an identity: unknown, wrong, expired, revoked, malformed or presented the
	// wrong way. Callers answer it with HTTP 401 and must not tell the cases
	// apart to the client.
	ErrUnauthenticated = autherr.ErrUnauthenticated

	// ErrForbidden is returned when a valid credential lacks the role or
	// privilege an operation needs (HTTP 403).
	ErrForbidden = autherr.ErrForbidden

	// ErrRateLimited is returned, wrapped in a [*RateLimitError] that says how
	// long to wait, when too many authentications failed recently for the
	// credential, principal or client address (HTTP 429 with Retry-After).
	ErrRateLimited = autherr.ErrRateLimited

	// ErrMalformedCredential is returned when a presented credential cannot
	// be parsed (bad token checksum, bad base64, duplicate or oversized
	// headers, non-ASCII bytes). It wraps [ErrUnauthenticated], so a caller
	// that only checks ErrUnauthenticated still denies the request; it is
	// rejected before any store lookup.
	ErrMalformedCredential = autherr.ErrMalformedCredential

	// ErrCredentialInURL is returned, wrapped in a [*CredentialInURLError],
	// when a request carries a credential in its URL (query string, path or
	// userinfo). URLs end up in logs and browser history, so such a request is
	// refused without looking at the credential. It wraps
	// [ErrUnauthenticated].
	ErrCredentialInURL = autherr.ErrCredentialInURL

	// ErrNotFound is returned by management operations when the named
	// principal, key, session, secret or token does not exist.
	ErrNotFound = autherr.ErrNotFound

	// ErrAlreadyExists is returned when creating something whose unique
	// attribute (user e-mail, certificate, identifier) is already taken.
	ErrAlreadyExists = autherr.ErrAlreadyExists

	// ErrInUse is returned when deleting something others still depend on:
	// a group that still owns keys.
	ErrInUse = autherr.ErrInUse

	// ErrInvalidArgument is returned for inputs rejected before anything is
	// stored: unknown roles, empty names, out-of-range durations, a password
	// that is too long, a method that does not fit the principal.
	ErrInvalidArgument = autherr.ErrInvalidArgument

	// ErrKeyBlocked is returned for a use of a blocked key (see
	// [Service.SetKeyState]).
	ErrKeyBlocked = autherr.ErrKeyBlocked

	// ErrApprovalPending is returned when an operation needs approvals it
	// does not have yet.
	ErrApprovalPending = autherr.ErrApprovalPending

	// ErrTaskClosed is returned, wrapped in a [*TaskClosedError] that says
	// why, for an approval task that can no longer change.
	ErrTaskClosed = autherr.ErrTaskClosed

	// ErrApprovalRejected is returned for a task an approver rejected; it
	// wraps [ErrTaskClosed].
	ErrApprovalRejected = autherr.ErrApprovalRejected

	// ErrInvalidApproval is returned when an approval's signature does not
	// verify.
	ErrInvalidApproval = autherr.ErrInvalidApproval

	// ErrTooManyTasks is returned when a principal has too many open
	// approval requests.
	ErrTooManyTasks = autherr.ErrTooManyTasks
)

// OpError records the operation and the non-secret identifier (principal ID,
// e-mail, key ID, session ID) an error is about. Err is one of the package's
// sentinel errors, possibly wrapping a cause from the store.
type OpError struct {
	Op  string // operation, e.g. "create session"
	ID  string // principal or credential identifier; never a secret
	Err error
}

// Error returns "authn: <op> <id>: <err>".
func (e *OpError) Error() string {
	s := "authn: " + e.Op
	if e.ID != "" {
		s += " " + strconv.Quote(e.ID)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *OpError) Unwrap() error { return e.Err }

func opErr(op, id string, err error) error {
	return &OpError{Op: op, ID: id, Err: err}
}

// RateLimitError is returned when an authentication is refused because of
// earlier failures. It matches [ErrRateLimited].
type RateLimitError struct {
	Op string
	// Subject names what is throttled: "principal <id>" or "address <ip>".
	Subject string
	// RetryAfter is how long the caller must wait before trying again.
	RetryAfter time.Duration
}

// Error describes the limit without any credential.
func (e *RateLimitError) Error() string {
	return "authn: " + e.Op + ": " + e.Subject + ": rate limited, retry after " + e.RetryAfter.String()
}

// Unwrap returns [ErrRateLimited].
func (e *RateLimitError) Unwrap() error { return ErrRateLimited }

// CredentialInURLError names the URL part that carried a credential. It
// matches [ErrCredentialInURL] and [ErrUnauthenticated].
type CredentialInURLError struct {
	// Param is the query parameter name, "path" or "userinfo".
	Param string
}

// Error names the parameter, never its value.
func (e *CredentialInURLError) Error() string {
	return "authn: credential in URL parameter " + strconv.Quote(e.Param) + " refused"
}

// Unwrap returns [ErrCredentialInURL].
func (e *CredentialInURLError) Unwrap() error { return ErrCredentialInURL }

// errWrap returns an error that matches sentinel and explains why. why is
// a fixed text of this package: it never quotes a caller's input, so a
// server may show it to the client (through the Reason method, which
// errors.As finds with interface{ Reason() string }).
func errWrap(sentinel error, why string) error {
	return &detailError{sentinel: sentinel, detail: why}
}

type detailError struct {
	sentinel error
	detail   string
}

func (e *detailError) Error() string  { return e.sentinel.Error() + ": " + e.detail }
func (e *detailError) Unwrap() error  { return e.sentinel }
func (e *detailError) Reason() string { return e.detail }
