package authn_test

import (
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

func TestPasswordSession(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "Alice@Example.com", authn.RoleKeyManagement, authn.RoleApprover)
	require.Equal(t, "alice@example.com", u.Email, "e-mails are compared in lower case")

	s, err := e.svc.CreateSessionFromRequest(request("Authorization", basic("ALICE@example.com", password)))
	require.NoError(t, err)
	require.NoError(t, authn.ParseToken(authn.TokenSession, s.Token.Reveal()))
	require.Equal(t, authn.MethodPassword, s.Method)
	require.True(t, s.ExpiresAt.Equal(e.clock.Now().Add(8*time.Hour)), "default absolute lifetime")
	require.Equal(t, 15*time.Minute, s.IdleTimeout, "default idle timeout")

	p, err := e.svc.AuthenticateRequest(request("Authorization", bearer(s.Token)))
	require.NoError(t, err)
	require.Equal(t, u.ID, p.ID)
	require.Equal(t, authn.MethodSession, p.Method)
	require.Equal(t, authn.MethodPassword, p.SessionMethod)
	require.Equal(t, s.ID, p.CredentialID)
	require.Equal(t, authn.NewRoleSet(authn.RoleKeyManagement, authn.RoleApprover), p.Roles)

	lower, err := e.svc.AuthenticateRequest(request("Authorization", "bearer "+s.Token.Reveal()))
	require.NoError(t, err, "the scheme is case-insensitive")
	require.Equal(t, p, lower)
}

// TestLoginFailuresLookAlike: unknown users, wrong passwords and malformed
// input all produce the same error.
func TestLoginFailuresLookAlike(t *testing.T) {
	e := newEnv(t, noRateLimit)
	e.user(t, "bob@example.com", authn.RoleService)
	_, keys := e.app(t, authn.RoleService)

	unknown := authn.Credentials{BasicUser: "nobody@example.com", BasicPassword: authn.NewSecret(password)}
	wrong := authn.Credentials{BasicUser: "bob@example.com", BasicPassword: authn.NewSecret("wrong password!")}
	_, errUnknown := e.svc.CreateSession(ctx, unknown)
	_, errWrong := e.svc.CreateSession(ctx, wrong)
	require.ErrorIs(t, errUnknown, authn.ErrUnauthenticated)
	require.ErrorIs(t, errWrong, authn.ErrUnauthenticated)
	require.Equal(t, strings.Replace(errUnknown.Error(), "nobody", "bob", 1), errWrong.Error())

	for name, c := range map[string]authn.Credentials{
		"malformed e-mail":             {BasicUser: "bob@", BasicPassword: authn.NewSecret(password)},
		"app ID with a password":       {BasicUser: "app_missing", BasicPassword: authn.NewSecret(password)},
		"API key of another principal": {BasicUser: "app_other", BasicPassword: keys[0].Key},
		"nothing":                      {},
		"a session token is not a key": {BasicUser: keys[0].PrincipalID, BasicPassword: authn.NewToken(authn.TokenSession)},
		"over-long password":           {BasicUser: "bob@example.com", BasicPassword: authn.NewSecret(strings.Repeat("x", 2000))},
		"ID with control characters":   {BasicUser: "app_\x01", BasicPassword: keys[0].Key},
	} {
		_, err := e.svc.CreateSession(ctx, c)
		require.ErrorIs(t, err, authn.ErrUnauthenticated, name)
		require.NotContains(t, err.Error(), password, name)
		require.NotContains(t, err.Error(), keys[0].Key.Reveal(), name)
	}
}

func TestAPIKeySession(t *testing.T) {
	e := newEnv(t)
	app, keys := e.app(t, authn.RoleKeyOperation, authn.RoleService)
	s, err := e.svc.CreateSessionFromRequest(request("Authorization", basic(app.ID, keys[1].Key.Reveal())))
	require.NoError(t, err)
	p, err := e.svc.AuthenticateRequest(request("Authorization", bearer(s.Token)))
	require.NoError(t, err)
	require.Equal(t, app.ID, p.ID)
	require.Equal(t, authn.MethodAPIKey, p.SessionMethod)
	require.Equal(t, authn.NewRoleSet(keys[1].Role), p.Roles, "the session holds the key's role")

	k, err := e.svc.CreateAPIKey(ctx, app.ID, authn.RoleService, time.Minute)
	require.NoError(t, err)
	e.clock.Advance(time.Minute)
	_, err = e.svc.CreateSession(ctx, authn.Credentials{BasicUser: app.ID, BasicPassword: k.Key})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "expired key")
}

func TestCertificateSessionIsBoundToTheCertificate(t *testing.T) {
	e := newEnv(t)
	cert, other := newCert(t), newCert(t)
	app := e.certApp(t, cert, authn.RoleKeyOperation, authn.RoleService)

	s, err := e.svc.CreateSessionFromRequest(withCert(request(), cert))
	require.NoError(t, err)
	sum := sha256.Sum256(cert.Raw)
	require.Equal(t, sum[:], s.CertSHA256)
	require.Equal(t, authn.MethodCertificate, s.Method)

	p, err := e.svc.AuthenticateRequest(withCert(request("Authorization", bearer(s.Token)), cert))
	require.NoError(t, err)
	require.Equal(t, app.ID, p.ID)
	require.Equal(t, app.Roles, p.Roles, "a certificate session holds the application's roles")

	_, err = e.svc.AuthenticateRequest(withCert(request("Authorization", bearer(s.Token)), other))
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "same bearer, another certificate")
	_, err = e.svc.AuthenticateRequest(request("Authorization", bearer(s.Token)))
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "same bearer, no certificate")

	_, err = e.svc.CreateSessionFromRequest(withCert(request(), other))
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "certificate pinned by nobody")
	_, err = e.svc.CreateSessionFromRequest(request())
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "no credentials at all")

	_, _, err = e.svc.CreateApplication(ctx, authn.ApplicationSpec{Name: "dup", Roles: authn.NewRoleSet(authn.RoleService), Method: authn.MethodCertificate, Certificate: cert})
	require.ErrorIs(t, err, authn.ErrAlreadyExists, "one certificate, one principal")
}

func TestSessionIdleExpiry(t *testing.T) {
	e := newEnv(t)
	_, keys := e.app(t, authn.RoleService)
	s, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: keys[0].PrincipalID, BasicPassword: keys[0].Key})
	require.NoError(t, err)
	use := func() error { _, err := e.svc.Authenticate(ctx, authn.Credentials{Bearer: s.Token}); return err }

	for range 4 { // used every 14 minutes: stays alive for 56 minutes
		e.clock.Advance(14 * time.Minute)
		require.NoError(t, use())
	}
	e.clock.Advance(15 * time.Minute)
	require.ErrorIs(t, use(), authn.ErrUnauthenticated, "idle for the whole idle timeout")
}

func TestSessionAbsoluteExpiry(t *testing.T) {
	e := newEnv(t, func(c *authn.Config) { c.SessionLifetime = time.Hour; c.SessionIdleTimeout = 20 * time.Minute })
	_, keys := e.app(t, authn.RoleService)
	s, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: keys[0].PrincipalID, BasicPassword: keys[0].Key})
	require.NoError(t, err)
	use := func() error { _, err := e.svc.Authenticate(ctx, authn.Credentials{Bearer: s.Token}); return err }
	for range 5 {
		e.clock.Advance(10 * time.Minute)
		require.NoError(t, use())
	}
	e.clock.Advance(10*time.Minute - time.Nanosecond)
	require.NoError(t, use())
	e.clock.Advance(time.Nanosecond)
	require.ErrorIs(t, use(), authn.ErrUnauthenticated, "however active, a session ends at its absolute expiry")
}

func TestTerminateSession(t *testing.T) {
	e := newEnv(t)
	_, keys := e.app(t, authn.RoleService)
	login := func() authn.IssuedSession {
		s, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: keys[0].PrincipalID, BasicPassword: keys[0].Key})
		require.NoError(t, err)
		return s
	}
	a, b, c := login(), login(), login()
	p, err := e.svc.Authenticate(ctx, authn.Credentials{Bearer: a.Token})
	require.NoError(t, err)
	require.NoError(t, e.svc.TerminateSession(ctx, p.CredentialID))
	_, err = e.svc.Authenticate(ctx, authn.Credentials{Bearer: a.Token})
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	require.ErrorIs(t, e.svc.TerminateSession(ctx, p.CredentialID), authn.ErrNotFound)

	list, err := e.svc.ListSessions(ctx, keys[0].PrincipalID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	n, err := e.svc.TerminateSessions(ctx, keys[0].PrincipalID)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for _, s := range []authn.IssuedSession{b, c} {
		_, err = e.svc.Authenticate(ctx, authn.Credentials{Bearer: s.Token})
		require.ErrorIs(t, err, authn.ErrUnauthenticated)
	}
}

func TestReauth(t *testing.T) {
	e := newEnv(t)
	_, keys := e.app(t, authn.RoleService)
	old, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: keys[0].PrincipalID, BasicPassword: keys[0].Key})
	require.NoError(t, err)
	e.clock.Advance(10 * time.Minute)

	next, err := e.svc.ReauthRequest(request("Authorization", bearer(old.Token)))
	require.NoError(t, err)
	require.NotEqual(t, old.ID, next.ID)
	require.False(t, old.Token.Equal(next.Token))
	require.True(t, next.ExpiresAt.Equal(old.ExpiresAt), "reauth does not extend the absolute expiry")
	require.Equal(t, old.Roles, next.Roles)

	_, err = e.svc.Authenticate(ctx, authn.Credentials{Bearer: old.Token})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "the old token dies at once")
	e.clock.Advance(14 * time.Minute) // 24 minutes after login, 14 after reauth
	_, err = e.svc.Authenticate(ctx, authn.Credentials{Bearer: next.Token})
	require.NoError(t, err, "the new token starts a fresh idle period")

	_, err = e.svc.Reauth(ctx, authn.Credentials{Bearer: old.Token})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "a dead token cannot be renewed")
	_, err = e.svc.Reauth(ctx, authn.Credentials{})
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
}

func TestReauthRace(t *testing.T) {
	e := newEnv(t)
	_, keys := e.app(t, authn.RoleService)
	old, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: keys[0].PrincipalID, BasicPassword: keys[0].Key})
	require.NoError(t, err)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := e.svc.Reauth(ctx, authn.Credentials{Bearer: old.Token}); err == nil {
				wins.Add(1)
			} else {
				// Losers are failed authentications, so some get throttled.
				assert.True(t, errors.Is(err, authn.ErrUnauthenticated) || errors.Is(err, authn.ErrRateLimited), "%v", err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), wins.Load(), "one token, one successor")
	list, err := e.svc.ListSessions(ctx, keys[0].PrincipalID)
	require.NoError(t, err)
	require.Len(t, list, 1)
}

func TestReauthKeepsCertificateBinding(t *testing.T) {
	e := newEnv(t)
	cert := newCert(t)
	e.certApp(t, cert, authn.RoleService)
	s, err := e.svc.CreateSessionFromRequest(withCert(request(), cert))
	require.NoError(t, err)
	_, err = e.svc.ReauthRequest(withCert(request("Authorization", bearer(s.Token)), newCert(t)))
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "reauth from another certificate")
	next, err := e.svc.ReauthRequest(withCert(request("Authorization", bearer(s.Token)), cert))
	require.NoError(t, err)
	_, err = e.svc.AuthenticateRequest(request("Authorization", bearer(next.Token)))
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "the successor is bound to the same certificate")
}

func TestResetApplicationSecretEndsSessionsAndKeys(t *testing.T) {
	e := newEnv(t)
	app, keys := e.app(t, authn.RoleService, authn.RoleKeyOperation)
	s, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: app.ID, BasicPassword: keys[0].Key})
	require.NoError(t, err)

	fresh, err := e.svc.ResetApplicationSecret(ctx, app.ID)
	require.NoError(t, err)
	require.Len(t, fresh, 2, "one new key per role")
	_, err = e.svc.Authenticate(ctx, authn.Credentials{Bearer: s.Token})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "sessions end at once")
	for _, k := range keys {
		_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: k.Key})
		require.ErrorIs(t, err, authn.ErrUnauthenticated, "old keys revoked")
	}
	for _, k := range fresh {
		_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: k.Key})
		require.NoError(t, err)
	}

	certApp := e.certApp(t, newCert(t), authn.RoleService)
	_, err = e.svc.ResetApplicationSecret(ctx, certApp.ID)
	require.ErrorIs(t, err, authn.ErrInvalidArgument)
	_, err = e.svc.ResetApplicationSecret(ctx, "app_missing")
	require.ErrorIs(t, err, authn.ErrNotFound)
}

func TestSwitchAuthMethod(t *testing.T) {
	e := newEnv(t)
	app, keys := e.app(t, authn.RoleService)
	keySession, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: app.ID, BasicPassword: keys[0].Key})
	require.NoError(t, err)

	cert := newCert(t)
	issued, err := e.svc.SwitchAuthMethod(ctx, app.ID, authn.MethodCertificate, cert)
	require.NoError(t, err)
	require.Empty(t, issued)
	_, err = e.svc.Authenticate(ctx, authn.Credentials{Bearer: keySession.Token})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "API-key session ends on the switch")
	_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: keys[0].Key})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "API keys revoked on the switch")
	_, err = e.svc.CreateAPIKey(ctx, app.ID, authn.RoleService, 0)
	require.ErrorIs(t, err, authn.ErrInvalidArgument, "no API keys for a certificate application")

	certSession, err := e.svc.CreateSessionFromRequest(withCert(request(), cert))
	require.NoError(t, err)

	back, err := e.svc.SwitchAuthMethod(ctx, app.ID, authn.MethodAPIKey, nil)
	require.NoError(t, err)
	require.Len(t, back, 1)
	_, err = e.svc.AuthenticateRequest(withCert(request("Authorization", bearer(certSession.Token)), cert))
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "certificate session ends on the switch")
	_, err = e.svc.CreateSessionFromRequest(withCert(request(), cert))
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "the certificate is no longer pinned")
	_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: back[0].Key})
	require.NoError(t, err)

	for name, c := range map[string]struct {
		id   string
		m    authn.Method
		cert bool
		want error
	}{
		"certificate without one": {app.ID, authn.MethodCertificate, false, authn.ErrInvalidArgument},
		"API key with a cert":     {app.ID, authn.MethodAPIKey, true, authn.ErrInvalidArgument},
		"password":                {app.ID, authn.MethodPassword, false, authn.ErrInvalidArgument},
		"unknown principal":       {"app_missing", authn.MethodAPIKey, false, authn.ErrNotFound},
	} {
		var crt = cert
		if !c.cert {
			crt = nil
		}
		_, err := e.svc.SwitchAuthMethod(ctx, c.id, c.m, crt)
		require.ErrorIs(t, err, c.want, name)
	}
	u := e.user(t, "carol@example.com", authn.RoleService)
	_, err = e.svc.SwitchAuthMethod(ctx, u.ID, authn.MethodAPIKey, nil)
	require.ErrorIs(t, err, authn.ErrInvalidArgument, "users keep passwords")
}

func TestSetPasswordEndsSessions(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "dan@example.com", authn.RoleService)
	s, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: u.Email, BasicPassword: authn.NewSecret(password)})
	require.NoError(t, err)
	require.NoError(t, e.svc.SetPassword(ctx, u.ID, authn.NewSecret("a brand new password")))
	_, err = e.svc.Authenticate(ctx, authn.Credentials{Bearer: s.Token})
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	_, err = e.svc.CreateSession(ctx, authn.Credentials{BasicUser: u.Email, BasicPassword: authn.NewSecret(password)})
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	_, err = e.svc.CreateSession(ctx, authn.Credentials{BasicUser: u.Email, BasicPassword: authn.NewSecret("a brand new password")})
	require.NoError(t, err)
	require.ErrorIs(t, e.svc.SetPassword(ctx, u.ID, authn.NewSecret("short")), authn.ErrInvalidArgument)
}

func TestDeleteAccountEndsEverything(t *testing.T) {
	e := newEnv(t)
	app, keys := e.app(t, authn.RoleService)
	s, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: app.ID, BasicPassword: keys[0].Key})
	require.NoError(t, err)
	require.NoError(t, e.svc.DeleteAccount(ctx, app.ID))
	_, err = e.svc.Authenticate(ctx, authn.Credentials{Bearer: s.Token})
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: keys[0].Key})
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	_, err = e.svc.GetAccount(ctx, app.ID)
	require.ErrorIs(t, err, authn.ErrNotFound)
	require.ErrorIs(t, e.svc.DeleteAccount(ctx, app.ID), authn.ErrNotFound)
}

func TestCreateUserValidation(t *testing.T) {
	e := newEnv(t)
	e.user(t, "eve@example.com", authn.RoleService)
	for name, c := range map[string]struct {
		email, pw string
		roles     authn.RoleSet
		want      error
	}{
		"duplicate e-mail, other case": {"EVE@example.com", password, authn.NewRoleSet(authn.RoleService), authn.ErrAlreadyExists},
		"no @":                         {"eve.example.com", password, 0, authn.ErrInvalidArgument},
		"space":                        {"e ve@example.com", password, 0, authn.ErrInvalidArgument},
		"short password":               {"f@example.com", "short", 0, authn.ErrInvalidArgument},
		"long password":                {"f@example.com", strings.Repeat("p", 1025), 0, authn.ErrInvalidArgument},
		"invalid UTF-8 password":       {"f@example.com", "password\xff\xfe1234", 0, authn.ErrInvalidArgument},
		"undefined role bits":          {"f@example.com", password, authn.RoleSet(1 << 7), authn.ErrInvalidArgument},
	} {
		_, err := e.svc.CreateUser(ctx, c.email, authn.NewSecret(c.pw), c.roles)
		require.ErrorIs(t, err, c.want, name)
	}
	accounts, err := e.svc.ListAccounts(ctx)
	require.NoError(t, err)
	require.Len(t, accounts, 1)
}

func TestSessionCreationRefusesOtherCredentials(t *testing.T) {
	e := newEnv(t)
	_, keys := e.app(t, authn.RoleService)
	_, err := e.svc.CreateSessionFromRequest(request("X-API-KEY", keys[0].Key.Reveal()))
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	_, err = e.svc.AuthenticateRequest(request("Authorization", basic(keys[0].PrincipalID, keys[0].Key.Reveal())))
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "Basic only creates sessions")
	_, err = e.svc.AuthenticateRequest(withCert(request(), newCert(t)))
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "a bare certificate only creates sessions")
}
