package authn_test

import (
	"errors"
	"net/netip"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

var addr = netip.MustParseAddr("192.0.2.9")

func TestUserSecretLifecycle(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t)
	u := e.user(t, "frank@example.com", authn.RoleKeyOperation)

	pin, err := e.svc.CreatePIN(ctx, admin, u.ID)
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^[0-9]{8}$`), pin.PIN.Reveal())
	require.True(t, pin.ExpiresAt.Equal(e.clock.Now().Add(10*time.Minute)))

	sec, err := e.svc.RedeemPIN(ctx, u.ID, pin.PIN, addr)
	require.NoError(t, err)
	require.Len(t, sec.Secret.Reveal(), 64)
	require.NoError(t, authn.ParseToken(authn.TokenUserSecret, sec.Secret.Reveal()))
	require.True(t, sec.ValidUntil.IsZero(), "a new secret never expires")
	require.Len(t, sec.Fingerprint, 16)

	info, err := e.svc.UserSecretInfo(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, sec.UserSecretInfo, info, "afterwards only the fingerprint is shown")

	p, err := e.svc.AuthenticateRequest(request("Authorization", sec.Secret.Reveal()))
	require.NoError(t, err)
	require.Equal(t, u.ID, p.ID)
	require.Equal(t, authn.MethodUserSecret, p.Method)
	require.Equal(t, u.Roles, p.Roles)

	_, err = e.svc.RedeemPIN(ctx, u.ID, pin.PIN, addr)
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "a PIN is single use")

	// Validity: past disables, zero re-enables, future expires then.
	use := func() error { _, err := e.svc.Authenticate(ctx, authn.Credentials{UserSecret: sec.Secret}); return err }
	require.NoError(t, e.svc.SetSecretValidity(ctx, u.ID, e.clock.Now()))
	require.ErrorIs(t, use(), authn.ErrUnauthenticated)
	require.NoError(t, e.svc.SetSecretValidity(ctx, u.ID, time.Time{}))
	require.NoError(t, use())
	require.NoError(t, e.svc.SetSecretValidity(ctx, u.ID, e.clock.Now().Add(time.Hour)))
	e.clock.Advance(time.Hour - time.Nanosecond)
	require.NoError(t, use())
	e.clock.Advance(time.Nanosecond)
	require.ErrorIs(t, use(), authn.ErrUnauthenticated)
	require.NoError(t, e.svc.SetSecretValidity(ctx, u.ID, time.Time{}))
	require.NoError(t, use())

	// A second PIN replaces the secret: one per user.
	pin2, err := e.svc.CreatePIN(ctx, admin, u.ID)
	require.NoError(t, err)
	sec2, err := e.svc.RedeemPIN(ctx, u.ID, pin2.PIN, addr)
	require.NoError(t, err)
	require.ErrorIs(t, use(), authn.ErrUnauthenticated, "the old secret is replaced")
	_, err = e.svc.Authenticate(ctx, authn.Credentials{UserSecret: sec2.Secret})
	require.NoError(t, err)

	require.NoError(t, e.svc.DeleteSecret(ctx, u.ID))
	_, err = e.svc.Authenticate(ctx, authn.Credentials{UserSecret: sec2.Secret})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "delete revokes at once")
	require.ErrorIs(t, e.svc.DeleteSecret(ctx, u.ID), authn.ErrNotFound)
	_, err = e.svc.UserSecretInfo(ctx, u.ID)
	require.ErrorIs(t, err, authn.ErrNotFound)
	require.ErrorIs(t, e.svc.SetSecretValidity(ctx, u.ID, time.Time{}), authn.ErrNotFound)
}

func TestCreatePINNeedsAnAdminUser(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "gus@example.com", authn.RoleKeyOperation)
	plain := e.user(t, "hal@example.com", authn.RoleKeyManagement)
	plainSession, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: plain.Email, BasicPassword: authn.NewSecret(password)})
	require.NoError(t, err)
	notAdmin, err := e.svc.Authenticate(ctx, authn.Credentials{Bearer: plainSession.Token})
	require.NoError(t, err)
	app, keys := e.app(t, authn.RoleAdmin)
	appAdmin, err := e.svc.Authenticate(ctx, authn.Credentials{APIKey: keys[0].Key})
	require.NoError(t, err)
	require.Equal(t, app.ID, appAdmin.ID)

	for name, issuer := range map[string]authn.Principal{
		"user without admin":      notAdmin,
		"application with admin":  appAdmin,
		"unauthenticated (zero)":  {},
		"forged roles without ID": {Kind: authn.KindUser, Roles: authn.NewRoleSet(authn.RoleAdmin)},
	} {
		_, err := e.svc.CreatePIN(ctx, issuer, u.ID)
		require.ErrorIs(t, err, authn.ErrForbidden, name)
	}
	admin := e.admin(t)
	_, err = e.svc.CreatePIN(ctx, admin, app.ID)
	require.ErrorIs(t, err, authn.ErrInvalidArgument, "PINs are for users")
	_, err = e.svc.CreatePIN(ctx, admin, "usr_missing")
	require.ErrorIs(t, err, authn.ErrNotFound)
}

func TestPINExpiresAfterTenMinutes(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "ida@example.com", authn.RoleService)
	pin, err := e.svc.CreatePIN(ctx, e.admin(t), u.ID)
	require.NoError(t, err)
	e.clock.Advance(10 * time.Minute)
	_, err = e.svc.RedeemPIN(ctx, u.ID, pin.PIN, addr)
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
}

func wrongPIN(p authn.Secret) authn.Secret {
	b := []byte(p.Reveal())
	b[0] = '0' + (b[0]-'0'+1)%10
	return authn.NewSecret(string(b))
}

func TestPINBurnsAfterFiveAttempts(t *testing.T) {
	for _, c := range []struct {
		wrong int
		ok    bool
	}{{4, true}, {5, false}} {
		e := newEnv(t, noRateLimit)
		u := e.user(t, "jon@example.com", authn.RoleService)
		pin, err := e.svc.CreatePIN(ctx, e.admin(t), u.ID)
		require.NoError(t, err)
		for range c.wrong {
			_, err := e.svc.RedeemPIN(ctx, u.ID, wrongPIN(pin.PIN), addr)
			require.ErrorIs(t, err, authn.ErrUnauthenticated)
		}
		_, err = e.svc.RedeemPIN(ctx, u.ID, pin.PIN, addr)
		if c.ok {
			require.NoError(t, err, "the right PIN after %d wrong ones", c.wrong)
		} else {
			require.ErrorIs(t, err, authn.ErrUnauthenticated, "burnt after %d wrong attempts", c.wrong)
		}
	}
}

func TestRedeemPINMalformedInput(t *testing.T) {
	e := newEnv(t, noRateLimit)
	u := e.user(t, "kai@example.com", authn.RoleService)
	pin, err := e.svc.CreatePIN(ctx, e.admin(t), u.ID)
	require.NoError(t, err)
	for name, c := range map[string]struct{ id, pin string }{
		"short PIN":         {u.ID, "1234567"},
		"letters":           {u.ID, "1234567a"},
		"empty account":     {"", pin.PIN.Reveal()},
		"control character": {u.ID + "\n", pin.PIN.Reveal()},
		"unknown account":   {"usr_missing", pin.PIN.Reveal()},
	} {
		_, err := e.svc.RedeemPIN(ctx, c.id, authn.NewSecret(c.pin), addr)
		require.ErrorIs(t, err, authn.ErrUnauthenticated, name)
	}
	_, err = e.svc.RedeemPIN(ctx, u.ID, pin.PIN, addr)
	require.NoError(t, err, "malformed attempts do not spend the PIN's attempts")
}

func TestConcurrentPINRedemptionHasOneWinner(t *testing.T) {
	e := newEnv(t)
	u := e.user(t, "lou@example.com", authn.RoleService)
	pin, err := e.svc.CreatePIN(ctx, e.admin(t), u.ID)
	require.NoError(t, err)
	var wins atomic.Int32
	var winner atomic.Value
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			sec, err := e.svc.RedeemPIN(ctx, u.ID, pin.PIN, addr)
			if err == nil {
				wins.Add(1)
				winner.Store(sec.Secret)
				return
			}
			assert.True(t, errors.Is(err, authn.ErrUnauthenticated) || errors.Is(err, authn.ErrRateLimited), "%v", err)
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), wins.Load(), "50 goroutines redeeming one PIN: exactly one wins")
	p, err := e.svc.Authenticate(ctx, authn.Credentials{UserSecret: winner.Load().(authn.Secret)})
	require.NoError(t, err)
	require.Equal(t, u.ID, p.ID)
}
