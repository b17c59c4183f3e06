package refserver_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
	"github.com/cryptoplug/cryptoplug/wire"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestPostgresStore proves the PostgreSQL path: the same server over an
// authn store in a fresh PostgreSQL schema creates a session, a key and a
// signature, and keeps keys to their groups.
func TestPostgresStore(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test starts a PostgreSQL cluster; make test runs it")
	}
	ctx := context.Background()
	in := refservertest.Start(t, refservertest.Options{PostgresDSN: pgtest.Shared(t).NewSchema(t)})
	_, sess := in.User(t, authn.RoleKeyManagement, authn.RoleKeyOperation)
	c := in.Client(client.Bearer(sess))
	_, err := c.CreateKey(ctx, wire.KeySpec{Label: "pg", Algorithm: "Ed25519"})
	require.NoError(t, err)
	sig, err := c.Sign(ctx, wire.SignRequest{Label: "pg", Message: []byte("over postgres")})
	require.NoError(t, err)
	require.Len(t, sig, 64)
	exerciseGroups(t, in)
}
