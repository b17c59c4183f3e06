package authn_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

// TestSessionsEndWithTheAPIKeyTheyCameFrom: revoking, rotating away,
// expiring or regenerating an API key ends every session made from it on
// the next request, renewal included, and a restarted service (a new
// Service on the same store) agrees.
func TestSessionsEndWithTheAPIKeyTheyCameFrom(t *testing.T) {
	cases := []struct {
		name string
		// end ends the key; it returns how long the session keeps working
		// afterwards.
		end func(t *testing.T, e *env, app authn.Account, k authn.IssuedAPIKey) time.Duration
	}{
		{"revoked", func(t *testing.T, e *env, _ authn.Account, k authn.IssuedAPIKey) time.Duration {
			require.NoError(t, e.svc.RevokeAPIKey(ctx, k.ID))
			return 0
		}},
		{"rotated without overlap", func(t *testing.T, e *env, _ authn.Account, k authn.IssuedAPIKey) time.Duration {
			_, err := e.svc.RotateAPIKey(ctx, k.ID, 0)
			require.NoError(t, err)
			return 0
		}},
		{"rotated with an overlap", func(t *testing.T, e *env, _ authn.Account, k authn.IssuedAPIKey) time.Duration {
			_, err := e.svc.RotateAPIKey(ctx, k.ID, 10*time.Minute)
			require.NoError(t, err)
			return 10 * time.Minute
		}},
		{"expired", func(t *testing.T, e *env, _ authn.Account, k authn.IssuedAPIKey) time.Duration {
			return k.ExpiresAt.Sub(e.clock.Now()) // the key's remaining life
		}},
		{"regenerated", func(t *testing.T, e *env, app authn.Account, _ authn.IssuedAPIKey) time.Duration {
			_, err := e.svc.ResetApplicationSecret(ctx, app.ID)
			require.NoError(t, err)
			return 0
		}},
		{"owner deleted", func(t *testing.T, e *env, app authn.Account, _ authn.IssuedAPIKey) time.Duration {
			require.NoError(t, e.svc.DeleteAccount(ctx, app.ID))
			return 0
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Sessions that would otherwise live for hours: only the key's
			// end can end them within this test.
			long := func(c *authn.Config) { c.SessionIdleTimeout, c.SessionLifetime = 2*time.Hour, 8*time.Hour }
			e := newEnv(t, noRateLimit, long)
			app, _ := e.app(t, authn.RoleKeyOperation)
			k, err := e.svc.CreateAPIKey(ctx, app.ID, authn.RoleKeyOperation, 20*time.Minute)
			require.NoError(t, err)
			login := authn.Credentials{BasicUser: app.ID, BasicPassword: k.Key}
			sess, err := e.svc.CreateSession(ctx, login)
			require.NoError(t, err)
			require.Equal(t, k.ID, sess.APIKeyID)
			require.False(t, sess.ExpiresAt.After(k.ExpiresAt), "a session never outlives its key")
			renewable, err := e.svc.CreateSession(ctx, login)
			require.NoError(t, err)
			bearer := authn.Credentials{Bearer: sess.Token}

			grace := c.end(t, e, app, k)
			if grace > 0 {
				_, err = e.svc.Authenticate(ctx, bearer)
				require.NoError(t, err, "still inside the overlap")
				e.clock.Advance(grace)
			}
			_, err = e.svc.Authenticate(ctx, bearer)
			require.ErrorIs(t, err, authn.ErrUnauthenticated, "the next request is refused")
			_, err = e.svc.Reauth(ctx, authn.Credentials{Bearer: renewable.Token})
			require.ErrorIs(t, err, authn.ErrUnauthenticated, "nor can the session be renewed")
			_, err = e.svc.CreateSession(ctx, login)
			require.ErrorIs(t, err, authn.ErrUnauthenticated, "nor a new one made")

			restarted := newEnvOn(t, e.store, e.path, noRateLimit, long, func(c *authn.Config) { c.Clock = e.clock.Now })
			_, err = restarted.svc.Authenticate(ctx, bearer)
			require.ErrorIs(t, err, authn.ErrUnauthenticated, "across a restart too")
		})
	}
}

// TestPasswordResetRevokesWhatThePasswordCouldObtain: a reset ends the
// user's sessions and revokes the user secret and a pending PIN; the
// decision is documented on Service.SetPassword.
func TestPasswordResetRevokesWhatThePasswordCouldObtain(t *testing.T) {
	e := newEnv(t, noRateLimit)
	admin := e.admin(t)
	u := e.user(t, "kim@example.com", authn.RoleKeyOperation)
	pin, err := e.svc.CreatePIN(ctx, admin, u.ID)
	require.NoError(t, err)
	sec, err := e.svc.RedeemPIN(ctx, u.ID, pin.PIN, addr)
	require.NoError(t, err)
	pending, err := e.svc.CreatePIN(ctx, admin, u.ID)
	require.NoError(t, err)
	sess, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: u.Email, BasicPassword: authn.NewSecret(password)})
	require.NoError(t, err)
	_, err = e.svc.Authenticate(ctx, authn.Credentials{UserSecret: sec.Secret})
	require.NoError(t, err)

	require.NoError(t, e.svc.SetPassword(ctx, u.ID, authn.NewSecret("a brand new password")))
	_, err = e.svc.Authenticate(ctx, authn.Credentials{UserSecret: sec.Secret})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "the user secret is revoked")
	_, err = e.svc.Authenticate(ctx, authn.Credentials{Bearer: sess.Token})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "sessions end")
	_, err = e.svc.RedeemPIN(ctx, u.ID, pending.PIN, addr)
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "the pending PIN is revoked")
	_, err = e.svc.UserSecretInfo(ctx, u.ID)
	require.ErrorIs(t, err, authn.ErrNotFound)

	again, err := e.svc.CreatePIN(ctx, admin, u.ID)
	require.NoError(t, err)
	_, err = e.svc.RedeemPIN(ctx, u.ID, again.PIN, addr)
	require.NoError(t, err, "a new PIN issues a new secret")
}
