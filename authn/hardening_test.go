package authn_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

// TestValidCredentialsAreNeverLockedOut: an attacker failing from the
// administrator's address, with every kind of bad credential, gets 429 in
// the end, while the administrator's session, an application's API key and
// a user secret from that same address keep working, and switching
// address does not reset the count for a token that keeps failing.
func TestValidCredentialsAreNeverLockedOut(t *testing.T) {
	e := newEnv(t)
	admin := e.user(t, "root@example.com", authn.RoleAdmin)
	sess, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: admin.Email, BasicPassword: authn.NewSecret(password)})
	require.NoError(t, err)
	_, keys := e.app(t, authn.RoleKeyOperation)
	const shared = "198.51.100.7:4000"
	from := func(r *http.Request, hostport string) *http.Request { r.RemoteAddr = hostport; return r }

	badBearer := "Bearer " + authn.NewToken(authn.TokenSession).Reveal()
	var last error
	for i := range 30 {
		for _, h := range [][2]string{
			{"X-API-KEY", authn.NewToken(authn.TokenAPIKey).Reveal()},
			{"Authorization", "Bearer " + authn.NewToken(authn.TokenSession).Reveal()},
			{"Authorization", authn.NewToken(authn.TokenUserSecret).Reveal()},
			{"Authorization", badBearer},
		} {
			_, last = e.svc.AuthenticateRequest(from(request(h[0], h[1]), shared))
			require.Error(t, last)
		}
		_, err := e.svc.CreateSessionFromRequest(from(request("Authorization", basic(admin.Email, "not the password")), "203.0.113.9:1"))
		require.Error(t, err, "round %d", i)

		// The valid ones, from the attacker's address, every round.
		p, err := e.svc.AuthenticateRequest(from(request("Authorization", bearer(sess.Token)), shared))
		require.NoError(t, err, "round %d: the admin's session", i)
		require.Equal(t, admin.ID, p.ID)
		_, err = e.svc.AuthenticateRequest(from(request("X-API-KEY", keys[0].Key.Reveal()), shared))
		require.NoError(t, err, "round %d: the application's key", i)
	}
	require.ErrorIs(t, last, authn.ErrRateLimited, "the attacker is told to back off")

	// The token that kept failing is refused unseen from anywhere.
	_, err = e.svc.AuthenticateRequest(from(request("Authorization", badBearer), "192.0.2.55:1"))
	var rl *authn.RateLimitError
	require.ErrorAs(t, err, &rl)
	require.Equal(t, "credential", rl.Subject)
	// A fresh bad token from a fresh address is an ordinary 401.
	_, err = e.svc.AuthenticateRequest(from(request("X-API-KEY", authn.NewToken(authn.TokenAPIKey).Reveal()), "192.0.2.56:1"))
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	require.NotErrorIs(t, err, authn.ErrRateLimited)
}

// TestForwardedClientAddr: behind trusted proxies each client is counted
// by the address the proxies saw; nobody else can choose the address they
// are counted under.
func TestForwardedClientAddr(t *testing.T) {
	f := authn.ForwardedClientAddr([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")})
	for _, c := range []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"direct client", "192.0.2.1:5", nil, "192.0.2.1"},
		{"direct client lying", "192.0.2.1:5", []string{"203.0.113.1"}, "192.0.2.1"},
		{"one proxy", "10.0.0.1:5", []string{"203.0.113.1"}, "203.0.113.1"},
		{"client-written prefix ignored", "10.0.0.1:5", []string{"1.2.3.4, 203.0.113.1"}, "203.0.113.1"},
		{"two proxies", "10.0.0.1:5", []string{"203.0.113.1, 10.0.0.2"}, "203.0.113.1"},
		{"two headers", "10.0.0.1:5", []string{"1.2.3.4", "203.0.113.1"}, "203.0.113.1"},
		{"IPv6 through a proxy", "[fd00::1]:5", []string{"2001:db8::7"}, "2001:db8::7"},
		{"no header", "10.0.0.1:5", nil, "10.0.0.1"},
		{"garbage from the proxy", "10.0.0.1:5", []string{"not an address"}, "10.0.0.1"},
		{"garbage left of the client", "10.0.0.1:5", []string{"garbage, 203.0.113.1"}, "203.0.113.1"},
		{"only proxies", "10.0.0.1:5", []string{"10.0.0.3, 10.0.0.2"}, "10.0.0.3"},
		{"too many hops", "10.0.0.1:5", []string{strings.Repeat("10.0.0.9,", 40) + "203.0.113.1"}, "10.0.0.1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		require.Equal(t, netip.MustParseAddr(c.want), f(r), c.name)
	}
}

// TestLimitsAreCountedPerForwardedClient: behind a proxy, one client's
// failed passwords do not throttle another client's logins.
func TestLimitsAreCountedPerForwardedClient(t *testing.T) {
	e := newEnv(t, func(c *authn.Config) {
		c.ClientAddr = authn.ForwardedClientAddr([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")})
	})
	for _, email := range []string{"a@example.com", "b@example.com"} {
		e.user(t, email, authn.RoleService)
	}
	login := func(email, pw, client string) error {
		r := request("Authorization", basic(email, pw), "X-Forwarded-For", client)
		r.RemoteAddr = "10.1.1.1:443"
		_, err := e.svc.CreateSessionFromRequest(r)
		return err
	}
	for range 12 {
		_ = login("nobody@example.com", "wrong password", "203.0.113.66")
	}
	require.ErrorIs(t, login("a@example.com", password, "203.0.113.66"), authn.ErrRateLimited, "the guesser's address is throttled")
	require.NoError(t, login("b@example.com", password, "203.0.113.67"), "another client behind the same proxy is not")
}

// TestCallerSuppliedCredentialsNeverReachLogsOrErrors feeds every kind of
// credential into every place an authentication reads a caller-supplied
// value and checks the log and every error.
func TestCallerSuppliedCredentialsNeverReachLogsOrErrors(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t, noRateLimit, func(c *authn.Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	admin := e.admin(t)
	u := e.user(t, "lee@example.com", authn.RoleKeyOperation)
	app, keys := e.app(t, authn.RoleKeyOperation)
	pin, err := e.svc.CreatePIN(ctx, admin, u.ID)
	require.NoError(t, err)
	sec, err := e.svc.RedeemPIN(ctx, u.ID, pin.PIN, addr)
	require.NoError(t, err)
	pin2, err := e.svc.CreatePIN(ctx, admin, u.ID)
	require.NoError(t, err)
	sess, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: app.ID, BasicPassword: keys[0].Key})
	require.NoError(t, err)
	reg, err := e.svc.CreateRegistrationToken(ctx, admin, authn.RegistrationTokenSpec{Roles: authn.NewRoleSet(authn.RoleService), Uses: 1, ValidFor: time.Hour})
	require.NoError(t, err)
	secrets := map[string]string{
		"API key": keys[0].Key.Reveal(), "session": sess.Token.Reveal(), "user secret": sec.Secret.Reveal(),
		"registration token": reg.Token.Reveal(), "password": password, "PIN": pin2.PIN.Reveal(),
		"password with @": "p@ssword-" + password,
	}
	var errs []error
	for _, v := range secrets {
		s := authn.NewSecret(v)
		for _, c := range []authn.Credentials{
			{BasicUser: v, BasicPassword: authn.NewSecret("x")},
			{BasicUser: v + "@example.com", BasicPassword: authn.NewSecret("x")},
			{BasicUser: app.ID, BasicPassword: s},
			{BasicUser: u.Email, BasicPassword: s},
		} {
			_, err := e.svc.CreateSession(ctx, c)
			errs = append(errs, err)
		}
		for _, c := range []authn.Credentials{{APIKey: s}, {Bearer: s}, {UserSecret: s}} {
			_, err := e.svc.Authenticate(ctx, c)
			errs = append(errs, err)
		}
		for _, h := range [][2]string{{"X-API-KEY", v}, {"Authorization", v}, {"Authorization", "Bearer " + v}, {"Authorization", basic(v, v)}} {
			_, err := e.svc.AuthenticateRequest(request(h[0], h[1]))
			errs = append(errs, err)
			_, err = e.svc.CreateSessionFromRequest(request(h[0], h[1]))
			errs = append(errs, err)
		}
		_, err := e.svc.RedeemPIN(ctx, v, pin2.PIN, addr)
		errs = append(errs, err)
		_, err = e.svc.RedeemPIN(ctx, u.ID, s, addr)
		errs = append(errs, err)
		_, err = e.svc.RegisterClient(ctx, s, authn.ClientRegistration{Name: v, PublicKeys: [][]byte{[]byte(v)}}, addr)
		errs = append(errs, err)
		for _, f := range []func() error{
			func() error { _, err := e.svc.GetAccount(ctx, v); return err },
			func() error { return e.svc.DeleteAccount(ctx, v) },
			func() error { return e.svc.RevokeAPIKey(ctx, v) },
			func() error { _, err := e.svc.RotateAPIKey(ctx, v, 0); return err },
			func() error { _, err := e.svc.CreateAPIKey(ctx, v, authn.RoleService, 0); return err },
			func() error { return e.svc.SetPassword(ctx, v, authn.NewSecret(password)) },
			func() error { return e.svc.SetPassword(ctx, u.ID, authn.NewSecret(v[:min(len(v), 8)])) },
			func() error { _, err := e.svc.CreateUser(ctx, v, s, authn.NewRoleSet(authn.RoleService)); return err },
			func() error { _, err := e.svc.CreateUser(ctx, "x@"+v, s, 0); return err },
			func() error {
				_, _, err := e.svc.CreateApplication(ctx, authn.ApplicationSpec{Name: v, Roles: 0, Method: authn.MethodAPIKey})
				return err
			},
			func() error { return e.svc.TerminateSession(ctx, v) },
			func() error { _, err := e.svc.TerminateSessions(ctx, v); return err },
			func() error { return e.svc.DeleteSecret(ctx, v) },
			func() error { return e.svc.SetSecretValidity(ctx, v, time.Time{}) },
			func() error { return e.svc.RevokeRegistrationToken(ctx, v) },
			func() error { _, err := e.svc.GetBackup(ctx, admin, v); return err },
			func() error { _, err := e.svc.CreatePIN(ctx, admin, v); return err },
			func() error { _, err := e.svc.CreateGroup(ctx, v+"\u202e"); return err },
			func() error { return e.svc.SetGroupMember(ctx, v, u.ID, 0) },
		} {
			errs = append(errs, f())
		}
	}
	out := logs.String()
	require.Contains(t, out, "authentication failed", "the failures were logged")
	for name, v := range secrets {
		probe := v
		if len(probe) > 12 {
			probe = v[4:12] // a token's random part, wherever it is cut
		}
		require.NotContains(t, out, probe, "%s in the log", name)
		for _, err := range errs {
			if err != nil {
				require.NotContains(t, err.Error(), probe, "%s in an error", name)
			}
		}
	}
}

// TestExpiryRangesAreCheckedFirst: out-of-range validities are refused
// before any arithmetic could wrap them.
func TestExpiryRangesAreCheckedFirst(t *testing.T) {
	e := newEnv(t)
	app, keys := e.app(t, authn.RoleKeyOperation)
	u := e.user(t, "max@example.com", authn.RoleKeyOperation)
	pin, err := e.svc.CreatePIN(ctx, e.admin(t), u.ID)
	require.NoError(t, err)
	_, err = e.svc.RedeemPIN(ctx, u.ID, pin.PIN, addr)
	require.NoError(t, err)
	for _, d := range []time.Duration{authn.MaxAPIKeyValidity + 1, time.Duration(1<<63 - 1), -1} {
		_, err := e.svc.CreateAPIKey(ctx, app.ID, authn.RoleKeyOperation, d)
		require.ErrorIs(t, err, authn.ErrInvalidArgument, "%v", d)
		_, err = e.svc.RotateAPIKey(ctx, keys[0].ID, d+authn.MaxRotationOverlap-authn.MaxAPIKeyValidity)
		if d > 0 {
			require.ErrorIs(t, err, authn.ErrInvalidArgument, "overlap %v", d)
		}
	}
	for _, until := range []time.Time{time.Unix(10_000_000_000, 0), time.Unix(-1, 0), time.Unix(authn.LatestValidUntil+1, 0)} {
		require.ErrorIs(t, e.svc.SetSecretValidity(ctx, u.ID, until), authn.ErrInvalidArgument, "%v", until)
	}
	latest := time.Unix(authn.LatestValidUntil, 0)
	require.Equal(t, 2200, latest.UTC().Year())
	require.NoError(t, e.svc.SetSecretValidity(ctx, u.ID, latest))
	info, err := e.svc.UserSecretInfo(ctx, u.ID)
	require.NoError(t, err)
	require.True(t, info.ValidUntil.Equal(latest), "the latest valid time round-trips")
}

// TestNamesRefuseWhatTheDocsRefuse: names, e-mails and role sets the docs
// say are refused are refused.
func TestNamesRefuseWhatTheDocsRefuse(t *testing.T) {
	e := newEnv(t)
	for _, name := range []string{"a\u0085b", "a\u009bb", "invoice\u202Etxt.exe", "a\u2066b", "a\u200Bb", "a\xffb", "a\u2028b", "a\uFFFDb"} {
		_, _, err := e.svc.CreateApplication(ctx, authn.ApplicationSpec{Name: name, Roles: authn.NewRoleSet(authn.RoleService), Method: authn.MethodAPIKey})
		require.ErrorIs(t, err, authn.ErrInvalidArgument, "%q", name)
		_, err = e.svc.CreateUser(ctx, "u"+name+"@example.com", authn.NewSecret(password), authn.NewRoleSet(authn.RoleService))
		require.ErrorIs(t, err, authn.ErrInvalidArgument, "%q", name)
		_, err = e.svc.CreateGroup(ctx, name)
		require.ErrorIs(t, err, authn.ErrInvalidArgument, "%q", name)
	}
	_, err := e.svc.CreateUser(ctx, "a:b@example.com", authn.NewSecret(password), authn.NewRoleSet(authn.RoleService))
	require.ErrorIs(t, err, authn.ErrInvalidArgument, "an e-mail with ':' could never log in with HTTP Basic")
	_, err = e.svc.CreateUser(ctx, "nobody@example.com", authn.NewSecret(password), 0)
	require.ErrorIs(t, err, authn.ErrInvalidArgument, "a user needs a role")
}
