package ocspcheck

import (
	"strconv"

	"github.com/cryptoplug/cryptoplug/authn/autherr"
)

// Why a certificate is refused. [Checker.Check] returns a [*Error] whose
// Reason is one of them; each matches [autherr.ErrUnauthenticated], so a
// server answers all of them with the same 401 and logs the reason.
var (
	// ErrRevoked: the responder says the certificate is revoked.
	ErrRevoked error = reason("certificate revoked")
	// ErrUnknownCertificate: the responder does not know the certificate.
	ErrUnknownCertificate error = reason("certificate unknown to the responder")
	// ErrUnavailable: no answer usable as one — the responder could not be
	// reached, timed out, answered with an HTTP or OCSP error status, or
	// sent something that is not an OCSP response. Only this reason is
	// subject to Config.FailOpen.
	ErrUnavailable error = reason("OCSP responder unavailable")
	// ErrInvalidResponse: a well-formed response that must not be trusted
	// — a bad signature, a signer that is neither the CA nor its delegated
	// responder, a response about another certificate, a wrong nonce, or
	// one that is stale. Always refused: it is what an attacker would send.
	ErrInvalidResponse error = reason("invalid OCSP response")
)

type reasonError string

func reason(msg string) *reasonError { e := reasonError(msg); return &e }

func (e *reasonError) Error() string { return string(*e) }
func (e *reasonError) Unwrap() error { return autherr.ErrUnauthenticated }

// Error is a certificate refused after an OCSP check: why, which CA and
// serial number, and a detail for the log.
type Error struct {
	Reason error  // one of the Err… reasons above
	CA     string // the issuing CA's subject
	Serial string // the certificate's serial number, hex
	Detail string
}

// Error returns "ocspcheck: certificate <serial> of <CA> refused: <reason>: detail".
func (e *Error) Error() string {
	s := "ocspcheck: certificate " + e.Serial + " of " + strconv.Quote(e.CA) + " refused: " + e.Reason.Error()
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns the reason.
func (e *Error) Unwrap() error { return e.Reason }
