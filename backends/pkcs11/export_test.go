//go:build cgo

package pkcs11

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backends/pkcs11/internal/module"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
)

// refs is how many users hold the SoftHSM2 module in this process.
func refs() int { return module.Refs(softhsmtest.ModulePath) }

// theSession returns the session a backend with max-sessions=1 holds, idle:
// the same pointer as long as the pool has not replaced it.
func theSession(t *testing.T, b *Backend) *session {
	t.Helper()
	require.Equal(t, 1, b.pool.max)
	s, err := b.pool.get(context.Background())
	require.NoError(t, err)
	b.pool.put(s)
	return s
}
