//go:build cgo

package refserver_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/pkcs11" // registers pkcs11:
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/p11kittest"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
)

// TestReadinessFollowsTheBackend serves a PKCS #11 token over p11-kit's
// RPC (a network HSM made of real parts) and takes it away: /readyz turns
// 503 — saying nothing but "unavailable" — as soon as an operation meets
// the outage, a sign answers backend_unavailable at once, the metrics
// show the state, and once the HSM is back the instance is ready again by
// itself and counts the recovery.
func TestReadinessFollowsTheBackend(t *testing.T) {
	tok := softhsmtest.Create(t)
	hsm := p11kittest.Start(t, tok)
	in := refservertest.Start(t, refservertest.Options{BackendURI: hsm.URIWith("&max-sessions=2")})
	ctx := context.Background()
	_, err := in.Backend.GenerateKey(ctx, backend.KeySpec{Label: "ready", Algorithm: backend.ECDSAP256})
	require.NoError(t, err)
	_, svc := in.User(t, authn.RoleService)

	get := func(path, session string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", in.URL+path, nil)
		require.NoError(t, err)
		if session != "" {
			req.Header.Set("Authorization", "Bearer "+session)
		}
		resp, err := in.Admin.HTTPClient().Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	status, body := get("/readyz", "")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `{"status":"ok"}`, body)
	_, page := get("/metrics", svc)
	require.Contains(t, page, `refserver_backend_state{state="up"} 1`)
	require.Contains(t, page, "refserver_backend_recoveries_total 0")

	hsm.Kill()
	// The first operation to meet the outage takes the instance out.
	_, err = in.Backend.Key(ctx, backend.ByLabel("ready"))
	require.ErrorIs(t, err, backend.ErrUnavailable)
	status, body = get("/readyz", "")
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.JSONEq(t, `{"status":"unavailable"}`, body)
	_, page = get("/metrics", svc)
	require.Contains(t, page, `refserver_backend_state{state="up"} 0`)
	require.NotContains(t, page, tok.Label, "metrics name no token")

	hsm.Restart()
	require.Eventually(t, func() bool {
		status, _ := get("/readyz", "")
		return status == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond, "ready again once the HSM is back")
	_, err = in.Backend.Key(ctx, backend.ByLabel("ready"))
	require.NoError(t, err)
	_, page = get("/metrics", svc)
	require.Contains(t, page, `refserver_backend_state{state="up"} 1`)
	require.True(t, strings.Contains(page, "refserver_backend_recoveries_total 1"), "%s", page)
}
