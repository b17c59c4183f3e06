//go:build cgo

package bench_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/cryptoplug/cryptoplug/bench"
)

// implsOf runs ECDSA-P256 signing on uri at p=1 and 2 and returns which
// impls reported a measured (not calibration) result.
func implsOf(t *testing.T, uri string) map[string]bool {
	t.Helper()
	tinyBenchtime(t)
	open := func(ctx context.Context) (backend.Backend, error) { return backend.Open(ctx, uri) }
	results, failed := runBenchmark(open, bench.WithURI(uri),
		bench.WithAlgorithms(backend.ECDSAP256), bench.WithParallelism(1, 2))
	require.False(t, failed, "benchmark failed")
	impls := map[string]bool{}
	for _, r := range results {
		if r.N == 20 && r.Op == bench.Sign {
			impls[r.Impl] = true
			require.Positive(t, r.P50, r.Name)
		}
	}
	return impls
}

// TestRunPKCS11 checks that the raw PKCS #11 baseline and crypto11 are
// measured beside the backend on a SoftHSM2 token.
func TestRunPKCS11(t *testing.T) {
	impls := implsOf(t, softhsmtest.NewToken(t))
	require.Equal(t, map[string]bool{"backend": true, "baseline": true, "crypto11": true}, impls)
}

// TestRunTPM checks that raw TPM2_Sign and go-tpm-tools are measured
// beside the backend on the simulator.
func TestRunTPM(t *testing.T) {
	impls := implsOf(t, "tpm:simulator;dir="+t.TempDir())
	require.Equal(t, map[string]bool{"backend": true, "baseline": true, "go-tpm-tools": true}, impls)
}
