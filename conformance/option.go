package conformance

import (
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
)

// Option configures [Run].
type Option func(*config)

type config struct {
	report          *Report
	algorithms      []backend.Algorithm // nil: every algorithm
	sigBudget       int
	goroutines      int
	opsPerGoroutine int
	wycheproofDir   string
	wycheproofLimit int
	checkTimeout    time.Duration
}

func defaultConfig() config {
	return config{
		sigBudget:       2000,
		goroutines:      32,
		opsPerGoroutine: 20,
		wycheproofLimit: 400,
		checkTimeout:    5 * time.Minute,
	}
}

// WithReport makes Run record every result in r, so the caller can print
// [Report.Matrix] or save the JSON after the run. Without it the results
// appear only in the test log.
func WithReport(r *Report) Option { return func(c *config) { c.report = r } }

// WithAlgorithms restricts the run to algs; the others are neither tested
// nor reported. Use it to keep a run on slow hardware short.
func WithAlgorithms(algs ...backend.Algorithm) Option {
	return func(c *config) { c.algorithms = append([]backend.Algorithm(nil), algs...) }
}

// WithSignatureBudget bounds how many RSA signatures the
// "rsa-signature-length" check makes while looking for one whose integer has
// a leading zero byte (about one in 256 does; the default budget is 2000). A
// smaller budget suits slow HSMs; the result's detail says whether such a
// signature was seen.
func WithSignatureBudget(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.sigBudget = n
		}
	}
}

// WithConcurrency sets the "concurrency" check's load: goroutines goroutines
// each making ops operations across every key of the run (default 32 × 20).
func WithConcurrency(goroutines, ops int) Option {
	return func(c *config) {
		if goroutines > 0 {
			c.goroutines = goroutines
		}
		if ops > 0 {
			c.opsPerGoroutine = ops
		}
	}
}

// WithWycheproofDir reads the Wycheproof vectors from dir (a checkout or
// module directory of github.com/C2SP/wycheproof, holding testvectors_v1)
// instead of locating the pinned module version with "go mod download".
func WithWycheproofDir(dir string) Option { return func(c *config) { c.wycheproofDir = dir } }

// WithWycheproofLimit runs at most n test cases of each vector file (default
// 400, every case of every file the suite reads), chosen evenly across the
// file. Each RSA group and each ML-KEM case is a key import and a deletion,
// so lower it for slow tokens. n = 0 disables the known-answer checks (they are recorded as
// "skip"); n < 0 runs every case.
func WithWycheproofLimit(n int) Option { return func(c *config) { c.wycheproofLimit = n } }

// WithCheckTimeout bounds the context-taking calls of each check (default
// five minutes per check and algorithm), so that a hung token fails one
// check instead of the whole test binary timing out. Calls without a context
// (Sign, Decrypt, Decapsulate) are bounded by the backend's own timeout.
func WithCheckTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.checkTimeout = d
		}
	}
}
