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

// Error is a refused token: why, and what helps an operator find out. It
// holds nothing the caller chose — not the token, nor its unverified
// header or claims — so it can go to a log as it is: the issuer is the
// configured name, the key ID one from that issuer's key set, the detail
// this package's own words (or, for ErrReplay, the verified "jti").
type Error struct {
	Reason error  // one of the Err… reasons above
	Issuer string // configured issuer name, once the token's "iss" matched one
	KeyID  string // set once the token's "kid" matched a key of the issuer
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
