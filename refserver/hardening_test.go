package refserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
	"github.com/cryptoplug/cryptoplug/wire"
)

// serve sends one request to the in-process server and returns status and
// body; a 5xx fails the test.
func serve(t *testing.T, h http.Handler, method, target, header, value string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	r := httptest.NewRequest(method, target, rd)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if header != "" {
		r.Header.Set(header, value)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	require.Less(t, rec.Code, 500, "%s %s: %s", method, target, rec.Body)
	return rec.Code, rec.Body.String()
}

// TestFailuresDoNotLockOutValidCallersOverHTTP: an attacker failing from
// the administrator's address ends up with 429, while the administrator's
// session from the same address keeps working (it used to get 429 for up
// to 15 minutes).
func TestFailuresDoNotLockOutValidCallersOverHTTP(t *testing.T) {
	in := refservertest.Start(t, refservertest.Options{RateLimit: &authn.RateLimitConfig{}})
	_, admin := in.User(t, authn.RoleAdmin)
	last := 0
	for i := range 40 {
		for _, h := range [][2]string{
			{"X-API-KEY", authn.NewToken(authn.TokenAPIKey).Reveal()},
			{"Authorization", "Bearer " + authn.NewToken(authn.TokenSession).Reveal()},
		} {
			last, _ = serve(t, in.Server, "GET", "/sys/v1/apps", h[0], h[1], nil)
		}
		status, body := serve(t, in.Server, "GET", "/sys/v1/apps", "Authorization", "Bearer "+admin, nil)
		require.Equal(t, http.StatusOK, status, "round %d: %s", i, body)
	}
	require.Equal(t, http.StatusTooManyRequests, last, "the attacker is throttled")
}

// TestGroupsOverHTTP on SQLite; TestPostgresStore runs it on PostgreSQL.
func TestGroupsOverHTTP(t *testing.T) {
	exerciseGroups(t, refservertest.Start(t, refservertest.Options{}))
}

// exerciseGroups: keys belong to groups; a caller outside a key's group
// cannot see or use it, a member without the role is forbidden, keys that
// existed before groups (made behind the server's back here) stay in the
// default group that everyone was put in.
func exerciseGroups(t *testing.T, in *refservertest.Instance) {
	ctx := context.Background()
	_, err := in.Backend.GenerateKey(ctx, backend.KeySpec{Label: "legacy", Algorithm: backend.Ed25519})
	require.NoError(t, err)
	g, err := in.Admin.CreateGroup(ctx, "payments")
	require.NoError(t, err)
	// A payments application, in the payments group only.
	payApp, err := in.Admin.CreateApplication(ctx, wire.CreateApplication{Name: "payments", Roles: []string{"keyManagement", "keyOperation"},
		Method: "apiKey", Groups: []string{g.ID}})
	require.NoError(t, err)
	require.Equal(t, []wire.Membership{{Group: g.ID, Roles: []string{"keyManagement", "keyOperation"}}}, payApp.Account.Groups)
	pay := map[string]string{}
	for _, k := range payApp.APIKeys {
		pay[k.Role] = k.Key
	}
	// An outsider, in the default group.
	_, outsider := in.User(t, authn.RoleKeyManagement, authn.RoleKeyOperation)

	created, err := in.Client(client.APIKey(pay["keyManagement"])).CreateKey(ctx, wire.KeySpec{Label: "pay-key", Algorithm: "Ed25519", Group: g.ID})
	require.NoError(t, err)
	require.Equal(t, g.ID, created.Group)
	_, err = in.Client(client.Bearer(outsider)).CreateKey(ctx, wire.KeySpec{Label: "sneak", Algorithm: "Ed25519", Group: g.ID})
	require.ErrorIs(t, err, authn.ErrNotFound, "a key cannot be created into a group one is not in")

	sign := func(header, value, label string) int {
		status, _ := serve(t, in.Server, "POST", "/v1/sign", header, value, wire.SignRequest{Label: label, Message: []byte("m")})
		return status
	}
	require.Equal(t, http.StatusOK, sign("X-API-KEY", pay["keyOperation"], "pay-key"))
	require.Equal(t, http.StatusNotFound, sign("Authorization", "Bearer "+outsider, "pay-key"), "not a member: as if the key did not exist")
	require.Equal(t, http.StatusNotFound, sign("X-API-KEY", pay["keyOperation"], "legacy"), "the payments app is not in the default group")
	require.Equal(t, http.StatusOK, sign("Authorization", "Bearer "+outsider, "legacy"), "keys from before groups stay with everyone")
	for _, m := range []string{"GET", "DELETE"} {
		status, _ := serve(t, in.Server, m, "/v1/key/pay-key", "Authorization", "Bearer "+outsider, nil)
		require.Equal(t, http.StatusNotFound, status, m)
	}
	list, err := in.Client(client.Bearer(outsider)).ListKeys(ctx)
	require.NoError(t, err)
	for _, k := range list.Keys {
		require.NotEqual(t, "pay-key", k.Label, "the listing shows only the caller's groups")
	}

	// A member without keyOperation in the group is forbidden.
	_, err = in.Admin.SetGroupMember(ctx, g.ID, payApp.Account.ID, []string{"keyManagement"})
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, sign("X-API-KEY", pay["keyOperation"], "pay-key"))

	// Moving a key needs keyManagement in both groups.
	_, err = in.Client(client.APIKey(pay["keyManagement"])).MoveKey(ctx, "pay-key", wire.DefaultGroupID)
	require.ErrorIs(t, err, authn.ErrNotFound, "not a member of the target group")
	_, err = in.Admin.SetGroupMember(ctx, wire.DefaultGroupID, payApp.Account.ID, []string{"keyManagement"})
	require.NoError(t, err)
	moved, err := in.Client(client.APIKey(pay["keyManagement"])).MoveKey(ctx, "pay-key", wire.DefaultGroupID)
	require.NoError(t, err)
	require.Equal(t, wire.DefaultGroupID, moved.Group)
	require.Equal(t, http.StatusOK, sign("Authorization", "Bearer "+outsider, "pay-key"), "now in the default group")

	// A group that owns a key cannot be deleted; an empty one can.
	_, err = in.Client(client.APIKey(pay["keyManagement"])).MoveKey(ctx, "pay-key", g.ID)
	require.NoError(t, err)
	require.True(t, client.IsCode(in.Admin.DeleteGroup(ctx, g.ID), wire.CodeInUse))
	require.NoError(t, in.Client(client.APIKey(pay["keyManagement"])).DeleteKey(ctx, "pay-key"))
	require.NoError(t, in.Admin.DeleteGroup(ctx, g.ID))
	got, err := in.Admin.GetGroup(ctx, wire.DefaultGroupID)
	require.NoError(t, err)
	require.NotEmpty(t, got.Members)
}

// TestInputTheDocsRefuseIsRefused: over HTTP, the inputs the docs say are
// refused are refused, with 400 and without echo.
func TestInputTheDocsRefuseIsRefused(t *testing.T) {
	in := refservertest.Start(t, refservertest.Options{})
	ctx := context.Background()
	_, km := in.User(t, authn.RoleKeyManagement)
	for _, label := range []string{"a\u0085b", "a\u009bb", "txt\u202eexe", "a\u2067b", "cpk_" + strings.Repeat("A", 38)} {
		_, err := in.Client(client.Bearer(km)).CreateKey(ctx, wire.KeySpec{Label: label, Algorithm: "Ed25519"})
		require.True(t, client.IsCode(err, wire.CodeInvalidInput), "%q: %v", label, err)
		require.NotContains(t, err.Error(), label)
	}
	for _, u := range []wire.CreateUser{
		{Email: "a:b@example.test", Password: refservertest.Password, Roles: []string{"keyOperation"}},
		{Email: "nobody@example.test", Password: refservertest.Password, Roles: []string{}},
		{Email: "bidi\u202e@example.test", Password: refservertest.Password, Roles: []string{"keyOperation"}},
	} {
		_, err := in.Admin.CreateUser(ctx, u)
		require.True(t, client.IsCode(err, wire.CodeInvalidInput), "%+v: %v", u, err)
	}
	// A body the decoder would have "fixed": refused instead.
	r := httptest.NewRequest("POST", "/v1/key", strings.NewReader(`{"label":"dup","label":"other","algorithm":"Ed25519"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+km)
	rec := httptest.NewRecorder()
	in.Server.ServeHTTP(rec, r)
	require.Equal(t, http.StatusBadRequest, rec.Code, rec.Body)
}

// TestWireBoundsAgreeWithAuthn: the bounds the wire documents are the ones
// authn enforces.
func TestWireBoundsAgreeWithAuthn(t *testing.T) {
	require.Equal(t, authn.MaxAPIKeyValidity, time.Duration(wire.MaxAPIKeyValidSeconds)*time.Second)
	require.Equal(t, authn.MaxRotationOverlap, time.Duration(wire.MaxRotationOverlapSeconds)*time.Second)
	require.Equal(t, authn.MaxRegistrationValidity, time.Duration(wire.MaxRegistrationValidSeconds)*time.Second)
	require.Equal(t, authn.MaxRegistrationUses, wire.MaxRegistrationUses)
	require.Equal(t, authn.LatestValidUntil, wire.MaxSecretValidUntil)
	require.Equal(t, authn.MaxGroupsPerPrincipal, wire.MaxGroupIDs)
	require.Equal(t, authn.DefaultGroupID, wire.DefaultGroupID)
}

func TestTrustedProxiesConfig(t *testing.T) {
	load := func(v string) error {
		_, err := refserver.LoadConfig(flag.NewFlagSet("t", flag.ContinueOnError), []string{"-data", t.TempDir(), "-trusted-proxies", v},
			func(string) string { return "" })
		return err
	}
	require.NoError(t, load("10.0.0.0/8, 192.0.2.7,2001:db8::/32"))
	require.Error(t, load("10.0.0.0/8,proxy.example"))
}
