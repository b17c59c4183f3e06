package authn

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"log/slog"
	"net/netip"
	"strings"
	"time"
)

// Session describes a stored session; it never holds the token.
type Session struct {
	ID            string
	PrincipalID   string
	PrincipalKind Kind
	Roles         RoleSet
	Method        Method // how the session was created
	CertSHA256    []byte // the certificate the session is bound to, or nil
	CreatedAt     time.Time
	LastUsedAt    time.Time // may lag by up to Config.SessionTouchInterval
	ExpiresAt     time.Time // absolute expiry
	APIKeyID      string    // the API key the session was made from, or ""
}

// IssuedSession is a new session with its bearer token. The token is not
// stored and cannot be shown again.
type IssuedSession struct {
	Session
	Token Secret
	// IdleTimeout is how long the session survives without use.
	IdleTimeout time.Duration
}

func sessionOf(r SessionRecord) Session {
	return Session{ID: r.ID, PrincipalID: r.PrincipalID, PrincipalKind: r.PrincipalKind, Roles: r.Roles, Method: r.Method,
		CertSHA256: r.CertSHA256, CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, ExpiresAt: r.ExpiresAt, APIKeyID: r.APIKeyID}
}

// Credentials are what a request presents. [Service.Credentials] fills them
// from HTTP headers and the TLS state; callers with another transport fill
// them themselves. At most one of APIKey, Bearer, UserSecret, JWT and
// BasicUser/BasicPassword is set, except that APIKey and JWT may come
// together (see [Service.Authenticate]).
type Credentials struct {
	APIKey     Secret // X-API-KEY header
	Bearer     Secret // Authorization: Bearer <session token>
	UserSecret Secret // Authorization: <user secret>
	// JWT is Authorization: Bearer <JWT>, a token from an issuer
	// Config.JWT trusts.
	JWT Secret
	// BasicUser and BasicPassword come from Authorization: Basic, accepted
	// only to create a session: a user's e-mail and password, or an
	// application or client ID and one of its API keys.
	BasicUser     string
	BasicPassword Secret
	// Certificate is the verified TLS client certificate, if any: the
	// credential for certificate sessions, and the binding checked for
	// sessions created with one.
	Certificate *x509.Certificate
	// RemoteAddr is the client address failures are counted against.
	RemoteAddr netip.Addr
}

// CreateSession logs in with HTTP Basic credentials or, when there are none,
// with the client certificate, and returns a new session:
//   - user e-mail and password: the session holds the user's roles;
//   - application/client ID and API key: the session holds the key's role,
//     never outlives the key, and ends when the key is revoked or rotated
//     away;
//   - a certificate pinned by an application using MethodCertificate: the
//     session holds the application's roles and is bound to the
//     certificate's SHA-256, so its token is refused on any connection that
//     does not present the same certificate.
//
// A client certificate, whatever it comes with, is first checked by
// Config.CertificateStatus: a revoked one creates no session, and since a
// certificate-bound session needs its certificate on every request, those
// made earlier end when it is revoked.
//
// Every failure returns an error wrapping [ErrUnauthenticated], the same for
// unknown principals and wrong secrets, or a [*RateLimitError] after
// repeated failures. Neither the error nor the log names what the caller
// typed as a user name unless it is the ID of one of its principals.
func (s *Service) CreateSession(ctx context.Context, c Credentials) (IssuedSession, error) {
	if err := s.checkCertificate(ctx, "create session", c); err != nil {
		return IssuedSession{}, err
	}
	switch {
	case c.BasicUser != "" || !c.BasicPassword.IsZero():
		if strings.Contains(c.BasicUser, "@") {
			return s.loginPassword(ctx, c)
		}
		return s.loginAPIKey(ctx, c)
	case c.APIKey.IsZero() && c.Bearer.IsZero() && c.UserSecret.IsZero() && c.JWT.IsZero() && c.Certificate != nil:
		return s.loginCertificate(ctx, c)
	}
	return IssuedSession{}, s.refuseToken(ctx, "create session", "", c.RemoteAddr, nil, "no Basic credentials or client certificate")
}

// loginPassword checks a password. Both limits are checked first: a
// password can be guessed. The e-mail typed is the account's limiter key,
// and is logged or named in errors never: it may be anything, a password
// typed in the wrong field included.
func (s *Service) loginPassword(ctx context.Context, c Credentials) (IssuedSession, error) {
	const op = "create session"
	email, ok := normalizeEmail(c.BasicUser)
	account := ""
	if ok {
		account = emailKey(email)
	}
	if err := s.guessThrottle(ctx, op, account, c.RemoteAddr); err != nil {
		return IssuedSession{}, err
	}
	if !ok || c.BasicPassword.Len() > MaxPasswordLen {
		return IssuedSession{}, s.refuseGuess(ctx, op, "", account, c.RemoteAddr, "malformed e-mail or password")
	}
	p, err := s.store.GetUserByEmail(ctx, email)
	if err != nil {
		if !isNotFound(err) {
			return IssuedSession{}, storeErr(op, "", err)
		}
		s.hasher.burn(ctx, c.BasicPassword)
		return IssuedSession{}, s.refuseGuess(ctx, op, "", account, c.RemoteAddr, "unknown user")
	}
	ok, err = s.hasher.verify(ctx, p.PasswordHash, c.BasicPassword)
	if err != nil {
		return IssuedSession{}, opErr(op, p.ID, err)
	}
	if !ok {
		// The log names the account, which exists; the error stays the one
		// an unknown user gets.
		s.refuseGuess(ctx, op, p.ID, account, c.RemoteAddr, "wrong password")
		return IssuedSession{}, opErr(op, "", ErrUnauthenticated)
	}
	s.succeeded(ctx, account)
	return s.startSession(ctx, op, sessionSource{principal: p.ID, kind: p.Kind, roles: p.Roles, method: MethodPassword, epoch: p.Epoch})
}

// loginAPIKey checks an application's or client's ID and one of its API
// keys. A key cannot be guessed, so nothing is checked before it is; only a
// key that keeps failing is refused unseen (see limits).
func (s *Service) loginAPIKey(ctx context.Context, c Credentials) (IssuedSession, error) {
	const op = "create session"
	id := c.BasicUser
	if !isID(id, applicationIDPrefix, clientIDPrefix) {
		return IssuedSession{}, s.refuseToken(ctx, op, "", c.RemoteAddr, nil, "malformed principal ID")
	}
	key := c.BasicPassword
	if !wellFormed(TokenAPIKey, key.v) {
		return IssuedSession{}, s.refuseToken(ctx, op, id, c.RemoteAddr, nil, "malformed API key")
	}
	if err := s.tokenThrottle(op, key); err != nil {
		return IssuedSession{}, err
	}
	rec, found, err := findHashed(ctx, s, key, s.store.GetAPIKeyByHash)
	switch {
	case isNotFound(err):
		return IssuedSession{}, s.refuseToken(ctx, op, id, c.RemoteAddr, &key, "unknown API key")
	case err != nil:
		return IssuedSession{}, storeErr(op, id, err)
	case rec.PrincipalID != id:
		return IssuedSession{}, s.refuseToken(ctx, op, id, c.RemoteAddr, nil, "API key of another principal")
	case expired(rec.ExpiresAt, s.now()):
		return IssuedSession{}, s.refuseToken(ctx, op, id, c.RemoteAddr, &key, "API key expired")
	case rec.PrincipalMethod != MethodAPIKey:
		return IssuedSession{}, s.refuseToken(ctx, op, id, c.RemoteAddr, &key, "principal does not use API keys")
	}
	s.rehash(ctx, TokenAPIKey, rec.ID, found, key)
	return s.startSession(ctx, op, sessionSource{principal: rec.PrincipalID, kind: rec.PrincipalKind,
		roles: NewRoleSet(rec.Role) & rec.PrincipalRoles, method: MethodAPIKey, epoch: rec.PrincipalEpoch,
		apiKeyID: rec.ID, keyExpiresAt: rec.ExpiresAt})
}

// loginCertificate trusts the certificate the TLS handshake verified; only
// its pin is looked up.
func (s *Service) loginCertificate(ctx context.Context, c Credentials) (IssuedSession, error) {
	const op = "create session"
	sum := sha256.Sum256(c.Certificate.Raw)
	p, err := s.store.GetPrincipalByCertificate(ctx, sum[:])
	switch {
	case isNotFound(err):
		return IssuedSession{}, s.refuseToken(ctx, op, "", c.RemoteAddr, nil, "certificate not pinned by any principal")
	case err != nil:
		return IssuedSession{}, storeErr(op, "", err)
	case p.Method != MethodCertificate:
		return IssuedSession{}, s.refuseToken(ctx, op, p.ID, c.RemoteAddr, nil, "principal does not use certificates")
	}
	return s.startSession(ctx, op, sessionSource{principal: p.ID, kind: p.Kind, roles: p.Roles, method: MethodCertificate,
		cert: sum[:], epoch: p.Epoch})
}

// sessionSource is what a new session inherits from the credential that
// created it.
type sessionSource struct {
	principal    string
	kind         Kind
	roles        RoleSet
	method       Method
	cert         []byte    // certificate binding, or nil
	epoch        int64     // the principal's credential epoch
	apiKeyID     string    // the API key it was made from, or ""
	keyExpiresAt time.Time // that key's expiry (zero: never)
}

func (s *Service) newSession(src sessionSource, expiresAt time.Time) (SessionRecord, Secret) {
	token := NewToken(TokenSession)
	h, v := s.peppers.hashCurrent(token)
	now := s.now()
	if expiresAt.IsZero() {
		expiresAt = now.Add(s.lifetime)
		if !src.keyExpiresAt.IsZero() && src.keyExpiresAt.Before(expiresAt) {
			expiresAt = src.keyExpiresAt // never outlive the key
		}
	}
	return SessionRecord{ID: newID(sessionIDPrefix), Hash: h, PepperVersion: v, PrincipalID: src.principal, PrincipalKind: src.kind,
		Roles: src.roles, Method: src.method, CertSHA256: src.cert, CreatedAt: now, LastUsedAt: now, ExpiresAt: expiresAt,
		Epoch: src.epoch, APIKeyID: src.apiKeyID}, token
}

func (s *Service) startSession(ctx context.Context, op string, src sessionSource) (IssuedSession, error) {
	rec, token := s.newSession(src, time.Time{})
	if err := s.store.CreateSession(ctx, rec); err != nil {
		if isNotFound(err) {
			// The credential was reset or revoked, or the principal
			// deleted, meanwhile.
			return IssuedSession{}, opErr(op, src.principal, ErrUnauthenticated)
		}
		return IssuedSession{}, storeErr(op, src.principal, err)
	}
	return IssuedSession{Session: sessionOf(rec), Token: token, IdleTimeout: s.idle}, nil
}

// checkSession finds a live session for a bearer token and checks its
// certificate binding and, for a session made from an API key, that the
// key has not expired (a revoked key took its sessions with it). It is the
// hot path of every session request: one HMAC, one indexed lookup, and a
// write only every SessionTouchInterval.
func (s *Service) checkSession(ctx context.Context, op string, token Secret, cert *x509.Certificate, addr netip.Addr) (SessionRecord, error) {
	if !wellFormed(TokenSession, token.v) {
		return SessionRecord{}, s.refuseToken(ctx, op, "", addr, nil, "malformed session token")
	}
	if err := s.tokenThrottle(op, token); err != nil {
		return SessionRecord{}, err
	}
	rec, found, err := findHashed(ctx, s, token, s.store.GetSessionByHash)
	if err != nil {
		if isNotFound(err) {
			return SessionRecord{}, s.refuseToken(ctx, op, "", addr, &token, "unknown session")
		}
		return SessionRecord{}, storeErr(op, "", err)
	}
	now := s.now()
	if !now.Before(rec.ExpiresAt) {
		return SessionRecord{}, s.refuseToken(ctx, op, rec.ID, addr, &token, "session past absolute expiry")
	}
	if !now.Before(rec.LastUsedAt.Add(s.idle)) {
		return SessionRecord{}, s.refuseToken(ctx, op, rec.ID, addr, &token, "session idle too long")
	}
	if rec.APIKeyID != "" && expired(rec.APIKeyExpiresAt, now) {
		return SessionRecord{}, s.refuseToken(ctx, op, rec.ID, addr, &token, "the API key the session was made from expired")
	}
	if rec.CertSHA256 != nil {
		if cert == nil {
			return SessionRecord{}, s.refuseToken(ctx, op, rec.ID, addr, nil, "certificate-bound session without certificate")
		}
		sum := sha256.Sum256(cert.Raw)
		if subtle.ConstantTimeCompare(sum[:], rec.CertSHA256) != 1 {
			return SessionRecord{}, s.refuseToken(ctx, op, rec.ID, addr, nil, "certificate-bound session with another certificate")
		}
	}
	if now.Sub(rec.LastUsedAt) >= s.touch {
		if err := s.store.TouchSession(ctx, rec.ID, now); err != nil && !isNotFound(err) {
			s.log.LogAttrs(ctx, slog.LevelWarn, "authn: touching session failed", slog.String("id", rec.ID), slog.Any("error", err))
		}
	}
	s.rehash(ctx, TokenSession, rec.ID, found, token)
	return rec, nil
}

func (s *Service) authenticateSession(ctx context.Context, c Credentials) (Principal, error) {
	rec, err := s.checkSession(ctx, "authenticate session", c.Bearer, c.Certificate, c.RemoteAddr)
	if err != nil {
		return Principal{}, err
	}
	return Principal{ID: rec.PrincipalID, Kind: rec.PrincipalKind, Roles: rec.Roles, Method: MethodSession,
		SessionMethod: rec.Method, CredentialID: rec.ID}, nil
}

// Reauth exchanges a live session (c.Bearer, with the certificate it is
// bound to, if any) for a new one: the old token stops working at once and
// the new one starts a fresh idle period. The absolute expiry is kept, so
// that re-authenticating cannot keep a session alive forever without the
// primary credential. Of concurrent Reauth calls with one token, one
// succeeds. Failures wrap [ErrUnauthenticated] or [ErrRateLimited].
func (s *Service) Reauth(ctx context.Context, c Credentials) (IssuedSession, error) {
	const op = "reauthenticate session"
	if c.Bearer.IsZero() {
		return IssuedSession{}, s.refuseToken(ctx, op, "", c.RemoteAddr, nil, "no bearer token")
	}
	if err := s.checkCertificate(ctx, op, c); err != nil {
		return IssuedSession{}, err
	}
	old, err := s.checkSession(ctx, op, c.Bearer, c.Certificate, c.RemoteAddr)
	if err != nil {
		return IssuedSession{}, err
	}
	rec, token := s.newSession(sessionSource{principal: old.PrincipalID, kind: old.PrincipalKind, roles: old.Roles, method: old.Method,
		cert: old.CertSHA256, epoch: old.Epoch, apiKeyID: old.APIKeyID}, old.ExpiresAt)
	if err := s.store.ReplaceSession(ctx, old.ID, rec); err != nil {
		if isNotFound(err) {
			return IssuedSession{}, s.refuseToken(ctx, op, old.ID, c.RemoteAddr, nil, "session or its credential ended concurrently")
		}
		return IssuedSession{}, storeErr(op, old.ID, err)
	}
	return IssuedSession{Session: sessionOf(rec), Token: token, IdleTimeout: s.idle}, nil
}

// TerminateSession ends a session at once; use the Principal.CredentialID
// of a session-authenticated request to end the caller's own session.
// Errors wrap [ErrNotFound].
func (s *Service) TerminateSession(ctx context.Context, sessionID string) error {
	if !isID(sessionID, sessionIDPrefix) {
		return opErr("terminate session", "", ErrNotFound)
	}
	if err := s.store.DeleteSession(ctx, sessionID); err != nil {
		return storeErr("terminate session", sessionID, err)
	}
	return nil
}

// TerminateSessions ends every session of a principal and returns how many
// there were.
func (s *Service) TerminateSessions(ctx context.Context, principalID string) (int, error) {
	if !isPrincipalID(principalID) {
		return 0, opErr("terminate sessions", "", ErrNotFound)
	}
	n, err := s.store.DeleteSessions(ctx, principalID)
	if err != nil {
		return n, storeErr("terminate sessions", principalID, err)
	}
	return n, nil
}

// ListSessions returns a principal's sessions, oldest first, including
// expired ones not yet purged.
func (s *Service) ListSessions(ctx context.Context, principalID string) ([]Session, error) {
	if !isPrincipalID(principalID) {
		return nil, opErr("list sessions", "", ErrNotFound)
	}
	recs, err := s.store.ListSessions(ctx, principalID)
	if err != nil {
		return nil, storeErr("list sessions", principalID, err)
	}
	out := make([]Session, len(recs))
	for i, r := range recs {
		out[i] = sessionOf(r)
	}
	return out, nil
}
