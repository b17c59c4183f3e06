package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
)

// RunURI is [Run] on the backend that uri names, opened with
// [backend.Open]; the backend's package must be imported. The URI is also
// handed to the baselines ([WithURI]), so a PIN it names reaches them.
func RunURI(b *testing.B, uri string, opts ...Option) {
	b.Helper()
	open := func(ctx context.Context) (backend.Backend, error) { return backend.Open(ctx, uri) }
	Run(b, open, append([]Option{WithURI(uri)}, opts...)...)
}

// Run opens a backend with open and measures every operation it offers on
// the algorithms of [WithAlgorithms], through cryptoplug and through its
// baselines and peers, at every goroutine count of [WithParallelism]. Each
// measurement is a sub-benchmark of b named
//
//	op=<Op>/alg=<Algorithm>/impl=<impl>/p=<goroutines>
//
// It reports ns/op, B/op, allocs/op, the latency percentiles p50-ns and
// p99-ns, and (on Linux) cpu-ns/op: the CPU time the whole process spent
// per operation, in all its threads. On a machine shared with other work,
// cpu-ns/op is the measure least disturbed by it, since time the process
// spends waiting for a CPU does not count. The sub-benchmarks of one workload run in the order p=1 backend,
// p=1 baseline, p=1 peers, p=2 backend, …, so that the measurements that
// are compared with each other are taken close together in time.
//
// Run fails b when the backend cannot be opened, when a key for a workload
// cannot be made, and when an operation fails or returns a wrong output;
// a missing baseline or peer is only logged. The backend is closed when
// Run returns.
func Run(b *testing.B, open func(ctx context.Context) (backend.Backend, error), opts ...Option) {
	b.Helper()
	cfg := newConfig(opts)
	if len(cfg.parallelism) == 0 {
		b.Fatal("bench: no goroutine count to run at (WithParallelism)")
	}
	ctx := context.Background()

	// Baselines first: see Baseliner.
	var bls Baselines
	if cfg.uri != "" {
		bls = cfg.openBaselines(ctx, cfg.uri, b.Logf)
	}
	be, err := open(ctx)
	if err != nil {
		if bls != nil {
			_ = bls.Close()
		}
		b.Fatalf("bench: open backend: %v", err)
	}
	if bls == nil {
		bls = cfg.openBaselines(ctx, be.Info().URI, b.Logf)
	}
	defer func() {
		if err := be.Close(); err != nil {
			b.Errorf("bench: close backend: %v", err)
		}
		if bls != nil {
			if err := bls.Close(); err != nil {
				b.Errorf("bench: close baselines: %v", err)
			}
		}
	}()

	info := be.Info()
	generate := !info.Persistent
	if cfg.generate != nil {
		generate = *cfg.generate
	}
	caps := be.Capabilities()
	runID := randomHex(4)
	for _, op := range []Op{Sign, Decrypt, Decapsulate, Generate} {
		for _, alg := range cfg.algs {
			if !containsOp(opsFor(alg, caps, generate), op) {
				continue
			}
			label := fmt.Sprintf("cryptoplug-bench-%s-%s-%s", runID, strings.ToLower(string(op)), alg)
			b.Run("op="+string(op)+"/alg="+string(alg), func(b *testing.B) {
				cfg.runWorkload(b, ctx, be, bls, op, alg, label)
			})
		}
	}
}

func containsOp(ops []Op, op Op) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

// openBaselines opens the baseliner for uri's scheme, or returns nil (and
// logs why) when there is none or it fails.
func (c *config) openBaselines(ctx context.Context, uri string, logf func(string, ...any)) Baselines {
	scheme, _, _ := strings.Cut(uri, ":")
	bl := c.baseliners[strings.ToLower(scheme)]
	if bl == nil {
		logf("bench: no baselines for %q backends", scheme)
		return nil
	}
	bls, err := bl(ctx, uri)
	if err != nil {
		logf("bench: no baselines: %v", err)
		return nil
	}
	return bls
}

// impls are the implementations one workload is measured with: the
// backend's own, then the baselines' (a baseline that fails is logged and
// left out). closeAll closes them all and returns what failed to close.
func (c *config) impls(ctx context.Context, be backend.Backend, bls Baselines, w *Workload, label string, logf func(string, ...any)) (impls []Impl, closeAll func() []error, err error) {
	maxP := 0
	for _, p := range c.parallelism {
		maxP = max(maxP, p)
	}
	own, err := backendImpl(be, w, label, maxP)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %s: %w", w, err)
	}
	impls = []Impl{own}
	if bls != nil {
		more, err := bls.Impls(ctx, be, w)
		if err != nil {
			logf("bench: %s: %v", w, err)
		}
		impls = append(impls, more...)
	}
	closeAll = func() (errs []error) {
		for _, im := range impls {
			if im.Close != nil {
				if err := im.Close(); err != nil {
					errs = append(errs, fmt.Errorf("bench: %s/impl=%s: close: %w", w, im.Name, err))
				}
			}
		}
		return errs
	}
	return impls, closeAll, nil
}

// runWorkload measures one operation on one algorithm with every impl at
// every goroutine count.
func (c *config) runWorkload(b *testing.B, ctx context.Context, be backend.Backend, bls Baselines, op Op, alg backend.Algorithm, label string) {
	km, _ := bls.(KeyMaker)
	w, cleanup, err := newWorkload(ctx, be, km, op, alg, label)
	if err != nil {
		b.Fatalf("bench: %s: %v", "op="+string(op)+"/alg="+string(alg), err)
	}
	defer cleanup()
	if w.DecrypterOpts != nil {
		b.Logf("bench: %s uses OAEP with %v", w, w.DecrypterOpts.Hash)
	}
	impls, closeAll, err := c.impls(ctx, be, bls, w, label, b.Logf)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		for _, err := range closeAll() {
			b.Error(err)
		}
	}()
	for _, p := range c.parallelism {
		for _, im := range impls {
			b.Run(fmt.Sprintf("impl=%s/p=%d", im.Name, p), func(b *testing.B) {
				c.measure(b, ctx, w, im, p)
			})
		}
	}
}

// measure is one sub-benchmark: b.N operations of im on p goroutines.
func (c *config) measure(b *testing.B, ctx context.Context, w *Workload, im Impl, p int) {
	b.ReportAllocs()
	if im.Begin != nil {
		end, err := im.Begin(ctx)
		if err != nil {
			b.Fatalf("bench: begin: %v", err)
		}
		defer end()
	}
	r := newParallelRun(im.Op, b.N, p)
	b.ResetTimer()
	cpu0, cpuOK := processCPUTime()
	t0 := time.Now()
	r.run()
	elapsed := time.Since(t0)
	cpu1, _ := processCPUTime()
	b.StopTimer()
	if r.err != nil {
		b.Fatalf("bench: %v", r.err)
	}
	if im.Check != nil {
		nums, outs := r.outputs()
		for i, out := range outs {
			if err := im.Check(out); err != nil {
				b.Fatalf("bench: output of operation %d: %v", nums[i], err)
			}
		}
	}
	pct := r.lat.percentiles(0.50, 0.99)
	b.ReportMetric(float64(pct[0].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(pct[1].Nanoseconds()), "p99-ns")
	var cpu time.Duration
	if cpuOK {
		cpu = cpu1 - cpu0
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
	if c.onResult != nil {
		c.onResult(Result{
			Name:        fmt.Sprintf("%s/impl=%s/p=%d", w, im.Name, p),
			Op:          w.Op,
			Algorithm:   w.Algorithm,
			Impl:        im.Name,
			Parallelism: p,
			N:           b.N,
			Elapsed:     elapsed,
			CPU:         cpu,
			P50:         pct[0],
			P99:         pct[1],
		})
	}
}

func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf) // crypto/rand.Read never fails
	return hex.EncodeToString(buf)
}
