package sqlstore

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

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
