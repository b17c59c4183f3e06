package conformance

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
)

// Option configures [Run].
type Option func(*config)

type config struct {
	report          *Report
	algorithms      []backend.Algorithm // nil: every algorithm
	checks          []string            // nil: every check
	progress        io.Writer           // nil: no progress lines
	sigBudget       int
	samples         int
	longMessage     int
	goroutines      int
	opsPerGoroutine int
	wycheproofDir   string
	wycheproofLimit int
	checkTimeout    time.Duration
}

// The default budget: what a run on fast hardware does.
const (
	defaultSigBudget   = 2000
	defaultSamples     = 16
	defaultLongMessage = 1<<20 + 1 // 1 MiB and one byte: long, and odd
	defaultGoroutines  = 32
	defaultOps         = 20
	defaultWycheproof  = 400
	minLongMessage     = 4097 // the longest message every store must sign
)

func defaultConfig() config {
	return config{
		sigBudget:       defaultSigBudget,
		samples:         defaultSamples,
		longMessage:     defaultLongMessage,
		goroutines:      defaultGoroutines,
		opsPerGoroutine: defaultOps,
		wycheproofLimit: defaultWycheproof,
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

// WithChecks restricts the run to the named checks (the rows of the matrix,
// such as "sign-repeat" or "decrypt-oracle"); the others are neither run nor
// reported. A name the suite does not know fails the run. Keys the checks
// need are made on first use, so any subset works on its own.
func WithChecks(names ...string) Option {
	return func(c *config) { c.checks = append([]string(nil), names...) }
}

// WithProgress writes a line to w as each check finishes: its results, how
// long it took, the time elapsed and an estimate of the time left. Useful on
// a slow HSM, where a full run takes minutes; `make conformance` writes them
// to stderr.
func WithProgress(w io.Writer) Option { return func(c *config) { c.progress = w } }

// WithSignatureBudget bounds how many signatures the "rsa-signature-length"
// and "ecdsa-der" checks make while looking for one whose integers have a
// leading zero byte (about one in 256 does for RSA, one in 128 for ECDSA's r
// or s; the default budget is 2000). A smaller budget suits slow HSMs; the
// result's detail says whether such a signature was seen, and the report
// lists the reduction.
func WithSignatureBudget(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.sigBudget = n
		}
	}
}

// WithRepeatSamples sets how many signatures over distinct inputs the
// "sign-repeat" check compares for a repeated ECDSA nonce or PSS salt
// (default 16, at least 4).
func WithRepeatSamples(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.samples = max(n, 4)
		}
	}
}

// WithLongMessageLimit sets the longest message the "sign-long-message"
// check signs with pure schemes (default 1 MiB + 1 byte; at least 4097, the
// length every store must sign).
func WithLongMessageLimit(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.longMessage = max(n, minLongMessage)
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

// WithSmallBudget is the budget for a slow token, such as a network HSM
// where one signature takes tens of milliseconds: 200 signatures in the
// searches, 8 per nonce test, messages up to 64 KiB, 8 × 10 concurrent
// operations and 24 known-answer cases per vector file. Options given after
// it override its parts. The report lists every reduction.
func WithSmallBudget() Option {
	return func(c *config) {
		c.sigBudget = 200
		c.samples = 8
		c.longMessage = 64<<10 + 1
		c.goroutines, c.opsPerGoroutine = 8, 10
		c.wycheproofLimit = 24
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

// reductions lists, in words, every way this configuration does less than
// the default: what a report must state so that a pass on a reduced budget
// is not mistaken for a full one.
func (c config) reductions() []string {
	var out []string
	if c.checks != nil {
		out = append(out, fmt.Sprintf("only the checks %s", strings.Join(c.checks, ", ")))
	}
	if c.algorithms != nil {
		var names []string
		for _, a := range c.algorithms {
			names = append(names, string(a))
		}
		out = append(out, fmt.Sprintf("only the algorithms %s", strings.Join(names, ", ")))
	}
	if c.sigBudget < defaultSigBudget {
		out = append(out, fmt.Sprintf("rsa-signature-length and ecdsa-der: at most %d signatures searching for a leading zero byte (default %d)",
			c.sigBudget, defaultSigBudget))
	}
	if c.samples < defaultSamples {
		out = append(out, fmt.Sprintf("sign-repeat: %d signatures per nonce and salt comparison (default %d)", c.samples, defaultSamples))
	}
	if c.longMessage < defaultLongMessage {
		out = append(out, fmt.Sprintf("sign-long-message: messages up to %d bytes (default %d)", c.longMessage, defaultLongMessage))
	}
	if c.goroutines < defaultGoroutines || c.opsPerGoroutine < defaultOps {
		out = append(out, fmt.Sprintf("concurrency: %d goroutines × %d operations (default %d × %d)",
			c.goroutines, c.opsPerGoroutine, defaultGoroutines, defaultOps))
	}
	switch {
	case c.wycheproofLimit == 0:
		out = append(out, fmt.Sprintf("known-answer checks disabled (default %d cases per vector file)", defaultWycheproof))
	case c.wycheproofLimit > 0 && c.wycheproofLimit < defaultWycheproof:
		out = append(out, fmt.Sprintf("wycheproof-* and kat-eddsa: at most %d cases per vector file (default %d)", c.wycheproofLimit, defaultWycheproof))
	}
	return out
}

// selected reports whether the check named name is to run.
func (c config) selected(name string) bool {
	return c.checks == nil || slices.Contains(c.checks, name)
}
