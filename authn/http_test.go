package authn_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

func TestAuthenticateRequestRefusesMalformedInput(t *testing.T) {
	e := newEnv(t)
	_, keys := e.app(t, authn.RoleService)
	key := keys[0].Key.Reveal()
	sess, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: keys[0].PrincipalID, BasicPassword: keys[0].Key})
	require.NoError(t, err)
	tok := sess.Token.Reveal()
	badSum := tok[:len(tok)-1] + string("01"[map[bool]int{true: 1}[tok[len(tok)-1] == '0']])

	cases := []struct {
		name    string
		headers []string
	}{
		{"bad checksum", []string{"Authorization", "Bearer " + badSum}},
		{"API key as bearer", []string{"Authorization", "Bearer " + key}},
		{"session token as API key", []string{"X-API-KEY", tok}},
		{"two Authorization headers", []string{"Authorization", "Bearer " + tok, "Authorization", "Bearer " + tok}},
		{"two X-API-KEY headers", []string{"X-API-KEY", key, "X-API-KEY", key}},
		{"X-API-KEY and Authorization", []string{"X-API-KEY", key, "Authorization", "Bearer " + tok}},
		{"oversized header", []string{"Authorization", "Bearer " + strings.Repeat("A", authn.MaxAuthHeaderLen)}},
		{"non-ASCII", []string{"Authorization", "Bearer " + tok[:10] + "é" + tok[12:]}},
		{"control byte", []string{"Authorization", "Bearer\t" + tok}},
		{"unknown scheme", []string{"Authorization", "Token " + tok}},
		{"scheme only", []string{"Authorization", "Bearer"}},
		{"scheme and space", []string{"Authorization", "Bearer "}},
		{"two tokens", []string{"Authorization", "Bearer " + tok + " " + tok}},
		{"comma-joined", []string{"Authorization", "Bearer " + tok + ",Bearer " + tok}},
		{"empty", []string{"Authorization", ""}},
		{"bare garbage", []string{"Authorization", "cpu_short"}},
		{"bad base64", []string{"Authorization", "Basic !!!notbase64"}},
		{"unpadded base64", []string{"Authorization", "Basic YTpi"[:len("Basic YTpi")-1]}},
		{"Basic without colon", []string{"Authorization", "Basic " + "YWxpY2U="}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.svc.AuthenticateRequest(request(c.headers...))
			require.ErrorIs(t, err, authn.ErrMalformedCredential)
			require.ErrorIs(t, err, authn.ErrUnauthenticated, "deny by default: malformed is unauthenticated too")
			require.NotContains(t, err.Error(), tok[4:])
			require.NotContains(t, err.Error(), key[4:])
		})
	}
	// None of that counted as a failed guess, and the real token still works.
	p, err := e.svc.AuthenticateRequest(request("Authorization", bearer(sess.Token)))
	require.NoError(t, err)
	require.Equal(t, keys[0].PrincipalID, p.ID)
}

func TestHeaderNamesAreMatchedCaseInsensitively(t *testing.T) {
	e := newEnv(t)
	_, keys := e.app(t, authn.RoleService)
	r := request()
	// A hand-built header map can hold two spellings of one header.
	r.Header["x-api-key"] = []string{keys[0].Key.Reveal()}
	r.Header["X-Api-Key"] = []string{keys[0].Key.Reveal()}
	_, err := e.svc.AuthenticateRequest(r)
	require.ErrorIs(t, err, authn.ErrMalformedCredential)

	r = request()
	r.Header["x-api-key"] = []string{keys[0].Key.Reveal()}
	_, err = e.svc.AuthenticateRequest(r)
	require.NoError(t, err)
}

func TestCredentialsInURLAreRefused(t *testing.T) {
	e := newEnv(t)
	_, keys := e.app(t, authn.RoleService)
	key := keys[0].Key.Reveal()
	cases := []struct{ url, param string }{
		{"/v1/keys?api_key=" + key, "api_key"},
		{"/v1/keys?API_KEY=x", "API_KEY"},
		{"/v1/keys?token=abc", "token"},
		{"/v1/keys?access_token=abc", "access_token"},
		{"/v1/keys?secret=abc", "secret"},
		{"/v1/keys?pin=12345678", "pin"},
		{"/v1/keys?password=hunter2", "password"},
		{"/v1/keys?label=prod&whatever=" + key, "whatever"},
		{"/v1/keys?api%5Fkey=x", "api_key"},
		{"/v1/keys?x=%zz&session=1", "session"},
		{"https://user:pass@kms.example/v1/keys", "userinfo"},
		{"/v1/sessions/" + key, "path"},
	}
	for _, c := range cases {
		t.Run(c.url, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "https://kms.example/", nil)
			var err error
			r.URL, err = r.URL.Parse(c.url)
			require.NoError(t, err)
			r.Header.Set("X-API-KEY", key) // a valid header does not excuse the URL
			_, err = e.svc.AuthenticateRequest(r)
			require.ErrorIs(t, err, authn.ErrCredentialInURL)
			require.ErrorIs(t, err, authn.ErrUnauthenticated)
			var inURL *authn.CredentialInURLError
			require.True(t, errors.As(err, &inURL))
			require.Equal(t, c.param, inURL.Param)
			require.NotContains(t, err.Error(), key)
		})
	}
	r := request("X-API-KEY", key)
	r.URL.RawQuery = "label=prod&limit=10"
	_, err := e.svc.AuthenticateRequest(r)
	require.NoError(t, err, "ordinary query parameters are fine")
}

// TestUnknownWrongAndExpiredLookTheSame: the three cases a client must not
// be able to tell apart give the same error, for every credential kind.
func TestUnknownWrongAndExpiredLookTheSame(t *testing.T) {
	e := newEnv(t, noRateLimit)
	app, _ := e.app(t, authn.RoleService)
	expiringKey, err := e.svc.CreateAPIKey(ctx, app.ID, authn.RoleService, time.Minute)
	require.NoError(t, err)
	sess, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: app.ID, BasicPassword: expiringKey.Key})
	require.NoError(t, err)
	u := e.user(t, "mo@example.com", authn.RoleService)
	pin, err := e.svc.CreatePIN(ctx, e.admin(t), u.ID)
	require.NoError(t, err)
	sec, err := e.svc.RedeemPIN(ctx, u.ID, pin.PIN, addr)
	require.NoError(t, err)
	require.NoError(t, e.svc.SetSecretValidity(ctx, u.ID, e.clock.Now().Add(time.Minute)))
	e.clock.Advance(time.Hour)

	for _, c := range []struct {
		name            string
		header, unknown string
		expired         string
	}{
		{"API key", "X-API-KEY", authn.NewToken(authn.TokenAPIKey).Reveal(), expiringKey.Key.Reveal()},
		{"session", "Authorization", "Bearer " + authn.NewToken(authn.TokenSession).Reveal(), bearer(sess.Token)},
		{"user secret", "Authorization", authn.NewToken(authn.TokenUserSecret).Reveal(), sec.Secret.Reveal()},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, errUnknown := e.svc.AuthenticateRequest(request(c.header, c.unknown))
			_, errExpired := e.svc.AuthenticateRequest(request(c.header, c.expired))
			require.ErrorIs(t, errUnknown, authn.ErrUnauthenticated)
			require.ErrorIs(t, errExpired, authn.ErrUnauthenticated)
			require.NotErrorIs(t, errUnknown, authn.ErrMalformedCredential)
			require.NotErrorIs(t, errExpired, authn.ErrMalformedCredential)
		})
	}
}

func TestFailedAuthenticationIsRateLimited(t *testing.T) {
	e := newEnv(t)
	e.user(t, "ned@example.com", authn.RoleService)
	login := func(email, pw, ip string) error {
		r := request("Authorization", basic(email, pw))
		r.RemoteAddr = ip + ":1234"
		_, err := e.svc.CreateSessionFromRequest(r)
		return err
	}
	for range 5 {
		require.ErrorIs(t, login("ned@example.com", "wrong password", "198.51.100.1"), authn.ErrUnauthenticated)
	}
	require.ErrorIs(t, login("ned@example.com", "wrong password", "198.51.100.1"), authn.ErrUnauthenticated, "the sixth failure sets the first delay")

	err := login("ned@example.com", password, "198.51.100.1")
	var rl *authn.RateLimitError
	require.ErrorAs(t, err, &rl)
	require.ErrorIs(t, err, authn.ErrRateLimited)
	require.Equal(t, time.Second, rl.RetryAfter)
	require.NotContains(t, err.Error(), password)

	// From another address the principal is still throttled.
	err = login("ned@example.com", password, "203.0.113.7")
	require.ErrorIs(t, err, authn.ErrRateLimited)
	require.ErrorContains(t, err, "principal")
	require.NotContains(t, err.Error(), "ned@example.com", "the name typed is never echoed")

	// A stranger keeps failing for ned from ever new addresses: each
	// failure waits out the previous delay. The delays grow, reach the
	// per-principal cap of one minute and stay there.
	var delays []time.Duration
	for i := range 12 {
		require.ErrorAs(t, login("ned@example.com", password, "203.0.113.7"), &rl)
		delays = append(delays, rl.RetryAfter)
		e.clock.Advance(rl.RetryAfter)
		require.ErrorIs(t, login("ned@example.com", "wrong password", fmt.Sprintf("203.0.113.%d", 100+i)), authn.ErrUnauthenticated)
	}
	require.Equal(t, time.Second, delays[0])
	require.Equal(t, 2*time.Second, delays[1])
	for i := 1; i < len(delays); i++ {
		require.GreaterOrEqual(t, delays[i], delays[i-1], "growing: %v", delays)
	}
	require.Equal(t, time.Minute, delays[len(delays)-1], "capped: %v", delays)

	// Not a lockout: once the capped delay has passed, ned gets in.
	e.clock.Advance(time.Minute)
	require.NoError(t, login("ned@example.com", password, "192.0.2.200"))

	// And the score decays: after a quiet spell one failure costs nothing.
	for range 6 {
		require.ErrorIs(t, login("ned@example.com", "wrong password", "192.0.2.201"), authn.ErrUnauthenticated)
	}
	e.clock.Advance(3 * time.Hour)
	require.ErrorIs(t, login("ned@example.com", "wrong password", "192.0.2.202"), authn.ErrUnauthenticated)
	require.NoError(t, login("ned@example.com", password, "192.0.2.203"))
}

// TestTokenShapedValuesAnywhereInTheURLAreRefused: a credential of any kind
// is refused wherever it sits in the URL and however it is separated or
// encoded; the error names where, never what.
func TestTokenShapedValuesAnywhereInTheURLAreRefused(t *testing.T) {
	e := newEnv(t)
	_, keys := e.app(t, authn.RoleService)
	valid := keys[0].Key.Reveal()
	for _, tok := range []string{
		valid,
		authn.NewToken(authn.TokenSession).Reveal(),
		authn.NewToken(authn.TokenUserSecret).Reveal(),
		authn.NewToken(authn.TokenRegistration).Reveal(),
		valid[:20], // truncated: still a leak
	} {
		pct := "%" + strings.ToUpper(hex.EncodeToString([]byte(tok[:1]))) + tok[1:]
		for _, c := range []struct{ url, param string }{
			{"/v1/keys?a=1;api_key=" + tok, "api_key"},
			{"/v1/keys?a=1;b=" + tok, "b"},
			{"/v1/keys?q=x," + tok, "q"},
			{"/v1/keys?q=+" + tok, "q"},
			{"/v1/keys?q=%2B" + tok, "q"},
			{"/v1/keys?q=" + pct, "q"},
			{"/v1/keys?q=" + strings.ReplaceAll(pct, "%", "%25"), "q"},
			{"/v1/keys?" + tok, "query"},
			{"/v1/keys?" + tok + "=1", "query"},
			{"/v1/keys?%zz" + tok, "query"},
			{"/v1/keys/x" + tok, "path"},
			{"/v1/keys/" + pct, "path"},
			{"/v1/keys/" + strings.ReplaceAll(pct, "%", "%25"), "path"},
			{"/v1/keys#" + tok, "fragment"},
		} {
			r := httptest.NewRequest(http.MethodGet, "https://kms.example/", nil)
			var err error
			r.URL, err = r.URL.Parse(c.url)
			require.NoError(t, err, c.url)
			r.Header.Set("X-API-KEY", valid)
			_, err = e.svc.AuthenticateRequest(r)
			require.ErrorIs(t, err, authn.ErrCredentialInURL, c.url)
			var inURL *authn.CredentialInURLError
			require.True(t, errors.As(err, &inURL), c.url)
			require.Equal(t, c.param, inURL.Param, c.url)
			require.NotContains(t, err.Error(), tok[4:12], c.url)
		}
	}
	for _, ok := range []string{"/v1/key/web?limit=10", "/v1/key/cpk_short", "/v1/key?id=00ff", "/v1/key/a%2Bb"} {
		r := request("X-API-KEY", valid)
		var err error
		r.URL, err = r.URL.Parse(ok)
		require.NoError(t, err)
		_, err = e.svc.AuthenticateRequest(r)
		require.NoError(t, err, ok)
	}
}
