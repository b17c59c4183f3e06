package pgtest

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if err := StopShared(); err != nil && code == 0 {
		code = 1
	}
	os.Exit(code)
}

func TestClusterServesQueriesOnLoopbackAndIsolatesSchemas(t *testing.T) {
	c := Shared(t)
	require.NotZero(t, c.Port())

	a, b := c.NewSchema(t), c.NewSchema(t)
	require.NotEqual(t, a, b)
	ctx := context.Background()
	dbA, err := sql.Open("pgx", a)
	require.NoError(t, err)
	defer dbA.Close()
	dbB, err := sql.Open("pgx", b)
	require.NoError(t, err)
	defer dbB.Close()

	_, err = dbA.ExecContext(ctx, `CREATE TABLE only_in_a (x INTEGER)`)
	require.NoError(t, err)
	var n int
	require.NoError(t, dbA.QueryRowContext(ctx, `SELECT count(*) FROM only_in_a`).Scan(&n))
	_, err = dbB.ExecContext(ctx, `SELECT count(*) FROM only_in_a`)
	require.Error(t, err, "schema B must not see schema A's table")

	var addr string
	require.NoError(t, dbA.QueryRowContext(ctx, `SELECT host(inet_server_addr())`).Scan(&addr))
	require.Equal(t, "127.0.0.1", addr)
}

func TestStopRemovesTheClusterDirectory(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx)
	require.NoError(t, err)
	_, err = os.Stat(filepath.Join(c.dir, "data", "PG_VERSION"))
	require.NoError(t, err)
	require.NoError(t, c.Stop())
	require.NoError(t, c.Stop(), "a second Stop is a no-op")
	_, err = os.Stat(c.dir)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestMissingBinariesFailWithMakeDepsHint(t *testing.T) {
	t.Setenv("PGTEST_BINDIR", t.TempDir())
	_, err := Start(context.Background())
	require.ErrorContains(t, err, "make deps")
}

func TestRestartKeepsDataAndPortAndDropsSessions(t *testing.T) {
	ctx := context.Background()
	c, err := Start(ctx)
	require.NoError(t, err)
	defer c.Stop()
	db, err := sql.Open("pgx", c.DSN())
	require.NoError(t, err)
	defer db.Close()
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `CREATE TABLE survives (x INTEGER); INSERT INTO survives VALUES (42)`)
	require.NoError(t, err)

	require.NoError(t, c.Restart(ctx))
	_, err = conn.ExecContext(ctx, `SELECT 1`)
	require.Error(t, err, "a session open across the restart is gone")
	var x int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT x FROM survives`).Scan(&x), "a new connection reaches the same port")
	require.Equal(t, 42, x)
	require.NoError(t, c.Stop())
	require.Error(t, c.Restart(ctx), "a stopped cluster cannot restart")
}
