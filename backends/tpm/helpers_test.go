package tpm

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// openSimulator opens a backend on the in-process simulator over a fresh
// directory (or dir, if given) and closes it when the test ends.
func openSim(t testing.TB, dir string) *Backend {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	b, err := Open(testContext(t), "tpm:simulator;dir="+dir)
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	return b
}

func generate(t testing.TB, b backend.Backend, alg backend.Algorithm, label string, usage backend.Usage) backend.Key {
	t.Helper()
	k, err := b.GenerateKey(testContext(t), backend.KeySpec{Algorithm: alg, Label: label, Usage: usage})
	require.NoError(t, err)
	return k
}
