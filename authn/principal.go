package authn

import "strconv"

// Kind says what sort of principal an identity is.
type Kind uint8

// Principal kinds. The values are stored in databases and never change.
const (
	KindUser        Kind = 1 // a person with an e-mail and a password
	KindApplication Kind = 2 // an application using API keys or a client certificate
	KindClient      Kind = 3 // a client that registered itself with a registration token
	// KindExternal is an identity a trusted JWT issuer vouches for. It is
	// never stored: it exists for the request that presented the token.
	KindExternal Kind = 4
)

// String returns "user", "application", "client" or "external".
func (k Kind) String() string {
	switch k {
	case KindUser:
		return "user"
	case KindApplication:
		return "application"
	case KindClient:
		return "client"
	case KindExternal:
		return "external"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Method says how a credential was proven.
type Method uint8

// Authentication methods. The values are stored in databases and never
// change.
const (
	MethodPassword    Method = 1 // user e-mail and password (session creation only)
	MethodAPIKey      Method = 2 // an API key, as X-API-KEY or in HTTP Basic
	MethodCertificate Method = 3 // a TLS client certificate
	MethodSession     Method = 4 // a session bearer token
	MethodUserSecret  Method = 5 // a user secret in the Authorization header
	MethodJWT         Method = 6 // a JWT from a trusted issuer (Authorization: Bearer)
)

// String returns the method's name.
func (m Method) String() string {
	switch m {
	case MethodPassword:
		return "password"
	case MethodAPIKey:
		return "apiKey"
	case MethodCertificate:
		return "certificate"
	case MethodSession:
		return "session"
	case MethodUserSecret:
		return "userSecret"
	case MethodJWT:
		return "jwt"
	}
	return "Method(" + strconv.Itoa(int(m)) + ")"
}

// Principal is an authenticated identity, as returned by
// [Service.AuthenticateRequest]. It is a plain value: copying it is safe and
// it holds no secret.
type Principal struct {
	// ID is the principal identifier: "usr_…", "app_…", "cli_…", or, for
	// KindExternal, "ext_…" (a digest of the issuer and subject, the same
	// on every request).
	ID    string
	Kind  Kind    // user, application, client or external
	Roles RoleSet // the roles this credential grants, never more than the principal holds
	// Method is how this request proved the identity. For MethodSession,
	// SessionMethod says how the session itself was created.
	Method        Method
	SessionMethod Method
	// CredentialID is the non-secret identifier of the API key ("key_…") or
	// session ("ses_…") used, the principal ID for a user secret, or the
	// issuer's configured name for a JWT.
	CredentialID string
	// Subject is set when a JWT proved the request, alone or beside an API
	// key: the issuer's configured name and the token's principal claim,
	// "idp:alice", for the audit log.
	Subject string
	// Groups are the groups a KindExternal principal acts in (its roles
	// hold in each); stored principals' memberships are in the store. The
	// slice is shared with the Service's configuration: do not modify it.
	Groups []string
}

// HasRole reports whether the principal holds r. The zero Principal holds no
// role.
func (p Principal) HasRole(r Role) bool { return p.ID != "" && p.Roles.Has(r) }

// Require returns nil if the principal holds r, and otherwise an error
// wrapping [ErrForbidden] that names the principal and the role.
func (p Principal) Require(r Role) error {
	if p.HasRole(r) {
		return nil
	}
	return opErr("require role "+r.String(), p.ID, ErrForbidden)
}
