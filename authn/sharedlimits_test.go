package authn_test

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
)

// twoInstances returns two Services sharing one database, as two server
// instances behind a load balancer, with shared rate limits and one clock.
func twoInstances(t *testing.T, dialect string) (a, b *env) {
	path, dsn := t.TempDir()+"/authn.db", ""
	if dialect == "postgres" {
		dsn = pgtest.Shared(t).NewSchema(t)
	}
	open := func() authn.Store {
		var (
			st  *sqlstore.Store
			err error
		)
		if dsn == "" {
			st, err = sqlstore.OpenSQLite(ctx, path)
		} else {
			st, err = sqlstore.OpenPostgres(ctx, dsn)
		}
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return st
	}
	shared := func(c *authn.Config) { c.RateLimit.Shared = true; c.RateLimit.FreeFailures = 3 }
	a = newEnvOn(t, open(), "", shared)
	b = newEnvOn(t, open(), "", shared, func(c *authn.Config) { c.Clock = a.clock.Now })
	return a, b
}

func TestSharedLimitsFollowTheGuesserAcrossInstances(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			a, b := twoInstances(t, dialect)
			a.user(t, "victim@example.com", authn.RoleKeyOperation)
			guess := func(e *env, addr string) error {
				_, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: "victim@example.com",
					BasicPassword: authn.NewSecret("wrong guess"), RemoteAddr: netip.MustParseAddr(addr)})
				return err
			}
			// Three free failures, spread over both instances and two
			// addresses: the account's count is one count.
			require.ErrorIs(t, guess(a, "198.51.100.1"), authn.ErrUnauthenticated)
			require.ErrorIs(t, guess(b, "198.51.100.2"), authn.ErrUnauthenticated)
			require.ErrorIs(t, guess(a, "198.51.100.1"), authn.ErrUnauthenticated)
			require.ErrorIs(t, guess(b, "198.51.100.2"), authn.ErrUnauthenticated, "the fourth failure blocks")
			// Instance B blocks the account for a guesser from a third
			// address, though B itself saw two failures from another one.
			err := guess(b, "198.51.100.3")
			require.ErrorIs(t, err, authn.ErrRateLimited, "switching instance and address resets nothing")
			err = guess(a, "198.51.100.4")
			require.ErrorIs(t, err, authn.ErrRateLimited)
		})
	}
}

func TestSharedLimitsNeverLockOutAValidToken(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			a, b := twoInstances(t, dialect)
			_, keys := a.app(t, authn.RoleKeyOperation)
			shared := netip.MustParseAddr("203.0.113.7") // a NAT both the caller and the attacker are behind
			// The attacker fails with made-up keys on both instances until the
			// address is blocked everywhere.
			var last error
			for i := range 12 {
				e := []*env{a, b}[i%2]
				_, last = e.svc.Authenticate(ctx, authn.Credentials{APIKey: authn.NewToken(authn.TokenAPIKey), RemoteAddr: shared})
			}
			require.ErrorIs(t, last, authn.ErrRateLimited)
			for _, e := range []*env{a, b} {
				_, err := e.svc.Authenticate(ctx, authn.Credentials{APIKey: keys[0].Key, RemoteAddr: shared})
				require.NoError(t, err, "a valid key from the blocked address is served")
			}
		})
	}
}

func TestSharedLimitsBlockARetriedBadTokenEverywhere(t *testing.T) {
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			a, b := twoInstances(t, dialect)
			bad := authn.NewToken(authn.TokenSession)
			try := func(e *env, addr string) error {
				_, err := e.svc.Authenticate(ctx, authn.Credentials{Bearer: bad, RemoteAddr: netip.MustParseAddr(addr)})
				return err
			}
			// Four failures on A from rotating addresses block the token...
			for i := range 4 {
				require.ErrorIs(t, try(a, "192.0.2."+string(rune('1'+i))), authn.ErrUnauthenticated)
			}
			require.ErrorIs(t, try(a, "192.0.2.9"), authn.ErrRateLimited)
			// ...and B, which never saw it, learns the shared count at its
			// first failure and refuses it unseen from then on.
			require.ErrorIs(t, try(b, "192.0.2.10"), authn.ErrUnauthenticated)
			require.ErrorIs(t, try(b, "192.0.2.11"), authn.ErrRateLimited)
		})
	}
}

func TestSharedLimitsNeedAFailureCounter(t *testing.T) {
	_, err := authn.NewService(authn.Config{Store: struct{ authn.Store }{}, Peppers: testPeppers(t, 1, 1),
		RateLimit: authn.RateLimitConfig{Shared: true}})
	require.ErrorIs(t, err, authn.ErrInvalidArgument)
}
