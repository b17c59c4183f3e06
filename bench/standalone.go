package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/cryptoplug/cryptoplug/backend"
)

// Standalone runs the harness outside "go test": for programs, such as the
// cryptoplug command, that measure a backend on a machine without a Go
// toolchain. It measures exactly what [RunURI] measures — the same
// workloads, baselines and peers, in the same order, under the same names —
// and writes each result as "go test -bench" prints it, so that benchstat
// and cmd/benchreport read its output as they read `make bench`'s:
//
//	BenchmarkBackends/backend=pkcs11/op=Sign/alg=ECDSA-P256/impl=backend/p=1-2   19300   61432 ns/op   … p50-ns   … p99-ns   … cpu-ns/op   520 B/op   5 allocs/op
//
// Each measurement runs through [testing.Benchmark], which the standard
// library offers for exactly this use.
type Standalone struct {
	// Name is the benchmark's name without the "Benchmark" prefix, such as
	// "Backends/backend=pkcs11" (what `make bench` calls its results).
	Name string
	// Benchtime is how long each measurement runs, in the syntax of go
	// test's -benchtime: a duration ("1s", the default when empty) or an
	// iteration count ("100x").
	Benchtime string
	// Out receives the configuration lines (goos, goarch, pkg, cpu, go,
	// ncpu, os, benchtime) and one line per result.
	Out io.Writer
	// Log, when not nil, receives what "go test" would log: which
	// baselines are missing and why, which OAEP hash a workload uses.
	Log io.Writer
}

// RunURI measures the backend that uri names, opened with
// [backend.Open] (its package must be imported), with opts as for [Run]. It
// writes the configuration lines first, then every result as it is
// measured. A measurement that fails — a wrong output, an error from the
// store — is left out of Out, and RunURI goes on with the next; the
// returned error then names every failed measurement and why. Keys the run
// makes are deleted and the backend closed before RunURI returns.
//
// RunURI sets the testing package's -test.benchtime flag, which is process
// global: it is not safe to call from several goroutines at once.
func (s Standalone) RunURI(ctx context.Context, uri string, opts ...Option) error {
	if s.Out == nil {
		return errors.New("bench: Standalone.Out is nil")
	}
	if err := setBenchtime(s.Benchtime); err != nil {
		return err
	}
	cfg := newConfig(append([]Option{WithURI(uri)}, opts...))
	if len(cfg.parallelism) == 0 {
		return errors.New("bench: no goroutine count to run at (WithParallelism)")
	}
	s.header()

	// Baselines first, as Run does: see Baseliner.
	bls := cfg.openBaselines(ctx, uri, s.logf)
	be, err := backend.Open(ctx, uri)
	if err != nil {
		if bls != nil {
			_ = bls.Close()
		}
		return fmt.Errorf("bench: open backend: %w", err)
	}
	var errs []error
	defer func() {
		if err := be.Close(); err != nil {
			s.logf("bench: close backend: %v", err)
		}
		if bls != nil {
			if err := bls.Close(); err != nil {
				s.logf("bench: close baselines: %v", err)
			}
		}
	}()

	generate := !be.Info().Persistent
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
			errs = append(errs, s.runWorkload(ctx, cfg, be, bls, op, alg, label)...)
		}
	}
	return errors.Join(errs...)
}

// runWorkload is Run's runWorkload with one testing.Benchmark per
// measurement instead of one sub-benchmark.
func (s Standalone) runWorkload(ctx context.Context, c *config, be backend.Backend, bls Baselines, op Op, alg backend.Algorithm, label string) (errs []error) {
	name := "op=" + string(op) + "/alg=" + string(alg)
	km, _ := bls.(KeyMaker)
	w, cleanup, err := newWorkload(ctx, be, km, op, alg, label)
	if err != nil {
		return []error{fmt.Errorf("bench: %s: %w", name, err)}
	}
	defer cleanup()
	if w.DecrypterOpts != nil {
		s.logf("bench: %s uses OAEP with %v", w, w.DecrypterOpts.Hash)
	}
	impls, closeAll, err := c.impls(ctx, be, bls, w, label, s.logf)
	if err != nil {
		return []error{err}
	}
	defer func() { errs = append(errs, closeAll()...) }()
	for _, p := range c.parallelism {
		for _, im := range impls {
			leaf := fmt.Sprintf("%s/impl=%s/p=%d", w, im.Name, p)
			r := testing.Benchmark(func(b *testing.B) { c.measure(b, ctx, w, im, p) })
			if r.N == 0 {
				// testing.Benchmark discards a failed benchmark's message;
				// one more operation outside the timed loop says why.
				errs = append(errs, fmt.Errorf("bench: %s: %w", leaf, diagnose(ctx, im)))
				continue
			}
			fmt.Fprintf(s.Out, "Benchmark%s/%s%s\t%s\t%s\n", s.Name, leaf, procsSuffix(), r.String(), r.MemString())
		}
	}
	return errs
}

// diagnose performs im's operation once and checks its output, to say why
// a measurement failed.
func diagnose(ctx context.Context, im Impl) error {
	if im.Begin != nil {
		end, err := im.Begin(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		defer end()
	}
	out, err := im.Op(0)
	if err != nil {
		return err
	}
	if im.Check != nil {
		if err := im.Check(out); err != nil {
			return err
		}
	}
	return errors.New("the measurement failed, and a single operation afterwards succeeded; run `make bench` for the testing package's message")
}

func (s Standalone) logf(format string, args ...any) {
	if s.Log != nil {
		fmt.Fprintf(s.Log, format+"\n", args...)
	}
}

// header writes what "go test -bench" and this package's TestMain print
// before the results: benchstat groups results by these lines, and
// cmd/benchreport puts them in docs/benchmarks.md.
func (s Standalone) header() {
	fmt.Fprintf(s.Out, "goos: %s\ngoarch: %s\npkg: github.com/cryptoplug/cryptoplug/bench\n", runtime.GOOS, runtime.GOARCH)
	if cpu := cpuName(); cpu != "" {
		fmt.Fprintf(s.Out, "cpu: %s\n", cpu)
	}
	fmt.Fprintf(s.Out, "go: %s\nncpu: %d\n", runtime.Version(), runtime.NumCPU())
	if name := osRelease(); name != "" {
		fmt.Fprintf(s.Out, "os: %s\n", name)
	}
	bt := s.Benchtime
	if bt == "" {
		bt = "1s"
	}
	fmt.Fprintf(s.Out, "benchtime: %s\n", bt)
}

// setBenchtime sets the testing package's benchmark duration, which
// testing.Benchmark reads from the -test.benchtime flag.
func setBenchtime(bt string) error {
	if bt == "" {
		bt = "1s"
	}
	testing.Init() // registers -test.benchtime; does nothing when already called
	if err := flag.Set("test.benchtime", bt); err != nil {
		return fmt.Errorf("bench: benchtime %q: want a duration such as 1s or a count such as 100x: %w", bt, backend.ErrInvalidInput)
	}
	return nil
}

// procsSuffix is the "-N" the testing package appends to a benchmark's
// name when GOMAXPROCS is not 1.
func procsSuffix() string {
	if n := runtime.GOMAXPROCS(0); n != 1 {
		return "-" + strconv.Itoa(n)
	}
	return ""
}

// cpuName returns the processor's model name from /proc/cpuinfo, as go test
// prints it, or "".
func cpuName() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// osRelease returns PRETTY_NAME from /etc/os-release, or GOOS: the "os:"
// line this package's TestMain prints.
func osRelease() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return runtime.GOOS
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
			return v
		}
	}
	return runtime.GOOS
}
