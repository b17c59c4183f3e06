package swtpmtest_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/tpm"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
)

// The TPM accepts connections as soon as Start returns, and is gone after
// Stop.
func TestStartStop(t *testing.T) {
	sw := swtpmtest.Start(t)
	ctx := context.Background()
	b, err := backend.Open(ctx, sw.URI(t.TempDir()))
	require.NoError(t, err)
	require.Equal(t, "tpm", b.Info().Kind)
	_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "k"})
	require.NoError(t, err)
	require.NoError(t, b.Close())

	sw.Stop()
	_, err = backend.Open(ctx, sw.URI(t.TempDir()))
	require.Error(t, err, "the daemon is stopped")
	sw.Stop() // idempotent
}
