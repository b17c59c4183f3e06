package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
)

// cacheBound is the cache bound these tests open stores with.
const cacheBound = 200 * time.Millisecond

func newID(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func randHash() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// credentials puts an application with one API key and one session made
// from it into s.
func credentials(t *testing.T, s authn.Store) (authn.PrincipalRecord, authn.APIKeyRecord, authn.SessionRecord) {
	t.Helper()
	now := time.Now().UTC()
	p := authn.PrincipalRecord{ID: newID("app_"), Kind: authn.KindApplication, Name: "cached", Method: authn.MethodAPIKey,
		Roles: authn.NewRoleSet(authn.RoleKeyOperation), CreatedAt: now}
	k := authn.APIKeyRecord{ID: newID("key_"), PrincipalID: p.ID, Role: authn.RoleKeyOperation, Hash: randHash(), PepperVersion: 1, CreatedAt: now}
	require.NoError(t, s.CreatePrincipal(context.Background(), p, []authn.APIKeyRecord{k}))
	ses := authn.SessionRecord{ID: newID("ses_"), Hash: randHash(), PepperVersion: 1, PrincipalID: p.ID, PrincipalKind: p.Kind,
		Roles: p.Roles, Method: authn.MethodAPIKey, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)}
	require.NoError(t, s.CreateSession(context.Background(), ses))
	return p, k, ses
}

// goneWithin looks up on the test goroutine until the lookup fails with
// ErrNotFound, and checks the bound: no lookup that started more than
// cacheBound after changedAt may still find it.
func goneWithin(t *testing.T, what string, changedAt time.Time, lookup func() error) {
	t.Helper()
	for {
		start := time.Now()
		err := lookup()
		if err != nil {
			require.ErrorIs(t, err, authn.ErrNotFound, what)
			return
		}
		require.True(t, start.Before(changedAt.Add(cacheBound)), "%s: still found %v after the change (bound %v)",
			what, start.Sub(changedAt), cacheBound)
	}
}

// twoStores opens two Stores on one database, as two server instances
// would, and a raw connection for changes made behind their backs.
type twoStores struct {
	a, b *sqlstore.Store
	raw  *sql.DB
	q    func(string) string // placeholders for raw
}

func openTwo(t *testing.T, dialect string) twoStores {
	ctx := context.Background()
	opt := sqlstore.WithCacheMaxStale(cacheBound)
	var ts twoStores
	var err error
	switch dialect {
	case "sqlite":
		path := filepath.Join(t.TempDir(), "authn.db")
		ts.a, err = sqlstore.OpenSQLite(ctx, path, opt)
		require.NoError(t, err)
		ts.b, err = sqlstore.OpenSQLite(ctx, path, opt)
		require.NoError(t, err)
		ts.raw, err = sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)")
		ts.q = func(s string) string { return s }
	default:
		dsn := pgtest.Shared(t).NewSchema(t)
		ts.a, err = sqlstore.OpenPostgres(ctx, dsn, opt)
		require.NoError(t, err)
		ts.b, err = sqlstore.OpenPostgres(ctx, dsn, opt)
		require.NoError(t, err)
		ts.raw, err = sql.Open("pgx", dsn)
		ts.q = func(s string) string { return dollar(s) }
	}
	require.NoError(t, err)
	t.Cleanup(func() { ts.a.Close(); ts.b.Close(); ts.raw.Close() })
	return ts
}

func dollar(s string) string {
	out := []byte{}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '?' {
			n++
			out = append(out, '$', byte('0'+n))
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}

// TestCacheCoherentAcrossStores warms instance B's cache, changes the
// credentials through instance A (or with SQL behind both), and checks that
// A forgets at once and B within the bound.
func TestCacheCoherentAcrossStores(t *testing.T) {
	ctx := context.Background()
	type creds struct {
		p authn.PrincipalRecord
		k authn.APIKeyRecord
		s authn.SessionRecord
	}
	for _, tc := range []struct {
		name           string
		change         func(ts twoStores, c creds) error
		sessionGone    bool
		apiKeyGone     bool
		changedThrough string // "A", or "SQL" for neither store
	}{
		{"terminate session", func(ts twoStores, c creds) error { return ts.a.DeleteSession(ctx, c.s.ID) }, true, false, "A"},
		{"terminate all sessions", func(ts twoStores, c creds) error { _, err := ts.a.DeleteSessions(ctx, c.p.ID); return err }, true, false, "A"},
		{"revoke API key", func(ts twoStores, c creds) error { return ts.a.DeleteAPIKey(ctx, c.k.ID) }, false, true, "A"},
		{"reset credentials", func(ts twoStores, c creds) error {
			return ts.a.ResetCredentials(ctx, c.p, nil)
		}, true, true, "A"},
		{"delete principal", func(ts twoStores, c creds) error { return ts.a.DeletePrincipal(ctx, c.p.ID) }, true, true, "A"},
		{"session deleted with SQL", func(ts twoStores, c creds) error {
			_, err := ts.raw.ExecContext(ctx, ts.q(`DELETE FROM sessions WHERE id = ?`), c.s.ID)
			return err
		}, true, false, "SQL"},
		{"API key deleted with SQL", func(ts twoStores, c creds) error {
			_, err := ts.raw.ExecContext(ctx, ts.q(`DELETE FROM api_keys WHERE id = ?`), c.k.ID)
			return err
		}, false, true, "SQL"},
	} {
		for _, dialect := range []string{"sqlite", "postgres"} {
			t.Run(dialect+"/"+tc.name, func(t *testing.T) {
				ts := openTwo(t, dialect)
				p, k, s := credentials(t, ts.a)
				for _, st := range []*sqlstore.Store{ts.a, ts.b} {
					_, err := st.GetSessionByHash(ctx, s.Hash)
					require.NoError(t, err)
					_, err = st.GetAPIKeyByHash(ctx, k.Hash)
					require.NoError(t, err)
				}
				require.NoError(t, tc.change(ts, creds{p, k, s}))
				at := time.Now()
				if tc.changedThrough == "A" {
					if tc.sessionGone {
						_, err := ts.a.GetSessionByHash(ctx, s.Hash)
						require.ErrorIs(t, err, authn.ErrNotFound, "gone at once through the store that changed it")
					}
					if tc.apiKeyGone {
						_, err := ts.a.GetAPIKeyByHash(ctx, k.Hash)
						require.ErrorIs(t, err, authn.ErrNotFound, "gone at once through the store that changed it")
					}
				}
				others := []*sqlstore.Store{ts.b}
				if tc.changedThrough == "SQL" {
					others = append(others, ts.a)
				}
				for _, st := range others {
					if tc.sessionGone {
						goneWithin(t, "session", at, func() error { _, err := st.GetSessionByHash(ctx, s.Hash); return err })
					}
					if tc.apiKeyGone {
						goneWithin(t, "API key", at, func() error { _, err := st.GetAPIKeyByHash(ctx, k.Hash); return err })
					}
				}
			})
		}
	}
}

// TestCacheSeesTouchAndRotation checks the changes that update rather than
// delete: a touch on A shows its new last-use time on B, a rotation on A
// shows the old key's new expiry on B, both within the bound.
func TestCacheSeesTouchAndRotation(t *testing.T) {
	ctx := context.Background()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ts := openTwo(t, dialect)
			_, k, s := credentials(t, ts.a)
			_, err := ts.b.GetSessionByHash(ctx, s.Hash)
			require.NoError(t, err)
			_, err = ts.b.GetAPIKeyByHash(ctx, k.Hash)
			require.NoError(t, err)

			touched := s.LastUsedAt.Add(time.Minute)
			require.NoError(t, ts.a.TouchSession(ctx, s.ID, touched))
			expiry := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
			next := authn.APIKeyRecord{ID: newID("key_"), PrincipalID: k.PrincipalID, Role: k.Role, Hash: randHash(), PepperVersion: 1, CreatedAt: time.Now()}
			require.NoError(t, ts.a.RotateAPIKey(ctx, k.ID, expiry, next))
			at := time.Now()
			got, err := ts.a.GetSessionByHash(ctx, s.Hash)
			require.NoError(t, err)
			require.True(t, got.LastUsedAt.Equal(touched), "A sees its own touch at once")
			for {
				start := time.Now()
				sess, err := ts.b.GetSessionByHash(ctx, s.Hash)
				require.NoError(t, err)
				key, err := ts.b.GetAPIKeyByHash(ctx, k.Hash)
				require.NoError(t, err)
				if sess.LastUsedAt.Equal(touched) && key.ExpiresAt.Equal(expiry) {
					break
				}
				require.True(t, start.Before(at.Add(cacheBound)), "B still served the old record %v after the change", start.Sub(at))
			}
		})
	}
}

// TestCacheSeesAccessChanges checks KeyAccess's cached answers: a
// membership changed and a key assigned to another group on A show on B
// within the bound, and on A at once.
func TestCacheSeesAccessChanges(t *testing.T) {
	ctx := context.Background()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ts := openTwo(t, dialect)
			p, _, _ := credentials(t, ts.a)
			require.NoError(t, ts.a.SetMembership(ctx, authn.MembershipRecord{PrincipalID: p.ID, GroupID: authn.DefaultGroupID,
				Roles: authn.NewRoleSet(authn.RoleKeyOperation)}))
			keyID := hex.EncodeToString(randHash()[:16])
			g := authn.GroupRecord{ID: newID("grp_"), Name: "other-" + keyID[:8], CreatedAt: time.Now()}
			require.NoError(t, ts.a.CreateGroup(ctx, g))
			for _, st := range []*sqlstore.Store{ts.a, ts.b} {
				group, roles, err := st.KeyAccess(ctx, p.ID, keyID)
				require.NoError(t, err)
				require.Equal(t, authn.DefaultGroupID, group)
				require.True(t, roles.Has(authn.RoleKeyOperation))
			}
			check := func(what string, want func(group string, roles authn.RoleSet) bool) {
				at := time.Now()
				group, roles, err := ts.a.KeyAccess(ctx, p.ID, keyID)
				require.NoError(t, err)
				require.True(t, want(group, roles), "%s: A sees it at once", what)
				for {
					start := time.Now()
					group, roles, err := ts.b.KeyAccess(ctx, p.ID, keyID)
					require.NoError(t, err)
					if want(group, roles) {
						return
					}
					require.True(t, start.Before(at.Add(cacheBound)), "%s: B still served the old answer %v after the change", what, start.Sub(at))
				}
			}
			require.NoError(t, ts.a.DeleteMembership(ctx, p.ID, authn.DefaultGroupID))
			check("membership deleted", func(_ string, roles authn.RoleSet) bool { return roles == 0 })
			require.NoError(t, ts.a.AssignKey(ctx, keyID, g.ID))
			check("key assigned to another group", func(group string, _ authn.RoleSet) bool { return group == g.ID })
		})
	}
}

// TestCacheSeesKeyStateChanges checks GetKeyState's cached answers, on
// every key use's path: a key's first state (its absence was cached), a
// change of it, one made with SQL behind both stores, and its deletion
// show on A at once and on B within the bound.
func TestCacheSeesKeyStateChanges(t *testing.T) {
	ctx := context.Background()
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			ts := openTwo(t, dialect)
			keyID := hex.EncodeToString(randHash()[:16])
			for _, st := range []*sqlstore.Store{ts.a, ts.b} {
				_, err := st.GetKeyState(ctx, keyID)
				require.ErrorIs(t, err, authn.ErrNotFound)
			}
			state := func(st *sqlstore.Store) (bool, int64) {
				rec, err := st.GetKeyState(ctx, keyID)
				if errors.Is(err, authn.ErrNotFound) {
					return false, 0
				}
				require.NoError(t, err)
				return rec.Blocked, rec.Version
			}
			check := func(what string, at time.Time, viaA bool, blocked bool, version int64) {
				if viaA {
					b, v := state(ts.a)
					require.Equal(t, []any{blocked, version}, []any{b, v}, "%s: A sees it at once", what)
				}
				for {
					start := time.Now()
					if b, v := state(ts.b); b == blocked && v == version {
						return
					}
					require.True(t, start.Before(at.Add(cacheBound)), "%s: B still served the old state %v after the change", what, start.Sub(at))
				}
			}
			at := time.Now()
			require.NoError(t, ts.a.SetKeyState(ctx, 0, authn.KeyStateRecord{KeyID: keyID, Version: 1}, at))
			check("first state", at, true, false, 1)
			at = time.Now()
			require.NoError(t, ts.a.SetKeyState(ctx, 1, authn.KeyStateRecord{KeyID: keyID, Blocked: true, Version: 2}, at))
			check("blocked", at, true, true, 2)
			at = time.Now()
			_, err := ts.raw.ExecContext(ctx, ts.q(`UPDATE key_states SET blocked = 0, version = 3 WHERE key_id = ?`), keyID)
			require.NoError(t, err)
			check("unblocked with SQL", at, false, false, 3)
			at = time.Now()
			require.NoError(t, ts.a.DeleteKeyState(ctx, keyID, at))
			check("deleted", at, true, false, 0)
		})
	}
}

// TestCacheServesWithoutTheTable proves the cache is used: instance B's
// role loses the right to read the sessions table, and B keeps
// authenticating the session it has cached (for several bounds, the
// notifications proving nothing changed) while a session it has not seen
// fails.
func TestCacheServesWithoutTheTable(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Shared(t).NewSchema(t)
	a, err := sqlstore.OpenPostgres(ctx, dsn, sqlstore.WithCacheMaxStale(cacheBound))
	require.NoError(t, err)
	defer a.Close()
	admin, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer admin.Close()
	role := roleFor(t, admin)
	b, err := sqlstore.OpenPostgres(ctx, withUser(t, dsn, role), sqlstore.WithCacheMaxStale(cacheBound))
	require.NoError(t, err)
	defer b.Close()

	_, _, seen := credentials(t, a)
	_, _, unseen := credentials(t, a)
	_, err = b.GetSessionByHash(ctx, seen.Hash)
	require.NoError(t, err)
	_, err = admin.ExecContext(ctx, `REVOKE SELECT ON sessions FROM `+role)
	require.NoError(t, err)
	end := time.Now().Add(3 * cacheBound)
	for time.Now().Before(end) {
		_, err = b.GetSessionByHash(ctx, seen.Hash)
		require.NoError(t, err, "served from the cache")
	}
	_, err = b.GetSessionByHash(ctx, unseen.Hash)
	require.ErrorContains(t, err, "permission denied", "an uncached lookup reaches the table")
}

// TestCacheBoundHoldsWhileListenerIsDown takes instance B's notification
// connection away and refuses it a new one: B must then ask the table once
// its entries are older than the bound, and so still see a session deleted
// through A within the bound.
func TestCacheBoundHoldsWhileListenerIsDown(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Shared(t).NewSchema(t)
	a, err := sqlstore.OpenPostgres(ctx, dsn, sqlstore.WithCacheMaxStale(cacheBound))
	require.NoError(t, err)
	defer a.Close()
	admin, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer admin.Close()
	role := roleFor(t, admin)
	b, err := sqlstore.OpenPostgres(ctx, withUser(t, dsn, role), sqlstore.WithCacheMaxStale(cacheBound))
	require.NoError(t, err)
	defer b.Close()
	_, _, s := credentials(t, a)
	_, err = b.GetSessionByHash(ctx, s.Hash)
	require.NoError(t, err)

	_, err = admin.ExecContext(ctx, `ALTER ROLE `+role+` NOLOGIN`)
	require.NoError(t, err)
	_, err = admin.ExecContext(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE usename = $1 AND application_name = 'cryptoplug-authn-cache'`, role)
	require.NoError(t, err)
	end := time.Now().Add(3 * cacheBound)
	for time.Now().Before(end) {
		_, err = b.GetSessionByHash(ctx, s.Hash)
		require.NoError(t, err, "B answers from the table while its listener is down")
	}
	require.NoError(t, a.DeleteSession(ctx, s.ID))
	goneWithin(t, "session with B's listener down", time.Now(), func() error { _, err := b.GetSessionByHash(ctx, s.Hash); return err })
	_, err = admin.ExecContext(ctx, `ALTER ROLE `+role+` LOGIN`)
	require.NoError(t, err)
}

// roleFor creates a login role with every right on the schema's tables.
func roleFor(t *testing.T, admin *sql.DB) string {
	ctx := context.Background()
	var schema string
	require.NoError(t, admin.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema))
	role := "r_" + hex.EncodeToString(randHash()[:6])
	_, err := admin.ExecContext(ctx, `CREATE ROLE `+role+` LOGIN`)
	require.NoError(t, err)
	_, err = admin.ExecContext(ctx, `GRANT USAGE, CREATE ON SCHEMA `+schema+` TO `+role)
	require.NoError(t, err)
	_, err = admin.ExecContext(ctx, `GRANT ALL ON ALL TABLES IN SCHEMA `+schema+` TO `+role)
	require.NoError(t, err)
	t.Cleanup(func() {
		admin.ExecContext(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, role)
	})
	return role
}

func withUser(t *testing.T, dsn, role string) string {
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.User = url.User(role)
	return u.String()
}

// TestCachedLookupAllocatesNothing: a session or API key served from the
// cache costs no allocation, on the path of every authenticated request.
func TestCachedLookupAllocatesNothing(t *testing.T) {
	ctx := context.Background()
	// A bound of an hour: a loaded machine cannot make the entries stale
	// (and the lookups go to the table) during the measurement.
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "authn.db"), sqlstore.WithCacheMaxStale(time.Hour))
	require.NoError(t, err)
	defer st.Close()
	_, k, s := credentials(t, st)
	_, err = st.GetSessionByHash(ctx, s.Hash)
	require.NoError(t, err)
	_, err = st.GetAPIKeyByHash(ctx, k.Hash)
	require.NoError(t, err)
	keyID := hex.EncodeToString(randHash()[:16])
	_, _, err = st.KeyAccess(ctx, k.PrincipalID, keyID)
	require.NoError(t, err)
	_, err = st.GetKeyState(ctx, keyID)
	require.ErrorIs(t, err, authn.ErrNotFound, "most keys have no state")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := st.GetSessionByHash(ctx, s.Hash); err != nil {
			panic(err)
		}
		if _, err := st.GetAPIKeyByHash(ctx, k.Hash); err != nil {
			panic(err)
		}
		if _, _, err := st.KeyAccess(ctx, k.PrincipalID, keyID); err != nil {
			panic(err)
		}
		if _, err := st.GetKeyState(ctx, keyID); !errors.Is(err, authn.ErrNotFound) {
			panic(err)
		}
	})
	require.Zero(t, allocs)
}
