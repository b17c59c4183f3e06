package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
	"github.com/cryptoplug/cryptoplug/authn/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openSQLite(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "authn.db"))
	require.NoError(t, err)
	return s
}

func openPostgres(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenPostgres(context.Background(), pgtest.Shared(t).NewSchema(t))
	require.NoError(t, err)
	return s
}

func TestSQLiteStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) authn.Store { return openSQLite(t) })
}

func TestPostgresStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) authn.Store { return openPostgres(t) })
}

func TestSQLiteApprovalRaces(t *testing.T) {
	storetest.RunApprovalRaces(t, func(t *testing.T) (authn.Store, authn.Store) {
		path := filepath.Join(t.TempDir(), "authn.db")
		a, err := sqlstore.OpenSQLite(context.Background(), path)
		require.NoError(t, err)
		b, err := sqlstore.OpenSQLite(context.Background(), path)
		require.NoError(t, err)
		return a, b
	})
}

func TestPostgresApprovalRaces(t *testing.T) {
	storetest.RunApprovalRaces(t, func(t *testing.T) (authn.Store, authn.Store) {
		dsn := pgtest.Shared(t).NewSchema(t)
		a, err := sqlstore.OpenPostgres(context.Background(), dsn)
		require.NoError(t, err)
		b, err := sqlstore.OpenPostgres(context.Background(), dsn)
		require.NoError(t, err)
		return a, b
	})
}
