// Package authn authenticates the callers of the cryptoplug server and
// manages their credentials.
//
// Start with [NewService] over a [Store] (usually
// [github.com/cryptoplug/cryptoplug/authn/sqlstore]: SQLite for one
// instance, PostgreSQL for several sharing state) and a [PepperSet]
// ([LoadPepperFile] or [PeppersFromEnv]). In each HTTP handler call
// [Service.AuthenticateRequest] and check the result with
// [Principal.HasRole] or [Principal.Require]; answer [ErrUnauthenticated]
// with 401, [ErrForbidden] with 403 and a [*RateLimitError] with 429 and its
// RetryAfter. Sessions are created with [Service.CreateSessionFromRequest].
// Error strings name the operation and the principal or credential ID (never
// a secret) for logs; send clients the status code, not the string.
//
// Principals are users (e-mail and password), applications (API keys or a
// pinned client certificate) and clients that registered themselves with a
// registration token. Each holds a set of [Role]s. The credentials:
//
//   - API keys ("cpk_…", header X-API-KEY): each grants one role; many per
//     role; optional expiry; listed by ID; revoked at once; rotated with an
//     overlap ([Service.RotateAPIKey]).
//   - Sessions ("cps_…", Authorization: Bearer): created from HTTP Basic
//     (e-mail:password or ID:API key) or a client certificate, to which
//     the session is then bound; idle and absolute expiry; terminated,
//     renewed ([Service.Reauth]), and ended at once when the principal's
//     credentials are regenerated or its method switched, its password
//     reset, or the API key it was made from revoked, rotated away or
//     expired.
//   - User secrets ("cpu_…", exactly 64 characters, Authorization: <secret>):
//     one per user, obtained once by redeeming a single-use PIN an
//     administrator issued ([Service.CreatePIN], [Service.RedeemPIN]);
//     revoked, with any pending PIN, when the user's password is reset.
//   - JWTs from trusted issuers (Authorization: Bearer <JWT>; Config.JWT, a
//     [github.com/cryptoplug/cryptoplug/authn/jwtauth.Verifier]): alone,
//     a token proves a KindExternal principal ("ext_…", never stored) with
//     the roles its claims map to, acting in the groups Config.JWTGroups
//     gives its issuer (the default group otherwise). Beside an X-API-KEY
//     both must hold: the request acts as the key's principal with the
//     roles both grant, and Principal.Subject records the token's subject.
//     A token bound to a certificate (RFC 8705) works only over it; a
//     single-use token ("jti") is recorded in the store, so it stays
//     single-use across servers. Sessions are not made from JWTs.
//   - Registration tokens ("cpr_…"): let a client register its public keys
//     and receive an ID and API keys ([Service.RegisterClient]), optionally
//     leaving a backup sealed to a recovery key with package
//     [github.com/cryptoplug/cryptoplug/seal].
//
// Keys belong to groups ([Service.AuthorizeKey]): a principal holds roles
// in each group it belongs to, and an operation on a key needs the role in
// the credential and in the membership of the key's group. Keys never
// assigned a group, and principals created without one, are in the
// default group ([DefaultGroupID]).
//
// Keys may need approvals ([KeyPolicy], [Service.SetKeyState]):
// approvers are principals holding the approver role with a registered
// public key ([Service.RegisterApprover]); an operation a key's policy
// covers becomes an [ApprovalTask], decided by approvers
// ([Service.DecideApprovalTask]: each counted once, atomically in the
// store) and claimed once by its requester ([Service.ClaimApprovalTask]).
//
// What it promises: tokens carry at least 128 random bits and a CRC-32, and
// malformed ones are refused before any lookup; the store only ever sees
// HMAC-SHA-256 of tokens under a versioned pepper and argon2id hashes of
// passwords and PINs; comparisons are constant-time; [Secret] values never
// print; unknown, wrong and expired credentials fail identically; failed
// passwords and PINs slow further attempts down per account and per
// address, a token that keeps failing is refused unseen, and a valid token
// is never refused for anyone else's failures; nobody is locked out for
// good. Every exported method is safe for concurrent use.
//
// What it never does: accept credentials in URLs (anything token- or
// JWT-shaped, however encoded: [ContainsToken]), or store or log a
// plaintext secret, or put in a log or an error what a caller typed where
// an identifier was expected. Client certificates are trusted by their SHA-256 pin
// alone: the TLS handshake has proven the client holds the certificate's
// key. Configure the server with tls.VerifyClientCertIfGiven and ClientCAs
// so that only CA-issued certificates reach it at all, and set
// Config.CertificateStatus (an OCSP
// [github.com/cryptoplug/cryptoplug/authn/ocspcheck.Checker]) so that a
// revoked one is refused on its next request, with every session bound to
// it.
package authn
