package authn_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

func TestAPIKeyAuthenticatesWithItsRoleOnly(t *testing.T) {
	e := newEnv(t)
	app, keys := e.app(t, authn.RoleKeyOperation, authn.RoleService)
	require.Equal(t, authn.RoleKeyOperation, keys[0].Role)

	p, err := e.svc.AuthenticateRequest(request("X-API-KEY", keys[0].Key.Reveal()))
	require.NoError(t, err)
	require.Equal(t, app.ID, p.ID)
	require.Equal(t, authn.KindApplication, p.Kind)
	require.Equal(t, authn.MethodAPIKey, p.Method)
	require.Equal(t, keys[0].ID, p.CredentialID)
	require.True(t, p.HasRole(authn.RoleKeyOperation))
	require.False(t, p.HasRole(authn.RoleService), "a key grants its one role, not all the application's")
	require.NoError(t, p.Require(authn.RoleKeyOperation))
	err = p.Require(authn.RoleKeyManagement)
	require.ErrorIs(t, err, authn.ErrForbidden)
	require.NotErrorIs(t, err, authn.ErrUnauthenticated)
}

func TestCreateAPIKeyRules(t *testing.T) {
	e := newEnv(t)
	app, _ := e.app(t, authn.RoleKeyOperation)
	u := e.user(t, "u@example.com", authn.RoleKeyOperation)
	certApp := e.certApp(t, newCert(t), authn.RoleKeyOperation)

	cases := []struct {
		name  string
		owner string
		role  authn.Role
		valid time.Duration
		want  error
	}{
		{"second key, same role", app.ID, authn.RoleKeyOperation, 0, nil},
		{"with expiry", app.ID, authn.RoleKeyOperation, time.Hour, nil},
		{"role the application lacks", app.ID, authn.RoleAdmin, 0, authn.ErrInvalidArgument},
		{"undefined role", app.ID, authn.Role(99), 0, authn.ErrInvalidArgument},
		{"negative validity", app.ID, authn.RoleKeyOperation, -time.Second, authn.ErrInvalidArgument},
		{"users have no API keys", u.ID, authn.RoleKeyOperation, 0, authn.ErrInvalidArgument},
		{"certificate application", certApp.ID, authn.RoleKeyOperation, 0, authn.ErrInvalidArgument},
		{"unknown principal", "app_00000000000000000000000000000000", authn.RoleKeyOperation, 0, authn.ErrNotFound},
		{"too long a validity", app.ID, authn.RoleKeyOperation, authn.MaxAPIKeyValidity + time.Second, authn.ErrInvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := e.svc.CreateAPIKey(ctx, c.owner, c.role, c.valid)
			if c.want != nil {
				require.ErrorIs(t, err, c.want)
				require.Contains(t, err.Error(), c.owner, "errors name the principal")
				return
			}
			require.NoError(t, err)
			_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: k.Key})
			require.NoError(t, err)
		})
	}
	keys, err := e.svc.ListAPIKeys(ctx, app.ID)
	require.NoError(t, err)
	require.Len(t, keys, 3, "many keys per role")
}

func TestAPIKeyExpiry(t *testing.T) {
	e := newEnv(t)
	app, _ := e.app(t, authn.RoleService)
	k, err := e.svc.CreateAPIKey(ctx, app.ID, authn.RoleService, time.Hour)
	require.NoError(t, err)
	require.True(t, k.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)))

	e.clock.Advance(time.Hour - time.Nanosecond)
	_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: k.Key})
	require.NoError(t, err)
	e.clock.Advance(time.Nanosecond)
	_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: k.Key})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "expired at its expiry instant")
}

func TestListAPIKeysShowsNoSecret(t *testing.T) {
	e := newEnv(t)
	app, issued := e.app(t, authn.RoleService, authn.RoleKeyOperation)
	keys, err := e.svc.ListAPIKeys(ctx, app.ID)
	require.NoError(t, err)
	require.ElementsMatch(t, []authn.APIKey{issued[0].APIKey, issued[1].APIKey}, keys)
	_, err = e.svc.ListAPIKeys(ctx, "app_missing")
	require.ErrorIs(t, err, authn.ErrNotFound)
}

func TestRevokeAPIKeyTakesEffectAtOnce(t *testing.T) {
	e := newEnv(t)
	_, keys := e.app(t, authn.RoleService)
	_, err := e.svc.Authenticate(ctx, authn.Credentials{APIKey: keys[0].Key})
	require.NoError(t, err)
	require.NoError(t, e.svc.RevokeAPIKey(ctx, keys[0].ID))
	_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: keys[0].Key})
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	err = e.svc.RevokeAPIKey(ctx, keys[0].ID)
	require.ErrorIs(t, err, authn.ErrNotFound)
	require.Contains(t, err.Error(), keys[0].ID)
}

func TestRotateAPIKey(t *testing.T) {
	t.Run("with overlap", func(t *testing.T) {
		e := newEnv(t)
		_, keys := e.app(t, authn.RoleService)
		old := keys[0]
		next, err := e.svc.RotateAPIKey(ctx, old.ID, 10*time.Minute)
		require.NoError(t, err)
		require.Equal(t, old.Role, next.Role)
		require.Equal(t, old.PrincipalID, next.PrincipalID)
		require.True(t, next.ExpiresAt.IsZero(), "a key without expiry is replaced by one without")

		e.clock.Advance(10*time.Minute - time.Second)
		for _, k := range []authn.Secret{old.Key, next.Key} {
			_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: k})
			require.NoError(t, err, "both valid during the overlap")
		}
		e.clock.Advance(time.Second)
		_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: old.Key})
		require.ErrorIs(t, err, authn.ErrUnauthenticated, "old key dead after the overlap")
		_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: next.Key})
		require.NoError(t, err)
	})
	t.Run("immediate", func(t *testing.T) {
		e := newEnv(t)
		_, keys := e.app(t, authn.RoleService)
		next, err := e.svc.RotateAPIKey(ctx, keys[0].ID, 0)
		require.NoError(t, err)
		_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: keys[0].Key})
		require.ErrorIs(t, err, authn.ErrUnauthenticated)
		_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: next.Key})
		require.NoError(t, err)
	})
	t.Run("overlap never extends the old expiry; validity period carries over", func(t *testing.T) {
		e := newEnv(t)
		app, _ := e.app(t, authn.RoleService)
		old, err := e.svc.CreateAPIKey(ctx, app.ID, authn.RoleService, time.Hour)
		require.NoError(t, err)
		e.clock.Advance(50 * time.Minute)
		next, err := e.svc.RotateAPIKey(ctx, old.ID, time.Hour)
		require.NoError(t, err)
		require.True(t, next.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)))
		e.clock.Advance(10 * time.Minute)
		_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: old.Key})
		require.ErrorIs(t, err, authn.ErrUnauthenticated, "the old key still expires at its own expiry")
		_, err = e.svc.RotateAPIKey(ctx, old.ID, 0)
		require.ErrorIs(t, err, authn.ErrNotFound, "an expired key cannot be rotated")
	})
	t.Run("errors", func(t *testing.T) {
		e := newEnv(t)
		_, keys := e.app(t, authn.RoleService)
		_, err := e.svc.RotateAPIKey(ctx, "key_missing", 0)
		require.ErrorIs(t, err, authn.ErrNotFound)
		_, err = e.svc.RotateAPIKey(ctx, keys[0].ID, -time.Second)
		require.ErrorIs(t, err, authn.ErrInvalidArgument)
	})
}
