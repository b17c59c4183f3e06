package sqlstore_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
)

// TestPurgeKeepsTheCacheWarm: purging expired token-use records, rows the
// lookup cache never holds and which expire on every run under
// single-use JWTs, leaves the cache as it was; purging an expired session
// empties it. A session row changed behind the cache's back (its trigger
// off) shows which: the cache serves the old roles until it is emptied.
func TestPurgeKeepsTheCacheWarm(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Shared(t).NewSchema(t)
	s, err := sqlstore.OpenPostgres(ctx, dsn, sqlstore.WithCacheMaxStale(time.Hour))
	require.NoError(t, err)
	defer s.Close()
	raw, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer raw.Close()

	_, _, ses := credentials(t, s)
	_, err = s.GetSessionByHash(ctx, ses.Hash)
	require.NoError(t, err)
	_, err = raw.ExecContext(ctx, `ALTER TABLE sessions DISABLE TRIGGER sessions_cache`)
	require.NoError(t, err)
	_, err = raw.ExecContext(ctx, `UPDATE sessions SET roles = $1 WHERE id = $2`, authn.NewRoleSet(authn.RoleAdmin), ses.ID)
	require.NoError(t, err)
	rolesNow := func() authn.RoleSet {
		got, err := s.GetSessionByHash(ctx, ses.Hash)
		require.NoError(t, err)
		return got.Roles
	}
	require.Equal(t, ses.Roles, rolesNow(), "cached")

	now := time.Now().UTC()
	first, err := s.RecordTokenUse(ctx, randHash(), now.Add(-time.Second), now.Add(-time.Minute))
	require.NoError(t, err)
	require.True(t, first)
	n, err := s.PurgeExpired(ctx, now, now.Add(-24*time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "the expired token use went")
	require.Equal(t, ses.Roles, rolesNow(), "still cached")

	expired := ses
	expired.ID, expired.Hash, expired.ExpiresAt = newID("ses_"), randHash(), now.Add(-time.Second)
	require.NoError(t, s.CreateSession(ctx, expired))
	n, err = s.PurgeExpired(ctx, now, now.Add(-24*time.Hour))
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "the expired session went")
	require.Equal(t, authn.NewRoleSet(authn.RoleAdmin), rolesNow(), "the cache was emptied and the row read again")
}
