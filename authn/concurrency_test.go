package authn_test

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
)

// TestThousandParallelSessions creates 1000 sessions at once (API-key
// logins: HMAC only, so the test stays fast) and checks that none was lost
// or duplicated and that every token authenticates as its own session.
func TestThousandParallelSessions(t *testing.T) {
	e := newEnv(t)
	app, keys := e.app(t, authn.RoleService)
	const n = 1000
	sessions := make([]authn.IssuedSession, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			sessions[i], errs[i] = e.svc.CreateSession(ctx, authn.Credentials{BasicUser: app.ID, BasicPassword: keys[0].Key})
		})
	}
	close(start)
	wg.Wait()

	tokens, ids := map[string]bool{}, map[string]bool{}
	for i := range n {
		require.NoError(t, errs[i])
		tokens[sessions[i].Token.Reveal()] = true
		ids[sessions[i].ID] = true
	}
	require.Len(t, tokens, n, "no duplicate token")
	require.Len(t, ids, n, "no duplicate session ID")
	stored, err := e.svc.ListSessions(ctx, app.ID)
	require.NoError(t, err)
	require.Len(t, stored, n, "no session lost")

	var bad atomic.Int32
	for i := range n {
		wg.Go(func() {
			p, err := e.svc.Authenticate(ctx, authn.Credentials{Bearer: sessions[i].Token})
			if err != nil || p.CredentialID != sessions[i].ID {
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	require.Zero(t, bad.Load(), "every token authenticates as its own session")
}

// TestInstancesShareStateThroughPostgres runs two Services, as two server
// instances would, on one PostgreSQL database.
func TestInstancesShareStateThroughPostgres(t *testing.T) {
	dsn := pgtest.Shared(t).NewSchema(t)
	open := func(tweak ...func(*authn.Config)) *env {
		st, err := sqlstore.OpenPostgres(ctx, dsn)
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		return newEnvOn(t, st, "", tweak...)
	}
	a := open()
	b := open(func(c *authn.Config) { c.Clock = a.clock.Now })

	app, keys := a.app(t, authn.RoleService)
	s, err := a.svc.CreateSession(ctx, authn.Credentials{BasicUser: app.ID, BasicPassword: keys[0].Key})
	require.NoError(t, err)
	_, err = b.svc.Authenticate(ctx, authn.Credentials{Bearer: s.Token})
	require.NoError(t, err, "a session from instance A works on B")
	require.NoError(t, b.svc.TerminateSession(ctx, s.ID))
	_, err = a.svc.Authenticate(ctx, authn.Credentials{Bearer: s.Token})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "terminated on B, refused on A at once")

	u := a.user(t, "rae@example.com", authn.RoleService)
	pin, err := a.svc.CreatePIN(ctx, a.admin(t), u.ID)
	require.NoError(t, err)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 50 {
		svc := []*authn.Service{a.svc, b.svc}[i%2]
		wg.Go(func() {
			if _, err := svc.RedeemPIN(ctx, u.ID, pin.PIN, addr); err == nil {
				wins.Add(1)
			} else {
				assert.True(t, errors.Is(err, authn.ErrUnauthenticated) || errors.Is(err, authn.ErrRateLimited), "%v", err)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), wins.Load(), "one PIN, two instances, 50 redemptions: one winner")

	issued, err := b.svc.ResetApplicationSecret(ctx, app.ID)
	require.NoError(t, err)
	_, err = a.svc.Authenticate(ctx, authn.Credentials{APIKey: keys[0].Key})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "regenerated on B, old key refused on A")
	_, err = a.svc.Authenticate(ctx, authn.Credentials{APIKey: issued[0].Key})
	require.NoError(t, err)
}

func TestPurgeExpired(t *testing.T) {
	e := newEnv(t)
	app, keys := e.app(t, authn.RoleService)
	_, err := e.svc.CreateAPIKey(ctx, app.ID, authn.RoleService, time.Minute)
	require.NoError(t, err)
	_, err = e.svc.CreateSession(ctx, authn.Credentials{BasicUser: app.ID, BasicPassword: keys[0].Key})
	require.NoError(t, err)
	n, err := e.svc.PurgeExpired(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	e.clock.Advance(16 * time.Minute) // past the key's expiry and the session's idle timeout
	n, err = e.svc.PurgeExpired(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(2), n)
	list, err := e.svc.ListAPIKeys(ctx, app.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
}
