package refserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
	"github.com/cryptoplug/cryptoplug/wire"
)

// fakeClock is authn's clock in the cascade catalogue: expiry without
// waiting.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// victims are the credentials one cascade row starts from: an application
// with two API keys and a session made from each, and a user with a
// password session, a user secret and a pending PIN.
type victims struct {
	app, user          string
	keyA, keyAID, keyB string
	sessA, sessB       string
	userSess, secret   string
	pin                string
}

// credential names, as the cascade table uses them.
const (
	keyA     = "API key A"
	sessA    = "session from key A"
	keyB     = "API key B"
	sessB    = "session from key B"
	userSess = "the user's session"
	secret   = "the user's secret"
	pin      = "the user's pending PIN"
)

// cascades: revoking, rotating, expiring, deleting or resetting a
// credential or a principal ends exactly what was derived from it, on the
// next request, and a restarted server agrees. Each row acts through the
// HTTP API as the administrator.
var cascades = []struct {
	trigger string
	act     func(t *testing.T, c *cascadeRun)
	dead    []string
}{
	{"DELETE /sys/v1/apikeys/{A}", func(t *testing.T, c *cascadeRun) {
		require.NoError(t, c.admin.RevokeAPIKey(c.ctx, c.v.keyAID))
	}, []string{keyA, sessA}},
	{"rotate key A without overlap", func(t *testing.T, c *cascadeRun) {
		next, err := c.admin.RotateAPIKey(c.ctx, c.v.keyAID, 0)
		require.NoError(t, err)
		c.h.secret("rotated key", next.Key)
		c.requireAlive(t, "the rotated key", "X-API-KEY", next.Key)
	}, []string{keyA, sessA}},
	{"rotate key A with a 60 s overlap, 61 s pass", func(t *testing.T, c *cascadeRun) {
		next, err := c.admin.RotateAPIKey(c.ctx, c.v.keyAID, 60)
		require.NoError(t, err)
		c.h.secret("rotated key", next.Key)
		c.requireAlive(t, sessA+" during the overlap", "Authorization", "Bearer "+c.v.sessA)
		c.clock.Advance(61 * time.Second)
		c.requireAlive(t, "the rotated key", "X-API-KEY", next.Key)
	}, []string{keyA, sessA}},
	{"key A expires (valid_for_seconds 120, 121 s pass)", func(t *testing.T, c *cascadeRun) {
		c.clock.Advance(121 * time.Second)
	}, []string{keyA, sessA}},
	{"POST /sys/v1/apps/{id}/reset_secret", func(t *testing.T, c *cascadeRun) {
		_, err := c.admin.ResetApplicationSecret(c.ctx, c.v.app)
		require.NoError(t, err)
	}, []string{keyA, sessA, keyB, sessB}},
	{"switch the application to a certificate", func(t *testing.T, c *cascadeRun) {
		_, err := c.admin.SwitchMethod(c.ctx, c.v.app, wire.SwitchMethod{Method: "certificate", Certificate: c.certPEM})
		require.NoError(t, err)
	}, []string{keyA, sessA, keyB, sessB}},
	{"DELETE /sys/v1/apps/{id}", func(t *testing.T, c *cascadeRun) {
		require.NoError(t, c.admin.DeleteApplication(c.ctx, c.v.app))
	}, []string{keyA, sessA, keyB, sessB}},
	{"DELETE /sys/v1/accounts/{app}/sessions", func(t *testing.T, c *cascadeRun) {
		_, err := c.admin.TerminateSessions(c.ctx, c.v.app)
		require.NoError(t, err)
	}, []string{sessA, sessB}},
	{"PUT /sys/v1/users/{id}/password (a password reset)", func(t *testing.T, c *cascadeRun) {
		require.NoError(t, c.admin.SetPassword(c.ctx, c.v.user, c.h.secret("new password", "a completely new password")))
	}, []string{userSess, secret, pin}},
	{"DELETE /sys/v1/users/{id}", func(t *testing.T, c *cascadeRun) {
		require.NoError(t, c.admin.DeleteUser(c.ctx, c.v.user))
	}, []string{userSess, secret, pin}},
	{"DELETE /users/{user}/secrets", func(t *testing.T, c *cascadeRun) {
		_, err := c.admin.DeleteSecret(c.ctx, c.v.user)
		require.NoError(t, err)
	}, []string{secret}},
	{"PATCH /users/{user}/secrets to a past time", func(t *testing.T, c *cascadeRun) {
		_, err := c.admin.SetSecretValidity(c.ctx, c.v.user, c.clock.Now().Add(-time.Hour))
		require.NoError(t, err)
	}, []string{secret}},
	{"DELETE /sys/v1/accounts/{user}/sessions", func(t *testing.T, c *cascadeRun) {
		_, err := c.admin.TerminateSessions(c.ctx, c.v.user)
		require.NoError(t, err)
	}, []string{userSess}},
	{"the user leaves the key's group", func(t *testing.T, c *cascadeRun) {
		require.NoError(t, c.admin.RemoveGroupMember(c.ctx, wire.DefaultGroupID, c.v.user))
	}, []string{userSess, secret}},
	{"the user's session is renewed (reauth)", func(t *testing.T, c *cascadeRun) {
		next, err := c.h.w.in.Client(clientBearer(c.v.userSess)).Reauth(c.ctx)
		require.NoError(t, err)
		c.h.secret("renewed session", next.AccessToken)
		c.requireAlive(t, "the renewed session", "Authorization", "Bearer "+next.AccessToken)
	}, []string{userSess}},
}

type cascadeRun struct {
	ctx     context.Context
	h       *harness
	admin   *client.Client
	clock   *fakeClock
	v       victims
	certPEM string
	servers []http.Handler // the running server and a restarted one
}

func pemCertificate(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// status sends a sign request with the credential header to server i.
func (c *cascadeRun) status(t *testing.T, i int, header, value string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(wire.SignRequest{Label: "m-ec", Message: []byte("still me?")})
	r := httptest.NewRequest("POST", "/v1/sign", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set(header, value)
	rec := httptest.NewRecorder()
	c.servers[i].ServeHTTP(rec, r)
	require.Less(t, rec.Code, 500, rec.Body)
	if rec.Code >= 300 {
		c.h.errorBodies.WriteString(rec.Body.String())
	}
	return rec.Code, rec.Body.String()
}

func (c *cascadeRun) requireAlive(t *testing.T, what, header, value string) {
	t.Helper()
	code, body := c.status(t, 0, header, value)
	require.Equal(t, http.StatusOK, code, "%s: %s", what, body)
}

// redeem tries the pending PIN on server i.
func (c *cascadeRun) redeem(t *testing.T, i int) int {
	t.Helper()
	body, _ := json.Marshal(wire.RedeemPIN{PIN: c.v.pin})
	r := httptest.NewRequest("POST", "/secrets/"+c.v.user, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	c.servers[i].ServeHTTP(rec, r)
	require.Less(t, rec.Code, 500, rec.Body)
	return rec.Code
}

func TestRevocationCascades(t *testing.T) {
	clock := &fakeClock{t: time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)}
	h := newHarness(t, refservertest.Options{Clock: clock.Now})
	in := h.w.in
	ctx := context.Background()
	pki := newTestPKI(t, t.TempDir())
	for _, row := range cascades {
		t.Run(row.trigger, func(t *testing.T) {
			c := &cascadeRun{ctx: ctx, h: h, admin: in.Admin, clock: clock, servers: []http.Handler{in.Server},
				certPEM: pemCertificate(pki.clientX509.Raw)}
			c.v = newVictims(t, h)
			credentials := map[string][2]string{
				keyA: {"X-API-KEY", c.v.keyA}, sessA: {"Authorization", "Bearer " + c.v.sessA},
				keyB: {"X-API-KEY", c.v.keyB}, sessB: {"Authorization", "Bearer " + c.v.sessB},
				userSess: {"Authorization", "Bearer " + c.v.userSess}, secret: {"Authorization", c.v.secret},
			}
			for name, hv := range credentials {
				c.requireAlive(t, name+" before", hv[0], hv[1])
			}

			row.act(t, c)

			_, restarted := in.Restart(t)
			c.servers = append(c.servers, restarted)
			dead := map[string]bool{}
			for _, d := range row.dead {
				dead[d] = true
			}
			for i, server := range []string{"the server", "a restarted server"} {
				for name, hv := range credentials {
					code, body := c.status(t, i, hv[0], hv[1])
					switch {
					case !dead[name]:
						require.Equal(t, http.StatusOK, code, "%s on %s: untouched by %s: %s", name, server, row.trigger, body)
					case name == userSess || name == secret:
						// Ended, or alive without access to the key.
						require.Contains(t, []int{http.StatusUnauthorized, http.StatusNotFound}, code, "%s on %s: %s", name, server, body)
					default:
						require.Equal(t, http.StatusUnauthorized, code, "%s on %s after %s: %s", name, server, row.trigger, body)
					}
				}
			}
			want := http.StatusOK
			if dead[pin] {
				want = http.StatusUnauthorized
			}
			require.Equal(t, want, c.redeem(t, 1), "the pending PIN, on the restarted server")
		})
	}
	t.Run("no secret in any log or error body", func(t *testing.T) {
		logs, bodies := h.log.String(), h.errorBodies.String()
		for name, v := range h.secrets {
			requireNoSecret(t, logs, name+" in the logs", v)
			requireNoSecret(t, bodies, name+" in an error body", v)
		}
	})
}

var victimSeq int

func newVictims(t *testing.T, h *harness) victims {
	ctx := context.Background()
	in, w := h.w.in, h.w
	victimSeq++
	var v victims
	app, keys, err := in.Auth.CreateApplication(ctx, authn.ApplicationSpec{Name: "victim app", Roles: authn.NewRoleSet(authn.RoleKeyOperation), Method: authn.MethodAPIKey})
	require.NoError(t, err)
	v.app = app.ID
	a, err := in.Auth.CreateAPIKey(ctx, app.ID, authn.RoleKeyOperation, 120*time.Second)
	require.NoError(t, err)
	v.keyA, v.keyAID, v.keyB = h.secret("key A", a.Key.Reveal()), a.ID, h.secret("key B", keys[0].Key.Reveal())
	login := func(user string, pw authn.Secret) string {
		s, err := in.Auth.CreateSession(ctx, authn.Credentials{BasicUser: user, BasicPassword: pw})
		require.NoError(t, err)
		return h.secret("session "+s.ID, s.Token.Reveal())
	}
	v.sessA, v.sessB = login(app.ID, a.Key), login(app.ID, keys[0].Key)
	email := "victim" + itoa(victimSeq) + "@example.test"
	u, err := in.Auth.CreateUser(ctx, email, authn.NewSecret(refservertest.Password), authn.NewRoleSet(authn.RoleKeyOperation))
	require.NoError(t, err)
	v.user = u.ID
	v.userSess = login(email, authn.NewSecret(refservertest.Password))
	p, err := in.Auth.CreatePIN(ctx, w.admin, u.ID)
	require.NoError(t, err)
	s, err := in.Auth.RedeemPIN(ctx, u.ID, p.PIN, netipLoopback)
	require.NoError(t, err)
	v.secret = h.secret("user secret "+u.ID, s.Secret.Reveal())
	p, err = in.Auth.CreatePIN(ctx, w.admin, u.ID)
	require.NoError(t, err)
	v.pin = h.secret("PIN "+u.ID, p.PIN.Reveal())
	return v
}
