// Package ocspcheck checks TLS client certificates with their CA's OCSP
// responder (RFC 6960), so that a revoked certificate stops working
// without redeploying the CA bundle.
//
// Start with [New] over a [Config] that lists each client CA to check
// (with its responder URL, or none to use each certificate's AIA), then
// call [Checker.Check] with the connection's verified client certificate
// on every request — the answer is cached, so this costs a map lookup.
//
// What it promises:
//   - A request carries a fresh nonce (unless the CA sets NoNonce) and the
//     response must echo it; the response must be signed by the CA itself
//     or by a responder certificate the CA issued with the OCSP signing
//     extended key usage and valid now; it must be about this serial
//     number under this CA's name and key hashes; its thisUpdate may not be
//     in the future nor its nextUpdate past (within ClockSkew). Parsing and
//     signature checks are golang.org/x/crypto/ocsp's; this package reads
//     itself only the nonce and CertID that package does not expose.
//   - Answers are cached until their nextUpdate, never longer than
//     MaxCacheAge; a revocation is remembered for the certificate's life.
//     Concurrent checks of one certificate share one query; a query is
//     bounded by Timeout and its response by MaxResponseSize.
//   - An unreachable responder refuses the certificate (fail closed). With
//     FailOpen the certificate is let through and a warning logged each
//     time; a response that is forged, stale or about something else is
//     refused either way.
//   - Every refusal is a [*Error] whose reason (ErrRevoked,
//     ErrUnknownCertificate, ErrUnavailable, ErrInvalidResponse) matches
//     autherr.ErrUnauthenticated: for the log, not for the client.
//
// It checks the leaf only, with the configured CA that issued it (found by
// issuer name and key ID; the TLS handshake verified the chain);
// intermediate CAs are trusted as the TLS configuration trusts them. Every method is safe for
// concurrent use.
package ocspcheck
