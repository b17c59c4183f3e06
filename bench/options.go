package bench

import (
	"slices"

	"github.com/cryptoplug/cryptoplug/backend"
)

// An Option configures [Run].
type Option func(*config)

type config struct {
	algs        []backend.Algorithm
	parallelism []int
	uri         string
	baseliners  map[string]Baseliner
	generate    *bool // nil: only on stores that are not persistent
	onResult    func(Result)
}

func newConfig(opts []Option) *config {
	c := &config{
		algs:        DefaultAlgorithms(),
		parallelism: DefaultParallelism(),
		baseliners:  builtinBaseliners(),
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// DefaultAlgorithms returns the algorithms [Run] measures unless
// [WithAlgorithms] says otherwise: those of the project's performance goals
// (ECDSA-P256, Ed25519, RSA-2048) and one post-quantum signature and KEM
// (ML-DSA-65, ML-KEM-768). Algorithms a backend does not support are left
// out of its run.
func DefaultAlgorithms() []backend.Algorithm {
	return []backend.Algorithm{backend.ECDSAP256, backend.Ed25519, backend.RSA2048, backend.MLDSA65, backend.MLKEM768}
}

// DefaultParallelism returns the goroutine counts every operation is run
// at unless [WithParallelism] says otherwise: 1, 2, 8 and 32.
func DefaultParallelism() []int { return []int{1, 2, 8, 32} }

// WithAlgorithms sets the algorithms to measure, in this order. An
// algorithm the backend does not support is skipped.
func WithAlgorithms(algs ...backend.Algorithm) Option {
	return func(c *config) { c.algs = slices.Clone(algs) }
}

// WithParallelism sets how many goroutines run each operation at once; one
// result is reported per value. Values below 1 are ignored.
func WithParallelism(goroutines ...int) Option {
	return func(c *config) {
		c.parallelism = c.parallelism[:0]
		for _, p := range goroutines {
			if p >= 1 {
				c.parallelism = append(c.parallelism, p)
			}
		}
	}
}

// WithURI gives [Run] the URI the backend is opened with, PIN attributes
// included, so that baselines and peers can open the same token or TPM
// themselves. Without it they get the backend's [backend.Info] URI, from
// which secrets have been removed. [RunURI] sets it.
func WithURI(uri string) Option {
	return func(c *config) { c.uri = uri }
}

// WithBaseliner makes bl provide the baselines and peers for backends whose
// URI scheme is scheme, replacing the built-in one. A nil bl measures such
// backends alone.
func WithBaseliner(scheme string, bl Baseliner) Option {
	return func(c *config) { c.baseliners[scheme] = bl }
}

// WithGenerate turns the Generate operation on or off. By default it is
// measured only on backends whose keys are not persistent
// ([backend.Info].Persistent false), where creating and deleting thousands
// of keys is cheap and leaves nothing behind. RSA key generation is never
// measured: it takes too long, and too variably, for a benchmark.
func WithGenerate(on bool) Option {
	return func(c *config) { c.generate = &on }
}

// OnResult has fn called with every timed run, from the benchmark's
// goroutine, after its metrics are reported to the testing package. That
// includes the short runs the testing package makes to choose b.N.
func OnResult(fn func(Result)) Option {
	return func(c *config) { c.onResult = fn }
}
