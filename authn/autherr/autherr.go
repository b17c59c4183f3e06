// Package autherr holds the sentinel errors of authentication and credential
// management, shared by the server side (github.com/cryptoplug/cryptoplug/authn,
// which re-exports each one as the same value) and the client side
// (github.com/cryptoplug/cryptoplug/refserver/client, whose errors match them
// with errors.Is), so that a client can test for them without linking the
// server's authentication code.
//
// It imports nothing but the standard errors package. Test with errors.Is;
// authn.ErrUnauthenticated and autherr.ErrUnauthenticated are the same
// pointer, so either spelling matches. No message ever contains a secret.
package autherr

import "errors"

var (
	// ErrUnauthenticated is returned for every credential that does not prove
	// an identity: unknown, wrong, expired, revoked, malformed or presented the
	// wrong way. Callers answer it with HTTP 401 and must not tell the cases
	// apart to the client.
	ErrUnauthenticated = errors.New("unauthenticated")

	// ErrForbidden is returned when a valid credential lacks the role or
	// privilege an operation needs (HTTP 403).
	ErrForbidden = errors.New("forbidden")

	// ErrRateLimited is returned when too many authentications failed
	// recently for the credential, principal or client address (HTTP 429
	// with Retry-After).
	ErrRateLimited = errors.New("rate limited")

	// ErrMalformedCredential is returned when a presented credential cannot
	// be parsed (bad token checksum, bad base64, duplicate or oversized
	// headers, non-ASCII bytes). It wraps [ErrUnauthenticated], so a caller
	// that only checks ErrUnauthenticated still denies the request.
	ErrMalformedCredential error = &childError{"malformed credential", ErrUnauthenticated}

	// ErrCredentialInURL is returned when a request carries a credential in
	// its URL. URLs end up in logs and browser history, so such a request is
	// refused without looking at the credential. It wraps
	// [ErrUnauthenticated].
	ErrCredentialInURL error = &childError{"credential in URL", ErrUnauthenticated}

	// ErrNotFound is returned by management operations when the named
	// principal, key, session, secret or token does not exist.
	ErrNotFound = errors.New("not found")

	// ErrAlreadyExists is returned when creating something whose unique
	// attribute (user e-mail, certificate, identifier) is already taken.
	ErrAlreadyExists = errors.New("already exists")

	// ErrInUse is returned when deleting something others still depend on:
	// a group that still owns keys.
	ErrInUse = errors.New("in use")

	// ErrInvalidArgument is returned for inputs rejected before anything is
	// stored: unknown roles, empty names, out-of-range durations, a password
	// that is too long, a method that does not fit the principal.
	ErrInvalidArgument = errors.New("invalid argument")

	// ErrKeyBlocked is returned for a use (sign, decrypt, decapsulate) of a
	// key that is blocked until it is unblocked.
	ErrKeyBlocked = errors.New("key blocked")

	// ErrApprovalPending is returned when an operation needs approvals it
	// does not have yet: the server parked it as an approval task, or its
	// result was asked for before the quorum was reached.
	ErrApprovalPending = errors.New("approval pending")

	// ErrTaskClosed is returned for an approval task that can no longer be
	// approved, rejected, cancelled or collected: it expired, was
	// cancelled, rejected, superseded, or has run.
	ErrTaskClosed = errors.New("approval task closed")

	// ErrApprovalRejected is returned for a task an approver rejected. It
	// wraps [ErrTaskClosed].
	ErrApprovalRejected error = &childError{"approval rejected", ErrTaskClosed}

	// ErrInvalidApproval is returned when an approval's signature does not
	// verify under the approver's registered key over the task's canonical
	// encoding: a wrong key, a signature over another task or decision, or
	// no signature at all.
	ErrInvalidApproval = errors.New("invalid approval signature")

	// ErrTooManyTasks is returned when a principal already has as many open
	// approval requests as the server allows.
	ErrTooManyTasks = errors.New("too many open approval requests")
)

// childError is a sentinel that also matches a broader sentinel.
type childError struct {
	msg    string
	parent error
}

func (e *childError) Error() string { return e.msg }
func (e *childError) Unwrap() error { return e.parent }
