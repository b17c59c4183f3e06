package authn

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// Account is the public view of a principal: everything stored about it
// except password hashes.
type Account struct {
	ID         string
	Kind       Kind
	Name       string
	Email      string // users only
	Roles      RoleSet
	Method     Method   // MethodPassword (users), MethodAPIKey or MethodCertificate
	CertSHA256 []byte   // the pinned client certificate, for MethodCertificate
	PublicKeys [][]byte // clients only: their PKIX DER public keys
	CreatedAt  time.Time
}

func accountOf(p PrincipalRecord) Account {
	return Account{ID: p.ID, Kind: p.Kind, Name: p.Name, Email: p.Email, Roles: p.Roles, Method: p.Method,
		CertSHA256: p.CertSHA256, PublicKeys: p.PublicKeys, CreatedAt: p.CreatedAt}
}

// Principal ID prefixes.
const (
	userIDPrefix        = "usr_"
	applicationIDPrefix = "app_"
	clientIDPrefix      = "cli_"
)

const maxNameLen = 256

func validName(s string) bool {
	if s == "" || len(s) > maxNameLen || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// normalizeEmail lower-cases an e-mail and checks its shape: one '@' with
// something on both sides, no spaces or control characters, at most 254
// bytes.
func normalizeEmail(s string) (string, bool) {
	if len(s) > 254 || !utf8.ValidString(s) {
		return "", false
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return "", false
	}
	for _, r := range s {
		if r <= 0x20 || r == 0x7f {
			return "", false
		}
	}
	return strings.ToLower(s), true
}

func checkPassword(p Secret) error {
	if p.Len() < MinPasswordLen || p.Len() > MaxPasswordLen || !utf8.ValidString(p.v) {
		return errWrap(ErrInvalidArgument, "password must be valid UTF-8 of 12 to 1024 bytes")
	}
	return nil
}

// CreateUser stores a user who logs in with email and password and holds
// roles. The e-mail is compared case-insensitively and must be unique
// (ErrAlreadyExists). The password is hashed with argon2id. Errors wrap
// [ErrInvalidArgument] for a malformed e-mail, an empty or invalid role set
// or a password outside [MinPasswordLen]..[MaxPasswordLen].
func (s *Service) CreateUser(ctx context.Context, email string, password Secret, roles RoleSet) (Account, error) {
	const op = "create user"
	norm, ok := normalizeEmail(email)
	if !ok {
		return Account{}, opErr(op, "", errWrap(ErrInvalidArgument, "malformed e-mail"))
	}
	if !roles.Valid() {
		return Account{}, opErr(op, norm, errWrap(ErrInvalidArgument, "undefined role"))
	}
	if err := checkPassword(password); err != nil {
		return Account{}, opErr(op, norm, err)
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return Account{}, opErr(op, norm, err)
	}
	p := PrincipalRecord{ID: newID(userIDPrefix), Kind: KindUser, Name: norm, Email: norm, Roles: roles,
		PasswordHash: hash, Method: MethodPassword, CreatedAt: s.now()}
	if err := s.store.CreatePrincipal(ctx, p, nil); err != nil {
		return Account{}, storeErr(op, norm, err)
	}
	return accountOf(p), nil
}

// SetPassword replaces a user's password and terminates all the user's
// sessions. Errors wrap [ErrNotFound] or [ErrInvalidArgument].
func (s *Service) SetPassword(ctx context.Context, userID string, password Secret) error {
	const op = "set password"
	if err := checkPassword(password); err != nil {
		return opErr(op, userID, err)
	}
	p, err := s.store.GetPrincipal(ctx, userID)
	if err != nil {
		return storeErr(op, userID, err)
	}
	if p.Kind != KindUser {
		return opErr(op, userID, errWrap(ErrInvalidArgument, "not a user"))
	}
	if p.PasswordHash, err = s.hasher.hash(ctx, password); err != nil {
		return opErr(op, userID, err)
	}
	if err := s.store.ResetCredentials(ctx, p, nil); err != nil {
		return storeErr(op, userID, err)
	}
	return nil
}

// ApplicationSpec describes an application for [Service.CreateApplication].
type ApplicationSpec struct {
	Name  string
	Roles RoleSet // at least one
	// Method is MethodAPIKey or MethodCertificate.
	Method Method
	// Certificate is the client certificate the application will present,
	// required for MethodCertificate. Its SHA-256 is pinned: sessions can
	// only be created with exactly this certificate.
	Certificate *x509.Certificate
}

// CreateApplication stores an application. With MethodAPIKey it issues one
// API key per role (without expiry) and returns them; this is the only time
// their plaintext is available. With MethodCertificate it pins
// spec.Certificate and issues no key. Errors wrap [ErrInvalidArgument] or,
// if the certificate is already pinned by another principal,
// [ErrAlreadyExists].
func (s *Service) CreateApplication(ctx context.Context, spec ApplicationSpec) (Account, []IssuedAPIKey, error) {
	const op = "create application"
	if !validName(spec.Name) {
		return Account{}, nil, opErr(op, "", errWrap(ErrInvalidArgument, "name empty, too long or with control characters"))
	}
	if spec.Roles.Len() == 0 || !spec.Roles.Valid() {
		return Account{}, nil, opErr(op, spec.Name, errWrap(ErrInvalidArgument, "roles empty or undefined"))
	}
	p := PrincipalRecord{ID: newID(applicationIDPrefix), Kind: KindApplication, Name: spec.Name, Roles: spec.Roles, CreatedAt: s.now()}
	keys, issued, err := s.setMethod(&p, spec.Method, spec.Certificate)
	if err != nil {
		return Account{}, nil, opErr(op, p.ID, err)
	}
	if err := s.store.CreatePrincipal(ctx, p, keys); err != nil {
		return Account{}, nil, storeErr(op, p.ID, err)
	}
	return accountOf(p), issued, nil
}

// setMethod sets p's method and certificate and, for API keys, makes one
// key per role.
func (s *Service) setMethod(p *PrincipalRecord, m Method, cert *x509.Certificate) ([]APIKeyRecord, []IssuedAPIKey, error) {
	switch m {
	case MethodAPIKey:
		if cert != nil {
			return nil, nil, errWrap(ErrInvalidArgument, "a certificate was given for the API key method")
		}
		p.Method, p.CertSHA256 = MethodAPIKey, nil
		var recs []APIKeyRecord
		var issued []IssuedAPIKey
		for _, r := range p.Roles.Roles() {
			rec, key := s.newAPIKey(p.ID, r, time.Time{})
			recs = append(recs, rec)
			issued = append(issued, IssuedAPIKey{APIKey: apiKeyOf(rec), Key: key})
		}
		return recs, issued, nil
	case MethodCertificate:
		if cert == nil || len(cert.Raw) == 0 {
			return nil, nil, errWrap(ErrInvalidArgument, "the certificate method needs a parsed certificate")
		}
		sum := sha256.Sum256(cert.Raw)
		p.Method, p.CertSHA256 = MethodCertificate, sum[:]
		return nil, nil, nil
	}
	return nil, nil, errWrap(ErrInvalidArgument, "method must be apiKey or certificate")
}

// ResetApplicationSecret regenerates an application's (or client's)
// credentials: it revokes every API key it has, terminates all its sessions
// at once, and issues one new key per role, returned in plaintext this one
// time. The principal must use MethodAPIKey (else [ErrInvalidArgument]).
func (s *Service) ResetApplicationSecret(ctx context.Context, id string) ([]IssuedAPIKey, error) {
	const op = "reset application secret"
	p, err := s.store.GetPrincipal(ctx, id)
	if err != nil {
		return nil, storeErr(op, id, err)
	}
	if p.Kind == KindUser || p.Method != MethodAPIKey {
		return nil, opErr(op, id, errWrap(ErrInvalidArgument, "not an application using API keys"))
	}
	keys, issued, err := s.setMethod(&p, MethodAPIKey, nil)
	if err != nil {
		return nil, opErr(op, id, err)
	}
	if err := s.store.ResetCredentials(ctx, p, keys); err != nil {
		return nil, storeErr(op, id, err)
	}
	return issued, nil
}

// SwitchAuthMethod moves an application (or client) to method m. Every API
// key it has is revoked and every session terminated at once, whichever way
// it switches. Switching to MethodAPIKey issues one key per role and
// returns them; switching to MethodCertificate pins cert (which may also
// replace the pinned certificate of an application already using
// certificates). Errors wrap [ErrNotFound], [ErrInvalidArgument] or
// [ErrAlreadyExists] (certificate pinned elsewhere).
func (s *Service) SwitchAuthMethod(ctx context.Context, id string, m Method, cert *x509.Certificate) ([]IssuedAPIKey, error) {
	const op = "switch authentication method"
	p, err := s.store.GetPrincipal(ctx, id)
	if err != nil {
		return nil, storeErr(op, id, err)
	}
	if p.Kind == KindUser {
		return nil, opErr(op, id, errWrap(ErrInvalidArgument, "users log in with passwords"))
	}
	keys, issued, err := s.setMethod(&p, m, cert)
	if err != nil {
		return nil, opErr(op, id, err)
	}
	if err := s.store.ResetCredentials(ctx, p, keys); err != nil {
		return nil, storeErr(op, id, err)
	}
	return issued, nil
}

// GetAccount returns the principal with this ID ([ErrNotFound] if none).
func (s *Service) GetAccount(ctx context.Context, id string) (Account, error) {
	p, err := s.store.GetPrincipal(ctx, id)
	if err != nil {
		return Account{}, storeErr("get account", id, err)
	}
	return accountOf(p), nil
}

// ListAccounts returns every principal, oldest first.
func (s *Service) ListAccounts(ctx context.Context) ([]Account, error) {
	ps, err := s.store.ListPrincipals(ctx)
	if err != nil {
		return nil, storeErr("list accounts", "", err)
	}
	out := make([]Account, len(ps))
	for i, p := range ps {
		out[i] = accountOf(p)
	}
	return out, nil
}

// DeleteAccount deletes a principal with all its credentials, sessions,
// PIN, user secret and backup; its credentials stop working at once.
func (s *Service) DeleteAccount(ctx context.Context, id string) error {
	if err := s.store.DeletePrincipal(ctx, id); err != nil {
		return storeErr("delete account", id, err)
	}
	return nil
}

// isNotFound is errors.Is(err, ErrNotFound).
func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
