package bench_test

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/bench"
)

var (
	backendFlag = flag.String("backend", "",
		"backend URI to benchmark, or the name of an embedded default (software, pkcs11, tpm); empty: every embedded default")
	algsFlag = flag.String("algs", "",
		"comma-separated algorithms to benchmark (such as ECDSA-P384,ML-DSA-87), or \"all\"; empty: bench.DefaultAlgorithms")
	parallelismFlag = flag.String("p", "",
		"comma-separated goroutine counts; empty: bench.DefaultParallelism (1,2,8,32)")
)

// TestMain prints, before the benchmark results, configuration lines that
// cmd/benchreport puts in docs/benchmarks.md (benchstat shows them too). It
// prints only values that stay the same from run to run, because benchstat
// puts results with different configuration into different tables.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		fmt.Printf("go: %s\n", runtime.Version())
		fmt.Printf("ncpu: %d\n", runtime.NumCPU())
		if osName := osRelease(); osName != "" {
			fmt.Printf("os: %s\n", osName)
		}
		if f := flag.Lookup("test.benchtime"); f != nil {
			fmt.Printf("benchtime: %s\n", f.Value.String())
		}
	}
	os.Exit(m.Run())
}

// osRelease returns PRETTY_NAME from /etc/os-release, or GOOS.
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

// BenchmarkBackends measures -backend, or every embedded default, as
// BenchmarkBackends/backend=<scheme>/op=…/alg=…/impl=…/p=….
func BenchmarkBackends(b *testing.B) {
	opts := flagOptions(b)
	if d, ok := defaultByName(*backendFlag); ok || *backendFlag == "" {
		ds := defaultBackends
		if ok {
			ds = []defaultBackend{d}
		}
		if len(ds) == 0 {
			b.Fatal("no embedded default backend is built into this binary")
		}
		for _, d := range ds {
			b.Run("backend="+d.name, func(b *testing.B) {
				bench.RunURI(b, d.setup(b), opts...)
			})
		}
		return
	}
	u, err := backend.ParseURI(*backendFlag)
	if err != nil {
		b.Fatalf("-backend: %v", err)
	}
	b.Run("backend="+u.Scheme, func(b *testing.B) {
		bench.RunURI(b, *backendFlag, opts...)
	})
}

// flagOptions turns -algs and -p into options.
func flagOptions(tb testing.TB) []bench.Option {
	var opts []bench.Option
	switch *algsFlag {
	case "":
	case "all":
		opts = append(opts, bench.WithAlgorithms(backend.Algorithms()...))
	default:
		var algs []backend.Algorithm
		for _, s := range strings.Split(*algsFlag, ",") {
			a, err := backend.ParseAlgorithm(strings.TrimSpace(s))
			if err != nil {
				tb.Fatalf("-algs: %v", err)
			}
			algs = append(algs, a)
		}
		opts = append(opts, bench.WithAlgorithms(algs...))
	}
	if *parallelismFlag != "" {
		var ps []int
		for _, s := range strings.Split(*parallelismFlag, ",") {
			p, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || p < 1 {
				tb.Fatalf("-p: %q is not a goroutine count", s)
			}
			ps = append(ps, p)
		}
		opts = append(opts, bench.WithParallelism(ps...))
	}
	return opts
}
