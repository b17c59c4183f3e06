package bench_test

import (
	"context"
	"crypto"
	"errors"
	"flag"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/bench"
)

// tinyBenchtime makes testing.Benchmark run every sub-benchmark a fixed,
// small number of times, for the duration of the test.
func tinyBenchtime(t *testing.T) {
	f := flag.Lookup("test.benchtime")
	require.NotNil(t, f)
	old := f.Value.String()
	require.NoError(t, f.Value.Set("20x"))
	t.Cleanup(func() { _ = f.Value.Set(old) })
}

// runBenchmark runs bench.Run under testing.Benchmark and returns the
// results it reported and whether the benchmark failed.
func runBenchmark(open func(context.Context) (backend.Backend, error), opts ...bench.Option) (results []bench.Result, failed bool) {
	var mu sync.Mutex
	opts = append(opts, bench.OnResult(func(r bench.Result) {
		mu.Lock()
		results = append(results, r)
		mu.Unlock()
	}))
	testing.Benchmark(func(b *testing.B) {
		defer func() { failed = b.Failed() }() // also after b.Fatal
		bench.Run(b, open, opts...)
	})
	return results, failed
}

func openSoftware(ctx context.Context) (backend.Backend, error) {
	return backend.Open(ctx, "software:")
}

func TestRunSoftware(t *testing.T) {
	tinyBenchtime(t)
	results, failed := runBenchmark(openSoftware,
		bench.WithURI("software:"),
		bench.WithAlgorithms(backend.ECDSAP256),
		bench.WithParallelism(1, 2))
	require.False(t, failed, "benchmark failed")

	// The last result per name is the measured run (earlier ones are the
	// testing package's calibration runs).
	got := map[string]bench.Result{}
	for _, r := range results {
		got[r.Name] = r
	}
	for _, name := range []string{
		"op=Sign/alg=ECDSA-P256/impl=backend/p=1",
		"op=Sign/alg=ECDSA-P256/impl=baseline/p=1",
		"op=Sign/alg=ECDSA-P256/impl=backend/p=2",
		"op=Sign/alg=ECDSA-P256/impl=baseline/p=2",
		"op=Generate/alg=ECDSA-P256/impl=backend/p=1",
		"op=Generate/alg=ECDSA-P256/impl=baseline/p=2",
	} {
		r, ok := got[name]
		require.True(t, ok, "no result %s among %v", name, got)
		require.Equal(t, 20, r.N, name)
		require.Positive(t, r.Elapsed, name)
		require.Positive(t, r.P50, name)
		require.GreaterOrEqual(t, r.P99, r.P50, name)
		require.Positive(t, r.NsPerOp(), name)
	}
	require.Len(t, got, 8, "Sign and Generate, two impls, two goroutine counts")
}

func TestRunSoftwareWithoutURIStillHasBaselines(t *testing.T) {
	tinyBenchtime(t)
	results, failed := runBenchmark(openSoftware,
		bench.WithAlgorithms(backend.Ed25519), bench.WithParallelism(1), bench.WithGenerate(false))
	require.False(t, failed)
	impls := map[string]bool{}
	for _, r := range results {
		impls[r.Impl] = true
	}
	require.Equal(t, map[string]bool{"backend": true, "baseline": true}, impls)
}

// TestRunFailsOnBadOperation checks that an operation that fails, or
// returns a wrong output, fails the benchmark, from the benchmark's
// goroutine or from a worker.
func TestRunFailsOnBadOperation(t *testing.T) {
	tinyBenchtime(t)
	for _, tc := range []struct {
		name string
		mode faultMode
		p    int
	}{
		{"error", failFifth, 1},
		{"error in a worker", failFifth, 8},
		{"wrong signature", corruptSignature, 1},
		{"wrong signature in a worker", corruptSignature, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open := func(ctx context.Context) (backend.Backend, error) {
				be, err := openSoftware(ctx)
				return &faultyBackend{Backend: be, mode: tc.mode}, err
			}
			results, failed := runBenchmark(open,
				bench.WithAlgorithms(backend.ECDSAP256), bench.WithParallelism(tc.p), bench.WithGenerate(false))
			require.True(t, failed, "benchmark did not fail")
			for _, r := range results {
				// Only the calibration run (one operation, which succeeds
				// in failFifth mode) may have reported.
				if r.Impl == "backend" {
					require.Equal(t, 1, r.N, "a failed run reported a result: %+v", r)
					require.Equal(t, failFifth, tc.mode, "a wrong signature was not noticed: %+v", r)
				}
			}
		})
	}
}

func TestRunFailsWhenOpenFails(t *testing.T) {
	_, failed := runBenchmark(func(context.Context) (backend.Backend, error) {
		return nil, errors.New("no such store")
	})
	require.True(t, failed)
}

type faultMode int

const (
	failFifth        faultMode = iota + 1 // the fifth signature fails
	corruptSignature                      // every signature has a flipped bit
)

// faultyBackend hands out keys whose signers misbehave as mode says.
type faultyBackend struct {
	backend.Backend
	mode faultMode
}

func (b *faultyBackend) GenerateKey(ctx context.Context, spec backend.KeySpec) (backend.Key, error) {
	k, err := b.Backend.GenerateKey(ctx, spec)
	if err != nil {
		return nil, err
	}
	return &faultyKey{Key: k, mode: b.mode}, nil
}

type faultyKey struct {
	backend.Key
	mode  faultMode
	calls atomic.Int64
}

func (k *faultyKey) Signer() (backend.Signer, error) {
	s, err := k.Key.Signer()
	if err != nil {
		return nil, err
	}
	return &faultySigner{Signer: s, k: k}, nil
}

type faultySigner struct {
	backend.Signer
	k *faultyKey
}

func (s *faultySigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if s.k.mode == failFifth && s.k.calls.Add(1) == 5 {
		return nil, errors.New("token on fire")
	}
	sig, err := s.Signer.Sign(rand, digest, opts)
	if err == nil && s.k.mode == corruptSignature {
		sig[len(sig)-1] ^= 1
	}
	return sig, err
}
