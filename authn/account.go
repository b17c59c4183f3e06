package authn

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cryptoplug/cryptoplug/internal/safetext"
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
	// Groups are the principal's memberships, by group ID (see
	// [Service.SetGroupMember]).
	Groups []Membership
}

func accountOf(p PrincipalRecord) Account {
	a := Account{ID: p.ID, Kind: p.Kind, Name: p.Name, Email: p.Email, Roles: p.Roles, Method: p.Method,
		CertSHA256: p.CertSHA256, PublicKeys: p.PublicKeys, CreatedAt: p.CreatedAt}
	for _, g := range p.Groups {
		a.Groups = append(a.Groups, Membership{PrincipalID: p.ID, GroupID: g, Roles: p.Roles})
	}
	return a
}

const maxNameLen = 256

// validName accepts a display name: 1 to 256 bytes of text a person reads
// as what it is (no control, bidirectional or invisible characters; see
// package safetext).
func validName(s string) bool {
	return s != "" && len(s) <= maxNameLen && safetext.Problem(s) == ""
}

// normalizeEmail lower-cases an e-mail and checks its shape: one '@' with
// something on both sides, no spaces, no control, bidirectional or
// invisible characters, at most 254 bytes, and no ':' (HTTP Basic, the
// only way a user logs in, ends the user name at the first colon: such an
// address could never log in).
func normalizeEmail(s string) (string, bool) {
	if len(s) > 254 || safetext.Problem(s) != "" {
		return "", false
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || strings.ContainsAny(s, ": ") {
		return "", false
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
// roles, at least one. The e-mail is compared case-insensitively and must
// be unique (ErrAlreadyExists). The password is hashed with argon2id. The
// user joins each of groups (IDs) holding all of roles; with none, the
// default group ([DefaultGroupID]). Errors wrap [ErrInvalidArgument] for a
// malformed e-mail (one with a ':' included: it could never log in), an
// empty or invalid role set, an unknown group, or a password outside
// [MinPasswordLen]..[MaxPasswordLen]. Errors never quote the e-mail.
func (s *Service) CreateUser(ctx context.Context, email string, password Secret, roles RoleSet, groups ...string) (Account, error) {
	const op = "create user"
	norm, ok := normalizeEmail(email)
	if !ok {
		return Account{}, opErr(op, "", errWrap(ErrInvalidArgument, "malformed e-mail"))
	}
	if roles.Len() == 0 || !roles.Valid() {
		return Account{}, opErr(op, "", errWrap(ErrInvalidArgument, "roles empty or undefined"))
	}
	if err := checkPassword(password); err != nil {
		return Account{}, opErr(op, "", err)
	}
	joins, err := joinGroups(groups)
	if err != nil {
		return Account{}, opErr(op, "", err)
	}
	hash, err := s.hasher.hash(ctx, password)
	if err != nil {
		return Account{}, opErr(op, "", err)
	}
	p := PrincipalRecord{ID: newID(userIDPrefix), Kind: KindUser, Name: norm, Email: norm, Roles: roles,
		PasswordHash: hash, Method: MethodPassword, CreatedAt: s.now(), Groups: joins}
	if err := s.store.CreatePrincipal(ctx, p, nil); err != nil {
		return Account{}, createErr(op, p.ID, err)
	}
	return accountOf(p), nil
}

// joinGroups checks the groups a new principal joins; none means the
// default group.
func joinGroups(groups []string) ([]string, error) {
	if len(groups) == 0 {
		return []string{DefaultGroupID}, nil
	}
	if len(groups) > MaxGroupsPerPrincipal {
		return nil, errWrap(ErrInvalidArgument, "too many groups")
	}
	seen := map[string]bool{}
	for _, g := range groups {
		if !isID(g, groupIDPrefix) || seen[g] {
			return nil, errWrap(ErrInvalidArgument, "group IDs malformed or repeated")
		}
		seen[g] = true
	}
	return groups, nil
}

// createErr maps a store failure to create a principal: a group that does
// not exist is the caller's mistake.
func createErr(op, id string, err error) error {
	if isNotFound(err) {
		return opErr(op, "", errWrap(ErrInvalidArgument, "no such group"))
	}
	return storeErr(op, id, err)
}

// SetPassword replaces a user's password. A reset is what an administrator
// does when an account may be compromised, so it also ends every one of
// the user's sessions and revokes the user's secret and any pending PIN:
// everything a holder of the old password could have obtained with it. The
// user gets a new secret through a new PIN. Errors wrap [ErrNotFound] or
// [ErrInvalidArgument].
func (s *Service) SetPassword(ctx context.Context, userID string, password Secret) error {
	const op = "set password"
	if !isID(userID, userIDPrefix) {
		return opErr(op, "", ErrNotFound)
	}
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
	// Groups are the groups (IDs) the application joins, holding all of
	// Roles in each; none means the default group ([DefaultGroupID]).
	Groups []string
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
		return Account{}, nil, opErr(op, "", errWrap(ErrInvalidArgument, "roles empty or undefined"))
	}
	joins, err := joinGroups(spec.Groups)
	if err != nil {
		return Account{}, nil, opErr(op, "", err)
	}
	p := PrincipalRecord{ID: newID(applicationIDPrefix), Kind: KindApplication, Name: spec.Name, Roles: spec.Roles, CreatedAt: s.now(), Groups: joins}
	keys, issued, err := s.setMethod(&p, spec.Method, spec.Certificate)
	if err != nil {
		return Account{}, nil, opErr(op, p.ID, err)
	}
	if err := s.store.CreatePrincipal(ctx, p, keys); err != nil {
		return Account{}, nil, createErr(op, p.ID, err)
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
	if !isPrincipalID(id) {
		return nil, opErr(op, "", ErrNotFound)
	}
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
	if !isPrincipalID(id) {
		return nil, opErr(op, "", ErrNotFound)
	}
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

// GetAccount returns the principal with this ID and its group
// memberships ([ErrNotFound] if none).
func (s *Service) GetAccount(ctx context.Context, id string) (Account, error) {
	const op = "get account"
	if !isPrincipalID(id) {
		return Account{}, opErr(op, "", ErrNotFound)
	}
	p, err := s.store.GetPrincipal(ctx, id)
	if err != nil {
		return Account{}, storeErr(op, id, err)
	}
	a := accountOf(p)
	if a.Groups, err = s.memberships(ctx, id); err != nil {
		return Account{}, opErr(op, id, err)
	}
	return a, nil
}

// ListAccounts returns every principal with its group memberships, oldest
// first.
func (s *Service) ListAccounts(ctx context.Context) ([]Account, error) {
	const op = "list accounts"
	ps, err := s.store.ListPrincipals(ctx)
	if err != nil {
		return nil, storeErr(op, "", err)
	}
	out := make([]Account, len(ps))
	for i, p := range ps {
		out[i] = accountOf(p)
		if out[i].Groups, err = s.memberships(ctx, p.ID); err != nil {
			return nil, opErr(op, p.ID, err)
		}
	}
	return out, nil
}

// DeleteAccount deletes a principal with all its credentials, sessions,
// PIN, user secret, backup and group memberships; its credentials stop
// working at once.
func (s *Service) DeleteAccount(ctx context.Context, id string) error {
	if !isPrincipalID(id) {
		return opErr("delete account", "", ErrNotFound)
	}
	if err := s.store.DeletePrincipal(ctx, id); err != nil {
		return storeErr("delete account", id, err)
	}
	return nil
}

// isNotFound is errors.Is(err, ErrNotFound).
func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
