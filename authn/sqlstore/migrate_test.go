package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/pgtest"
)

func TestMigrationsMatchAcrossDialects(t *testing.T) {
	lite, err := loadMigrations("sqlite")
	require.NoError(t, err)
	pg, err := loadMigrations("postgres")
	require.NoError(t, err)
	require.NotEmpty(t, lite)
	require.Equal(t, len(lite), len(pg), "every migration exists for both dialects")
	for i := range lite {
		require.Equal(t, lite[i].name, pg[i].name)
	}
}

func testMigrations(t *testing.T, open func() (*Store, error)) {
	ctx := context.Background()
	s, err := open()
	require.NoError(t, err)
	want, err := loadMigrations(s.Dialect())
	require.NoError(t, err)
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, len(want), v)
	var n int
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n))
	require.Equal(t, len(want), n)
	require.NoError(t, s.Close())

	// Reopening applies nothing twice.
	s, err = open()
	require.NoError(t, err)
	require.NoError(t, s.read.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n))
	require.Equal(t, len(want), n)

	// A schema from the future is refused, not used.
	_, err = s.write.ExecContext(ctx, s.q(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'future', 0)`), len(want)+1)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = open()
	require.ErrorContains(t, err, "newer than this program")
}

func TestSQLiteMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	testMigrations(t, func() (*Store, error) { return OpenSQLite(context.Background(), path) })
}

func TestPostgresMigrations(t *testing.T) {
	dsn := pgtest.Shared(t).NewSchema(t)
	testMigrations(t, func() (*Store, error) { return OpenPostgres(context.Background(), dsn) })
}

func TestOpenSQLiteRefusesMemory(t *testing.T) {
	for _, p := range []string{"", ":memory:", "x.db?mode=memory"} {
		_, err := OpenSQLite(context.Background(), p)
		require.Error(t, err, p)
	}
}

func TestSQLiteUsesWAL(t *testing.T) {
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "w.db"))
	require.NoError(t, err)
	defer s.Close()
	var mode string
	require.NoError(t, s.read.QueryRow(`PRAGMA journal_mode`).Scan(&mode))
	require.Equal(t, "wal", mode)
}

func TestConcurrentPostgresOpensMigrateOnce(t *testing.T) {
	dsn := pgtest.Shared(t).NewSchema(t)
	errs := make(chan error, 4)
	stores := make(chan *Store, 4)
	for range 4 {
		go func() {
			s, err := OpenPostgres(context.Background(), dsn)
			errs <- err
			stores <- s
		}()
	}
	for range 4 {
		require.NoError(t, <-errs)
		s := <-stores
		defer s.Close()
	}
}

// testUpgradeFromV1 builds a database at schema 1 with a user, an
// application, its API key and a session of each kind, then opens it with
// this program: every existing principal keeps what it could do (the
// default group, all its roles; every key in the default group), and the
// sessions made from API keys before they recorded their key end.
func testUpgradeFromV1(t *testing.T, driver, dsn string, d dialect, open func() (*Store, error)) {
	ctx := context.Background()
	db, err := sql.Open(driver, dsn)
	require.NoError(t, err)
	old := &Store{d: d, read: db, write: db}
	ms, err := loadMigrations(d.name)
	require.NoError(t, err)
	require.NoError(t, old.apply(ctx, ms[:1]))
	roles := authn.NewRoleSet(authn.RoleKeyOperation, authn.RoleKeyManagement)
	for _, q := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO principals (id, kind, name, email, roles, password_hash, method, epoch, created_at) VALUES (?, 1, 'u', 'u@x', ?, 'h', 1, 0, 1)`, []any{"usr_1", roles}},
		{`INSERT INTO principals (id, kind, name, roles, method, epoch, created_at) VALUES (?, 2, 'a', ?, 2, 0, 1)`, []any{"app_1", roles}},
		{`INSERT INTO api_keys (id, principal_id, role, token_hash, pepper_version, created_at) VALUES ('key_1', 'app_1', 2, ?, 1, 1)`, []any{[]byte("k")}},
		{`INSERT INTO sessions (id, token_hash, pepper_version, principal_id, principal_kind, roles, method, epoch, created_at, last_used_at, expires_at)
			VALUES ('ses_pw', ?, 1, 'usr_1', 1, ?, 1, 0, 1, 1, 9)`, []any{[]byte("s1"), roles}},
		{`INSERT INTO sessions (id, token_hash, pepper_version, principal_id, principal_kind, roles, method, epoch, created_at, last_used_at, expires_at)
			VALUES ('ses_key', ?, 1, 'app_1', 2, 2, 2, 0, 1, 1, 9)`, []any{[]byte("s2")}},
	} {
		_, err := db.ExecContext(ctx, old.q(q.query), q.args...)
		require.NoError(t, err, q.query)
	}
	require.NoError(t, db.Close())

	s, err := open()
	require.NoError(t, err)
	defer s.Close()
	for _, id := range []string{"usr_1", "app_1"} {
		ms, err := s.ListMemberships(ctx, id)
		require.NoError(t, err)
		require.Equal(t, []authn.MembershipRecord{{PrincipalID: id, GroupID: authn.DefaultGroupID, Roles: roles}}, ms)
		group, got, err := s.KeyAccess(ctx, id, "00ff")
		require.NoError(t, err)
		require.Equal(t, authn.DefaultGroupID, group, "existing keys are in the default group")
		require.Equal(t, roles, got, "with every role the principal held")
	}
	_, err = s.GetSessionByHash(ctx, []byte("s1"))
	require.NoError(t, err, "a password session survives the upgrade")
	_, err = s.GetSessionByHash(ctx, []byte("s2"))
	require.ErrorIs(t, err, authn.ErrNotFound, "a session from an untraceable API key ends")
	_, err = s.GetAPIKeyByHash(ctx, []byte("k"))
	require.NoError(t, err, "the API key itself stays")
}

func TestSQLiteUpgradeFromV1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	testUpgradeFromV1(t, "sqlite", path+"?_pragma=foreign_keys(1)", sqliteDialect, func() (*Store, error) { return OpenSQLite(context.Background(), path) })
}

func TestPostgresUpgradeFromV1(t *testing.T) {
	dsn := pgtest.Shared(t).NewSchema(t)
	testUpgradeFromV1(t, "pgx", dsn, postgresDialect, func() (*Store, error) { return OpenPostgres(context.Background(), dsn) })
}
