package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/bench"
)

// maxBenchCount bounds --count: each round measures every workload again.
const maxBenchCount = 100

func newBenchCommand(a *app) *cobra.Command {
	var (
		algs        []string
		parallelism []int
		benchtime   string
		count       int
		generate    string
		verbose     bool
	)
	cmd := &cobra.Command{
		Use:     "bench URI",
		Short:   "Benchmark a backend beside its raw baselines (benchstat-compatible output)",
		GroupID: groupTest,
		Long: `Measure every operation the backend offers through cryptoplug (impl=backend) and, in the same run,
without it (impl=baseline: the standard library for software keys, raw PKCS #11 calls on the same
token key, raw TPM2 commands on the loaded key) and through peer libraries (crypto11,
go-tpm-tools), at 1, 2, 8 and 32 goroutines: what 'make bench BACKEND=URI' measures, without a Go
toolchain. Results are printed as 'go test -bench' prints them; compare with benchstat:

  cryptoplug bench "$URI" --count 5 > token.txt
  benchstat -col '/impl@(baseline backend crypto11 go-tpm-tools)' -row /op,/alg,/p token.txt

The run creates keys labelled cryptoplug-bench-… and deletes them; point it only at a store where
that is acceptable. A measurement that fails (an error, a wrong output) is left out, reported on
standard error, and the command exits non-zero after the others ran.`,
		Example: `  cryptoplug bench 'pkcs11:token=bench?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/root/pin' --algorithms ECDSA-P256 -p 1,8`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			// The PIN is asked for once, here; the harness and its
			// baselines open the token themselves, the baselines first:
			// crypto11 refuses a module someone else initialised.
			t, err := a.prepare("bench", args[0], withLogin)
			if err != nil {
				return err
			}
			var opts []bench.Option
			if len(algs) > 0 {
				var list []backend.Algorithm
				for _, s := range algs {
					alg, err := parseAlgorithm(s)
					if err != nil {
						return t.fail("", fmt.Errorf("--algorithms: %w", err))
					}
					list = append(list, alg)
				}
				opts = append(opts, bench.WithAlgorithms(list...))
			}
			if len(parallelism) > 0 {
				for _, p := range parallelism {
					if p < 1 || p > 1024 {
						return t.fail("", usagef("-p %d: goroutine counts are 1 to 1024", p))
					}
				}
				opts = append(opts, bench.WithParallelism(parallelism...))
			}
			switch strings.ToLower(generate) {
			case "auto":
			case "on", "off":
				opts = append(opts, bench.WithGenerate(generate == "on"))
			default:
				return t.fail("", usagef("--generate %q: want auto, on or off", generate))
			}
			if count < 1 || count > maxBenchCount {
				return t.fail("", usagef("--count must be 1 to %d", maxBenchCount))
			}
			ctx, cancel := a.context(cmd)
			defer cancel()
			uri := t.raw
			s := bench.Standalone{Name: "Backends/backend=" + t.uri.Scheme, Benchtime: benchtime, Out: a.out}
			if verbose {
				s.Log = a.errw
			}
			for i := range count {
				if count > 1 {
					fmt.Fprintf(a.errw, "cryptoplug bench: round %d of %d\n", i+1, count)
				}
				if err := s.RunURI(ctx, uri, opts...); err != nil {
					return t.fail("", err)
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&algs, "algorithms", nil, "measure these algorithms (default: ECDSA-P256, Ed25519, RSA-2048, ML-DSA-65, ML-KEM-768)")
	fl.IntSliceVarP(&parallelism, "parallelism", "p", nil, "goroutine counts (default 1,2,8,32)")
	fl.StringVar(&benchtime, "benchtime", "1s", "how long each measurement runs: a duration, or a count such as 100x")
	fl.IntVar(&count, "count", 1, "rounds; 5 or more give benchstat confidence intervals")
	fl.StringVar(&generate, "generate", "auto", "measure key generation: auto (only on stores whose keys are not persistent), on or off")
	fl.BoolVarP(&verbose, "verbose", "v", false, "log which baselines are missing and why to standard error")
	return cmd
}
