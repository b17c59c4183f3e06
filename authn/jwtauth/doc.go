// Package jwtauth verifies JSON Web Tokens from trusted issuers: the
// "Authorization: Bearer <JWT>" credential of the cryptoplug server.
//
// Start with [New] over a [Config] listing each trusted [Issuer] — its "iss",
// its JWKS (a file or an https URL), the audiences it must name, the
// algorithms it may use, and how its claims map to a principal and roles —
// then call [Verifier.Verify] for each request's token and client
// certificate. Parsing and signature checking are go-jose's
// (github.com/go-jose/go-jose/v4); this package chooses what to trust.
//
// What it promises:
//   - A token is bounded in size before it is parsed, and must be compact
//     JWS with one signature, a "kid" naming a key in its issuer's set, and
//     an algorithm on that issuer's allow-list (ES256, ES384, RS256, PS256,
//     EdDSA at most; never "none", never HMAC). The key's type and curve,
//     and its JWK "alg" if it has one, must be the algorithm's: no algorithm
//     confusion.
//   - "exp" is required, "nbf" and "iat" honoured, all within the
//     configured clock skew; a token expiring further ahead than the
//     issuer's MaxLifetime is refused. "aud" must hold a configured
//     audience. The principal claim must be a short printable string, and
//     the role claim must grant at least one role.
//   - A token carrying an RFC 8705 "cnf" certificate thumbprint
//     ("x5t#S256") is accepted only over that client certificate.
//   - With RequireTokenID, "jti" is mandatory and each token works once
//     within its lifetime, through a [ReplayStore] shared by the servers.
//   - Key sets are fetched again when a token names an unknown key ID, at
//     most once per MinRefreshInterval per issuer, and in the background
//     every RefreshInterval; a failed fetch keeps the previous keys. A set
//     that publishes private or symmetric keys is refused.
//   - Every refusal is a [*Error] with a reason (ErrExpired, ErrBadSignature,
//     …) that matches autherr.ErrUnauthenticated: for the log, never for the
//     client. Error strings never contain the token.
//
// Verified tokens are cached by their SHA-256 until they expire, so a
// token's second use costs a hash and a map lookup; a key removed from its
// issuer's set invalidates what it verified. Every exported method is safe
// for concurrent use.
package jwtauth
