package refserver

import (
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"net/http"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/wire"
)

func accountJSON(a authn.Account) wire.Account {
	out := wire.Account{ID: a.ID, Kind: a.Kind.String(), Name: a.Name, Email: a.Email, Roles: roleNames(a.Roles),
		Method: a.Method.String(), PublicKeys: a.PublicKeys, CreatedAt: wire.Unix(a.CreatedAt), Groups: membershipsJSON(a.Groups)}
	if len(a.CertSHA256) > 0 {
		out.CertSHA256 = hex.EncodeToString(a.CertSHA256)
	}
	return out
}

func apiKeyJSON(k authn.APIKey) wire.APIKey {
	return wire.APIKey{ID: k.ID, Owner: k.PrincipalID, Role: k.Role.String(), CreatedAt: wire.Unix(k.CreatedAt), ExpiresAt: wire.Unix(k.ExpiresAt)}
}

func issuedKeysJSON(keys []authn.IssuedAPIKey) []wire.APIKey {
	out := []wire.APIKey{}
	for _, k := range keys {
		j := apiKeyJSON(k.APIKey)
		j.Key = k.Key.Reveal()
		out = append(out, j)
	}
	return out
}

func parseMethod(name string) (authn.Method, error) {
	switch name {
	case authn.MethodAPIKey.String():
		return authn.MethodAPIKey, nil
	case authn.MethodCertificate.String():
		return authn.MethodCertificate, nil
	}
	return 0, invalid("method must be apiKey or certificate")
}

func parseCertificate(pemText string) (*x509.Certificate, error) {
	if pemText == "" {
		return nil, nil
	}
	b, _ := pem.Decode([]byte(pemText))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, invalid("certificate must be a PEM CERTIFICATE block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, invalid("malformed certificate")
	}
	return c, nil
}

func (s *Server) createApp(rq *request) error {
	var req wire.CreateApplication
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	roles, err := parseRoleList(req.Roles)
	if err != nil {
		return err
	}
	if err := maxCount("groups", len(req.Groups), wire.MaxGroupIDs); err != nil {
		return err
	}
	m, err := parseMethod(req.Method)
	if err != nil {
		return err
	}
	cert, err := parseCertificate(req.Certificate)
	if err != nil {
		return err
	}
	acct, keys, err := s.opts.Auth.CreateApplication(rq.r.Context(), authn.ApplicationSpec{Name: req.Name, Roles: roles, Method: m,
		Certificate: cert, Groups: req.Groups})
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusCreated, wire.IssuedCredentials{Account: accountJSON(acct), APIKeys: issuedKeysJSON(keys)})
	return nil
}

func (s *Server) listKind(rq *request, kind authn.Kind) error {
	accts, err := s.opts.Auth.ListAccounts(rq.r.Context())
	if err != nil {
		return err
	}
	out := wire.AccountList{Accounts: []wire.Account{}}
	for _, a := range accts {
		if a.Kind == kind || kind == authn.KindApplication && a.Kind == authn.KindClient {
			out.Accounts = append(out.Accounts, accountJSON(a))
		}
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}

// listApps lists applications and registered clients, which share the
// application routes (they use API keys the same way).
func (s *Server) listApps(rq *request) error  { return s.listKind(rq, authn.KindApplication) }
func (s *Server) listUsers(rq *request) error { return s.listKind(rq, authn.KindUser) }

// account fetches the principal the path names and checks it is of the kind
// the route is about: a user ID under /users is 404 under /apps and back.
func (s *Server) account(rq *request) (authn.Account, error) {
	a, err := s.opts.Auth.GetAccount(rq.r.Context(), rq.r.PathValue("id"))
	if err != nil {
		return authn.Account{}, err
	}
	isUserRoute := len(rq.route.Path) >= len("/sys/v1/users") && rq.route.Path[:len("/sys/v1/users")] == "/sys/v1/users"
	if isUserRoute != (a.Kind == authn.KindUser) {
		return authn.Account{}, errNotFound
	}
	return a, nil
}

func (s *Server) getAccount(rq *request) error {
	a, err := s.account(rq)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, accountJSON(a))
	return nil
}

func (s *Server) deleteAccount(rq *request) error {
	a, err := s.account(rq)
	if err != nil {
		return err
	}
	if a.ID == rq.principal.ID {
		return invalid("a principal cannot delete itself")
	}
	if err := s.opts.Auth.DeleteAccount(rq.r.Context(), a.ID); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) resetSecret(rq *request) error {
	a, err := s.account(rq)
	if err != nil {
		return err
	}
	keys, err := s.opts.Auth.ResetApplicationSecret(rq.r.Context(), a.ID)
	if err != nil {
		return err
	}
	a, err = s.opts.Auth.GetAccount(rq.r.Context(), a.ID)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, wire.IssuedCredentials{Account: accountJSON(a), APIKeys: issuedKeysJSON(keys)})
	return nil
}

func (s *Server) switchMethod(rq *request) error {
	var req wire.SwitchMethod
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	a, err := s.account(rq)
	if err != nil {
		return err
	}
	m, err := parseMethod(req.Method)
	if err != nil {
		return err
	}
	cert, err := parseCertificate(req.Certificate)
	if err != nil {
		return err
	}
	keys, err := s.opts.Auth.SwitchAuthMethod(rq.r.Context(), a.ID, m, cert)
	if err != nil {
		return err
	}
	if a, err = s.opts.Auth.GetAccount(rq.r.Context(), a.ID); err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, wire.IssuedCredentials{Account: accountJSON(a), APIKeys: issuedKeysJSON(keys)})
	return nil
}

func (s *Server) createAPIKey(rq *request) error {
	var req wire.CreateAPIKey
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	role, err := authn.ParseRole(req.Role)
	if err != nil {
		return invalid("unknown role name")
	}
	validFor, err := seconds("valid_for_seconds", req.ValidForSeconds, 0, wire.MaxAPIKeyValidSeconds)
	if err != nil {
		return err
	}
	a, err := s.account(rq)
	if err != nil {
		return err
	}
	k, err := s.opts.Auth.CreateAPIKey(rq.r.Context(), a.ID, role, validFor)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusCreated, issuedKeysJSON([]authn.IssuedAPIKey{k})[0])
	return nil
}

func (s *Server) listAPIKeys(rq *request) error {
	a, err := s.account(rq)
	if err != nil {
		return err
	}
	keys, err := s.opts.Auth.ListAPIKeys(rq.r.Context(), a.ID)
	if err != nil {
		return err
	}
	out := wire.APIKeyList{APIKeys: []wire.APIKey{}}
	for _, k := range keys {
		out.APIKeys = append(out.APIKeys, apiKeyJSON(k))
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}

func (s *Server) revokeAPIKey(rq *request) error {
	if err := s.opts.Auth.RevokeAPIKey(rq.r.Context(), rq.r.PathValue("id")); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) rotateAPIKey(rq *request) error {
	var req wire.RotateAPIKey
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	overlap, err := seconds("overlap_seconds", req.OverlapSeconds, 0, wire.MaxRotationOverlapSeconds)
	if err != nil {
		return err
	}
	k, err := s.opts.Auth.RotateAPIKey(rq.r.Context(), rq.r.PathValue("id"), overlap)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, issuedKeysJSON([]authn.IssuedAPIKey{k})[0])
	return nil
}

func (s *Server) terminateSessions(rq *request) error {
	id := rq.r.PathValue("id")
	if _, err := s.opts.Auth.GetAccount(rq.r.Context(), id); err != nil {
		return err
	}
	n, err := s.opts.Auth.TerminateSessions(rq.r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, wire.Terminated{Sessions: n})
	return nil
}

func (s *Server) createUser(rq *request) error {
	var req wire.CreateUser
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	roles, err := parseRoleList(req.Roles)
	if err != nil {
		return err
	}
	if err := maxCount("groups", len(req.Groups), wire.MaxGroupIDs); err != nil {
		return err
	}
	a, err := s.opts.Auth.CreateUser(rq.r.Context(), req.Email, authn.NewSecret(req.Password), roles, req.Groups...)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusCreated, accountJSON(a))
	return nil
}

func (s *Server) setPassword(rq *request) error {
	var req wire.SetPassword
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	a, err := s.account(rq)
	if err != nil {
		return err
	}
	if err := s.opts.Auth.SetPassword(rq.r.Context(), a.ID, authn.NewSecret(req.Password)); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}

func registrationTokenJSON(t authn.RegistrationToken) wire.RegistrationToken {
	return wire.RegistrationToken{ID: t.ID, Roles: roleNames(t.Roles), UsesLeft: t.UsesLeft, CreatedBy: t.CreatedBy,
		CreatedAt: wire.Unix(t.CreatedAt), ExpiresAt: wire.Unix(t.ExpiresAt)}
}

func (s *Server) createRegistrationToken(rq *request) error {
	var req wire.CreateRegistrationToken
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	roles, err := parseRoleList(req.Roles)
	if err != nil {
		return err
	}
	if req.Uses < 1 || req.Uses > wire.MaxRegistrationUses {
		return invalid("uses must be 1 to %d", wire.MaxRegistrationUses)
	}
	validFor, err := seconds("valid_for_seconds", req.ValidForSeconds, 1, wire.MaxRegistrationValidSeconds)
	if err != nil {
		return err
	}
	t, err := s.opts.Auth.CreateRegistrationToken(rq.r.Context(), rq.principal, authn.RegistrationTokenSpec{Roles: roles, Uses: req.Uses, ValidFor: validFor})
	if err != nil {
		return err
	}
	out := registrationTokenJSON(t.RegistrationToken)
	out.Token = t.Token.Reveal()
	writeJSON(rq.w, http.StatusCreated, out)
	return nil
}

func (s *Server) listRegistrationTokens(rq *request) error {
	ts, err := s.opts.Auth.ListRegistrationTokens(rq.r.Context())
	if err != nil {
		return err
	}
	out := wire.RegistrationTokenList{Tokens: []wire.RegistrationToken{}}
	for _, t := range ts {
		out.Tokens = append(out.Tokens, registrationTokenJSON(t))
	}
	writeJSON(rq.w, http.StatusOK, out)
	return nil
}

func (s *Server) revokeRegistrationToken(rq *request) error {
	if err := s.opts.Auth.RevokeRegistrationToken(rq.r.Context(), rq.r.PathValue("id")); err != nil {
		return err
	}
	rq.w.WriteHeader(http.StatusNoContent)
	return nil
}
