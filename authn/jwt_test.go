package authn_test

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
)

const (
	testIssuer   = "https://idp.example.test"
	testAudience = "cryptoplug"
)

// idp is an identity provider whose signing key lives in cryptoplug's
// software backend, publishing its JWKS as a file.
type idp struct {
	kid  string
	key  crypto.Signer
	jwks string // path
}

func newIDP(t testing.TB) *idp {
	t.Helper()
	b, err := backend.Open(ctx, "software:")
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	k, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "idp"})
	require.NoError(t, err)
	s, err := k.Signer()
	require.NoError(t, err)
	i := &idp{kid: "idp-1", key: s, jwks: filepath.Join(t.TempDir(), "jwks.json")}
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: s.Public(), KeyID: i.kid, Use: "sig", Algorithm: "ES256"}}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(i.jwks, doc, 0o600))
	return i
}

// verifier trusts i as issuer "idp", at clock now, recording single-use
// token IDs in store.
func (i *idp) verifier(t testing.TB, now func() time.Time, store jwtauth.ReplayStore, mod func(*jwtauth.Issuer)) *jwtauth.Verifier {
	t.Helper()
	is := jwtauth.Issuer{Name: "idp", Issuer: testIssuer, JWKSFile: i.jwks, Audiences: []string{testAudience}, Algorithms: []string{jwtauth.ES256}}
	if mod != nil {
		mod(&is)
	}
	v, err := jwtauth.New(jwtauth.Config{Issuers: []jwtauth.Issuer{is}, RoleNames: authn.RoleNames(), Clock: now, ReplayStore: store})
	require.NoError(t, err)
	t.Cleanup(func() { v.Close() })
	return v
}

// token signs claims (valid for 10 minutes at now, for "alice" with roles)
// with changes applied; a nil value deletes a claim.
func (i *idp) token(t testing.TB, now time.Time, roles []string, changes map[string]any) authn.Secret {
	t.Helper()
	c := map[string]any{"iss": testIssuer, "aud": testAudience, "sub": "alice", "roles": roles,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: cryptosigner.Opaque(i.key)}, (&jose.SignerOptions{}).WithHeader("kid", i.kid))
	require.NoError(t, err)
	s, err := jwt.Signed(sig).Claims(c).Serialize()
	require.NoError(t, err)
	return authn.NewSecret(s)
}

// jwtEnv is a Service trusting one identity provider.
func jwtEnv(t testing.TB, mods ...func(*authn.Config)) (*env, *idp) {
	t.Helper()
	i := newIDP(t)
	// The verifier is made last, with whatever clock the mods chose.
	e := newEnv(t, append(mods, func(c *authn.Config) {
		c.JWT = i.verifier(t, c.Clock, c.Store, nil)
	})...)
	return e, i
}

func TestJWTAlone(t *testing.T) {
	e, i := jwtEnv(t)
	now := e.clock.Now()
	tok := i.token(t, now, []string{"keyOperation", "service", "notARole"}, nil)

	p, err := e.svc.AuthenticateRequest(request("Authorization", bearer(tok)))
	require.NoError(t, err)
	require.Equal(t, authn.KindExternal, p.Kind)
	require.Equal(t, authn.MethodJWT, p.Method)
	require.Equal(t, authn.NewRoleSet(authn.RoleKeyOperation, authn.RoleService), p.Roles)
	require.Equal(t, "idp:alice", p.Subject)
	require.Equal(t, "idp", p.CredentialID)
	require.Equal(t, []string{authn.DefaultGroupID}, p.Groups)
	require.True(t, strings.HasPrefix(p.ID, "ext_") && len(p.ID) == 36, p.ID)
	require.NoError(t, p.Require(authn.RoleKeyOperation))
	require.ErrorIs(t, p.Require(authn.RoleAdmin), authn.ErrForbidden)

	// Another token for the same subject is the same principal; another
	// subject is another.
	p2, err := e.svc.Authenticate(ctx, authn.Credentials{JWT: i.token(t, now, []string{"service"}, map[string]any{"jti": "x"})})
	require.NoError(t, err)
	require.Equal(t, p.ID, p2.ID)
	p3, err := e.svc.Authenticate(ctx, authn.Credentials{JWT: i.token(t, now, []string{"service"}, map[string]any{"sub": "bob"})})
	require.NoError(t, err)
	require.NotEqual(t, p.ID, p3.ID)

	// Sessions are not made from JWTs.
	_, err = e.svc.CreateSessionFromRequest(request("Authorization", bearer(tok)))
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
}

func TestJWTWithoutIssuersRefused(t *testing.T) {
	e := newEnv(t)
	i := newIDP(t)
	_, err := e.svc.AuthenticateRequest(request("Authorization", bearer(i.token(t, e.clock.Now(), []string{"admin"}, nil))))
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
}

// TestJWTRefusalsLogTheReason: a bad token gets the same 401 as any bad
// credential; the log says why, and holds neither the token nor anything
// the caller put in it.
func TestJWTRefusalsLogTheReason(t *testing.T) {
	var logs bytes.Buffer
	var mu sync.Mutex
	e, i := jwtEnv(t, noRateLimit, func(c *authn.Config) {
		c.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	})
	now := e.clock.Now()
	for _, tc := range []struct {
		tok  authn.Secret
		want string
	}{
		{i.token(t, now.Add(-time.Hour), []string{"admin"}, nil), "token expired"},
		{i.token(t, now, []string{"admin"}, map[string]any{"aud": "elsewhere"}), "wrong audience"},
		{i.token(t, now, []string{"root"}, nil), "no role claim"},
		{i.token(t, now, []string{"admin"}, map[string]any{"iss": "https://evil.example/MARKER"}), "wrong issuer"},
		{authn.NewSecret("eyJhbGciOiJub25lIn0.eyJzdWIiOiJNQVJLRVIifQ."), "algorithm not allowed"},
	} {
		_, err := e.svc.AuthenticateRequest(request("Authorization", bearer(tc.tok)))
		require.ErrorIs(t, err, authn.ErrUnauthenticated)
		require.NotContains(t, err.Error(), tc.want, "the error returned to the caller does not say why")
		mu.Lock()
		out := logs.String()
		mu.Unlock()
		require.Contains(t, out, tc.want)
		sig := tc.tok.Reveal()[strings.LastIndexByte(tc.tok.Reveal(), '.')+1:]
		if sig != "" {
			require.NotContains(t, out, sig)
		}
		require.NotContains(t, out, "MARKER")
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestAPIKeyAndJWTTogether: both must hold, and the request gets the roles
// both grant, acting as the key's principal.
func TestAPIKeyAndJWTTogether(t *testing.T) {
	e, i := jwtEnv(t, noRateLimit)
	now := e.clock.Now()
	app, keys := e.app(t, authn.RoleKeyOperation, authn.RoleService)
	opKey := keys[0].Key
	require.Equal(t, authn.RoleKeyOperation, keys[0].Role)

	p, err := e.svc.AuthenticateRequest(request("X-API-KEY", opKey.Reveal(), "Authorization", bearer(i.token(t, now, []string{"keyOperation", "admin"}, nil))))
	require.NoError(t, err)
	require.Equal(t, app.ID, p.ID)
	require.Equal(t, authn.MethodAPIKey, p.Method)
	require.Equal(t, authn.NewRoleSet(authn.RoleKeyOperation), p.Roles, "the key's role, which the token grants too; not the token's admin")
	require.Equal(t, "idp:alice", p.Subject)

	p, err = e.svc.AuthenticateRequest(request("X-API-KEY", opKey.Reveal(), "Authorization", bearer(i.token(t, now, []string{"service"}, nil))))
	require.NoError(t, err, "both credentials are valid")
	require.Zero(t, p.Roles, "but they grant no role together: every route answers 403")

	for name, r := range map[string][]string{
		"expired token":    {"X-API-KEY", opKey.Reveal(), "Authorization", bearer(i.token(t, now.Add(-time.Hour), []string{"keyOperation"}, nil))},
		"unknown key":      {"X-API-KEY", authn.NewToken(authn.TokenAPIKey).Reveal(), "Authorization", bearer(i.token(t, now, []string{"keyOperation"}, nil))},
		"forged signature": {"X-API-KEY", opKey.Reveal(), "Authorization", bearer(authn.NewSecret(forge(i.token(t, now, []string{"keyOperation"}, nil).Reveal())))},
	} {
		_, err := e.svc.AuthenticateRequest(request(r...))
		require.ErrorIs(t, err, authn.ErrUnauthenticated, name)
	}
	// A session token is not combined with an API key.
	_, sess := e.sessionFor(t)
	_, err = e.svc.AuthenticateRequest(request("X-API-KEY", opKey.Reveal(), "Authorization", bearer(sess)))
	require.ErrorIs(t, err, authn.ErrMalformedCredential)
}

// forge replaces a token's signature with another of the same length.
func forge(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	sig, _ := base64.RawURLEncoding.DecodeString(tok[i+1:])
	sig[0] ^= 1
	return tok[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

func (e *env) sessionFor(t *testing.T) (authn.Account, authn.Secret) {
	u := e.user(t, "u-"+randomHex(4)+"@example.com", authn.RoleKeyOperation)
	s, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: u.Email, BasicPassword: authn.NewSecret(password)})
	require.NoError(t, err)
	return u, s.Token
}

// TestCertificateBoundJWT: a token carrying RFC 8705's certificate
// thumbprint works only over that certificate.
func TestCertificateBoundJWT(t *testing.T) {
	e, i := jwtEnv(t, noRateLimit)
	cert, other := newCert(t), newCert(t)
	sum := sha256.Sum256(cert.Raw)
	tok := i.token(t, e.clock.Now(), []string{"keyOperation"}, map[string]any{"cnf": map[string]string{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}})

	_, err := e.svc.AuthenticateRequest(withCert(request("Authorization", bearer(tok)), cert))
	require.NoError(t, err)
	_, err = e.svc.AuthenticateRequest(withCert(request("Authorization", bearer(tok)), other))
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	_, err = e.svc.AuthenticateRequest(request("Authorization", bearer(tok)))
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	_, err = e.svc.AuthenticateRequest(withCert(request("Authorization", bearer(tok)), cert))
	require.NoError(t, err, "the thief's failures did not block the holder")
}

// TestBadJWTsThrottled: a token that keeps failing is refused unseen, and
// the address that keeps presenting bad ones gets 429; a valid token from
// that address is still served.
func TestBadJWTsThrottled(t *testing.T) {
	e, i := jwtEnv(t, func(c *authn.Config) { c.RateLimit = authn.RateLimitConfig{FreeFailures: 2} })
	now := e.clock.Now()
	expired := i.token(t, now.Add(-time.Hour), []string{"admin"}, nil)
	var rl *authn.RateLimitError
	for range 6 {
		_, err := e.svc.AuthenticateRequest(request("Authorization", bearer(expired)))
		if errors.As(err, &rl) {
			break
		}
		require.ErrorIs(t, err, authn.ErrUnauthenticated)
	}
	require.NotNil(t, rl, "repeated failures are throttled")
	_, err := e.svc.AuthenticateRequest(request("Authorization", bearer(i.token(t, now, []string{"admin"}, nil))))
	require.NoError(t, err, "a valid token from the same address is served")
}

// TestJWTGroups: a JWT principal acts in its issuer's configured groups
// (the default one unless configured), with its token's roles.
func TestJWTGroups(t *testing.T) {
	e, i := jwtEnv(t)
	g, err := e.svc.CreateGroup(ctx, "payments")
	require.NoError(t, err)
	inGroup, unassigned := "aa01", "aa02"
	require.NoError(t, e.svc.AssignKey(ctx, inGroup, g.ID))

	tok := i.token(t, e.clock.Now(), []string{"keyOperation", "keyManagement"}, nil)
	p, err := e.svc.Authenticate(ctx, authn.Credentials{JWT: tok})
	require.NoError(t, err)
	group, err := e.svc.AuthorizeKey(ctx, p, unassigned, authn.RoleKeyOperation)
	require.NoError(t, err)
	require.Equal(t, authn.DefaultGroupID, group)
	_, err = e.svc.AuthorizeKey(ctx, p, inGroup, authn.RoleKeyOperation)
	require.ErrorIs(t, err, authn.ErrNotFound, "another group's key is not there for it")
	_, err = e.svc.AuthorizeKey(ctx, p, unassigned, authn.RoleAdmin)
	require.ErrorIs(t, err, authn.ErrForbidden)
	require.NoError(t, e.svc.AuthorizeGroup(ctx, p, authn.DefaultGroupID, authn.RoleKeyManagement))
	require.ErrorIs(t, e.svc.AuthorizeGroup(ctx, p, g.ID, authn.RoleKeyManagement), authn.ErrNotFound)
	ms, err := e.svc.MembershipsOf(ctx, p)
	require.NoError(t, err)
	require.Equal(t, []authn.Membership{{PrincipalID: p.ID, GroupID: authn.DefaultGroupID, Roles: p.Roles}}, ms)

	// Configured into the group instead.
	e2 := newEnvOn(t, e.store, e.path, func(c *authn.Config) {
		c.Clock = e.clock.Now
		c.JWT = i.verifier(t, c.Clock, c.Store, nil)
		c.JWTGroups = map[string][]string{"idp": {g.ID}}
	})
	p, err = e2.svc.Authenticate(ctx, authn.Credentials{JWT: tok})
	require.NoError(t, err)
	group, err = e2.svc.AuthorizeKey(ctx, p, inGroup, authn.RoleKeyOperation)
	require.NoError(t, err)
	require.Equal(t, g.ID, group)
	_, err = e2.svc.AuthorizeKey(ctx, p, unassigned, authn.RoleKeyOperation)
	require.ErrorIs(t, err, authn.ErrNotFound)

	_, err = authn.NewService(authn.Config{Store: e.store, Peppers: e.peppers, JWTGroups: map[string][]string{"idp": {"payments"}}})
	require.ErrorIs(t, err, authn.ErrInvalidArgument, "group IDs, not names")
}

// TestSingleUseJWTAcrossServers: two services over one database (as two
// server instances) accept a single-use token once between them, on SQLite
// and on PostgreSQL.
func TestSingleUseJWTAcrossServers(t *testing.T) {
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			var open func() authn.Store
			if db == "sqlite" {
				path := filepath.Join(t.TempDir(), "shared.db")
				open = func() authn.Store {
					st, err := sqlstore.OpenSQLite(ctx, path)
					require.NoError(t, err)
					t.Cleanup(func() { st.Close() })
					return st
				}
			} else {
				dsn := pgtest.Shared(t).NewSchema(t)
				open = func() authn.Store {
					st, err := sqlstore.OpenPostgres(ctx, dsn)
					require.NoError(t, err)
					t.Cleanup(func() { st.Close() })
					return st
				}
			}
			i := newIDP(t)
			c := &clock{t: time.Now()}
			var svcs []*authn.Service
			for range 2 {
				st := open()
				e := newEnvOn(t, st, "", noRateLimit, func(cfg *authn.Config) {
					cfg.Clock = c.Now
					cfg.JWT = i.verifier(t, c.Now, st, func(is *jwtauth.Issuer) { is.RequireTokenID = true })
				})
				svcs = append(svcs, e.svc)
			}
			tok := i.token(t, c.Now(), []string{"keyOperation"}, map[string]any{"jti": "once-" + randomHex(4)})
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for n := range errs {
				wg.Go(func() { _, errs[n] = svcs[n%2].Authenticate(ctx, authn.Credentials{JWT: tok}) })
			}
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else {
					require.ErrorIs(t, err, authn.ErrUnauthenticated)
				}
			}
			require.Equal(t, 1, ok)
			_, err := svcs[0].Authenticate(ctx, authn.Credentials{JWT: i.token(t, c.Now(), []string{"keyOperation"}, nil)})
			require.ErrorIs(t, err, authn.ErrUnauthenticated, "no jti, no entry")
		})
	}
}

func TestJWTShapedValuesAreCredentials(t *testing.T) {
	jwtLike := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlc2lnbmF0dXJl"
	for _, s := range []string{jwtLike, "label " + jwtLike + " end", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJh"} {
		require.True(t, authn.ContainsToken(s), s)
	}
	for _, s := range []string{"eyJ", "eyJhbGciOiJFUzI1NiJ9", "eyJhbGciOiJFUzI1NiJ9.e30", "not.a.jwt", "eyJhbGci.eyJzdWIiOiJh"} {
		require.False(t, authn.ContainsToken(s), s)
	}
	require.Equal(t, "label [REDACTED] end", authn.RedactTokens("label "+jwtLike+" end"))

	e := newEnv(t)
	for _, target := range []string{"/v1/key?q=" + jwtLike, "/v1/key/" + jwtLike, "/v1/key?access_token=x"} {
		r := request()
		r.URL.Path, r.URL.RawQuery, _ = strings.Cut(target, "?")
		_, err := e.svc.Credentials(r)
		require.ErrorIs(t, err, authn.ErrCredentialInURL, target)
	}
	for _, v := range []string{"Bearer a.b", "Bearer a..c", "Bearer .b.c", "Bearer a.b.c.d", "Bearer a.b!.c"} {
		_, err := e.svc.Credentials(request("Authorization", v))
		require.ErrorIs(t, err, authn.ErrMalformedCredential, v)
	}
	c, err := e.svc.Credentials(request("Authorization", "Bearer "+jwtLike, "X-API-KEY", authn.NewToken(authn.TokenAPIKey).Reveal()))
	require.NoError(t, err)
	require.False(t, c.JWT.IsZero())
	require.False(t, c.APIKey.IsZero())
}
