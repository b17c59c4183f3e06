package jwtauth

import (
	"strconv"

	"github.com/cryptoplug/cryptoplug/authn/autherr"
)

// The reasons a token is refused. [Verifier.Verify] returns a [*Error]
// whose Reason is one of them; each matches [autherr.ErrUnauthenticated]
// through errors.Is, so a caller that only checks that denies the request.
// They are for logs: a server answers every one of them with the same 401.
var (
	ErrMalformed           error = reason("malformed token")
	ErrOversized           error = reason("token too large")
	ErrUnknownIssuer       error = reason("wrong issuer")
	ErrWrongAudience       error = reason("wrong audience")
	ErrExpired             error = reason("token expired")
	ErrNotYetValid         error = reason("token not yet valid")
	ErrLifetimeTooLong     error = reason("token lifetime too long")
	ErrUnknownKeyID        error = reason("unknown key ID")
	ErrKeysUnavailable     error = reason("issuer keys unavailable")
	ErrAlgorithmNotAllowed error = reason("algorithm not allowed")
	ErrAlgorithmConfused   error = reason("algorithm does not fit the key")
	ErrBadSignature        error = reason("bad signature")
	ErrMissingClaim        error = reason("missing or invalid claim")
	ErrMissingRole         error = reason("no role claim")
	ErrReplay              error = reason("token ID replayed")
	ErrBindingMismatch     error = reason("certificate binding mismatch")
)

// reasonError is a refusal reason; it matches autherr.ErrUnauthenticated.
type reasonError string

func reason(msg string) *reasonError { e := reasonError(msg); return &e }

func (e *reasonError) Error() string { return string(*e) }
func (e *reasonError) Unwrap() error { return autherr.ErrUnauthenticated }

// Error is a refused token: why, and the non-secret facts that help an
// operator find out (the configured issuer name, the key ID, a detail). It
// never holds the token. Values that came from the token (key ID, algorithm,
// issuer) are quoted and truncated in Error's output.
type Error struct {
	Reason error  // one of the Err… reasons above
	Issuer string // configured issuer name, or the token's "iss" if unknown
	KeyID  string // the token's "kid", if it got that far
	Detail string
}

// Error returns "jwtauth: token refused: <reason> (issuer …, kid …): detail".
func (e *Error) Error() string {
	s := "jwtauth: token refused: " + e.Reason.Error()
	if e.Issuer != "" || e.KeyID != "" {
		s += " (issuer " + quote(e.Issuer) + ", kid " + quote(e.KeyID) + ")"
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the reason.
func (e *Error) Unwrap() error { return e.Reason }

// quote makes an attacker-chosen string safe for a log line.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.QuoteToASCII(s)
}

func refuse(r error, issuer, kid, detail string) error {
	return &Error{Reason: r, Issuer: issuer, KeyID: kid, Detail: detail}
}
