package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
)

// Opener opens the backend under test. Run calls it once at the start, and
// again for the "closed" check, which wants a second instance over the same
// store to close on purpose while the first stays open (a persistent store
// that allows one open instance at a time is closed and reopened instead),
// and, on a persistent backend, for the "reopen" check after closing the
// instance in use. Each call must return a new instance over the same store.
type Opener func(ctx context.Context) (backend.Backend, error)

// OpenURI returns an [Opener] that opens uri with [backend.Open]. The
// backend's package must be imported for its registration.
func OpenURI(uri string) Opener {
	return func(ctx context.Context) (backend.Backend, error) { return backend.Open(ctx, uri) }
}

// LabelPrefix starts the label of every key the suite creates. Together with
// a random run identifier it keeps the suite away from every key it did not
// make.
const LabelPrefix = "cryptoplug-conformance-"

// Run runs the conformance suite against the backend open returns, as
// subtests of t named "<check>/<algorithm>". It fails t if the backend breaks
// the contract anywhere it claims to work; see the package documentation for
// what applies when. Keys the suite creates are deleted when t's cleanups
// run, whatever the outcome.
func Run(t *testing.T, open Opener, opts ...Option) {
	t.Helper()
	run(testingT{t}, open, opts...)
}

// runner holds the state of one run: the backend instance in use, the keys
// the checks share, and what to clean up.
type runner struct {
	open     Opener // observed: every backend it opens reports its errors to rec
	cfg      config
	rep      *Report
	root     testT
	id       string // random run identifier, part of every label
	rec      *recorder
	progress *progress

	info backend.Info
	caps backend.Capabilities
	algs []backend.Algorithm // in scope, in backend.Algorithms order

	mu       sync.Mutex
	b        backend.Backend // the instance the checks use; replaced by "reopen"
	fixtures map[fixtureKey]*fixture
	created  map[string]bool // labels of keys this run made (or may have made), for cleanup
}

// fixtureKey names one shared key: RSA has a signing and a decryption key.
type fixtureKey struct {
	alg   backend.Algorithm
	usage backend.Usage
}

type fixture struct {
	key    backend.Key
	err    error         // why it could not be made
	how    string        // "generated" or "imported", for the detail
	wantID backend.KeyID // the ID the suite asked for, if it chose one
	label  string
	dead   bool // deleted by the "delete" check
}

func run(t testT, open Opener, opts ...Option) {
	t.Helper()
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	rep := cfg.report
	if rep == nil {
		rep = new(Report)
	}
	rec := new(recorder)
	r := &runner{
		open:     observe(open, rec),
		cfg:      cfg,
		rep:      rep,
		root:     t,
		id:       randomHex(4),
		rec:      rec,
		fixtures: map[fixtureKey]*fixture{},
		created:  map[string]bool{},
	}
	for _, name := range cfg.checks {
		if !slices.ContainsFunc(checks, func(c check) bool { return c.name == name }) {
			rep.add(Result{Check: "options", Algorithm: columnBackend, Status: StatusFail,
				Detail: fmt.Sprintf("WithChecks: no check is named %q", name), Expected: "the name of a check", Got: name})
			t.Errorf("WithChecks: no check is named %q", name)
			return
		}
	}
	rep.setReduced(cfg.reductions())

	ctx, cancel := context.WithTimeout(context.Background(), cfg.checkTimeout)
	b, err := r.open(ctx)
	cancel()
	if err != nil {
		rep.add(Result{Check: "open", Algorithm: columnBackend, Status: StatusFail, Detail: truncate(err.Error(), maxDetail),
			Expected: "the backend opens", Got: truncate(gotErr(err), maxGot)})
		t.Errorf("open backend: %v", err)
		return
	}
	r.b = b
	t.Cleanup(r.cleanup)
	r.info = b.Info()
	r.caps = b.Capabilities()
	uri := r.info.URI
	if uri == "" {
		uri = r.info.Name
	} else {
		uri = backend.RedactURI(uri)
	}
	rep.setBackend(uri)
	rep.setInfo(r.info)

	scope := cfg.algorithms
	if scope == nil {
		scope = backend.Algorithms()
	}
	for _, a := range backend.Algorithms() {
		for _, s := range scope {
			if s == a {
				r.algs = append(r.algs, a)
				break
			}
		}
	}

	var run []check
	results := 0
	for _, chk := range checks {
		if cfg.selected(chk.name) {
			run = append(run, chk)
			results += r.resultsOf(chk)
		}
	}
	r.progress = newProgress(cfg.progress, len(run), results)
	r.progress.begin(uri, rep.Reduced())
	for _, chk := range run {
		r.progress.checkStart()
		t.Run(chk.name, func(t testT) { r.runCheck(t, chk) })
		r.progress.checkDone(chk.name)
	}
}

// resultsOf is how many results chk will add to the report.
func (r *runner) resultsOf(chk check) int {
	if chk.custom != nil {
		return 1 + len(r.algs)
	}
	n := 0
	if chk.whole != nil {
		n++
	}
	if chk.per != nil {
		for _, a := range r.algs {
			if chk.applies(a) {
				n++
			}
		}
	}
	return n
}

// setCurrent tells the observer which cell is under way, so that an
// offending error can be traced to the check that saw it.
func (r *runner) setCurrent(where string) { r.rec.setCurrent(where) }

// runCheck runs one check over its columns. A panic outside a cell (in a
// custom check's preparation) fails the check's backend column rather than
// the test binary.
func (r *runner) runCheck(t testT, chk check) {
	defer func() {
		if p := recover(); p != nil {
			msg := fmt.Sprintf("panic: %v\n%s", p, debug.Stack())
			r.rep.add(Result{Check: chk.name, Algorithm: columnBackend, Status: StatusFail, Detail: truncate(msg, maxDetail),
				Fault: FaultCryptoplug, Expected: "no panic", Got: truncate(fmt.Sprintf("panic: %v", p), maxGot)})
			t.Errorf("%s", msg)
		}
	}()
	if chk.custom != nil {
		r.setCurrent(chk.name + "/(preparation)")
		chk.custom(r, t, chk.name)
		return
	}
	if chk.whole != nil {
		r.runCell(t, chk.name, columnBackend, func(c *cell) { chk.whole(r, c) })
	}
	if chk.per != nil {
		for _, a := range r.algs {
			if chk.applies(a) {
				r.runCell(t, chk.name, string(a), func(c *cell) { chk.per(r, c, a) })
			}
		}
	}
}

// backend returns the instance the checks use.
func (r *runner) backend() backend.Backend {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.b
}

// label returns a label unique to this run: LabelPrefix, the run ID, then
// the parts joined with "-".
func (r *runner) label(parts ...string) string {
	l := LabelPrefix + r.id
	for _, p := range parts {
		l += "-" + p
	}
	return l
}

// track remembers the label of a key this run made, or may be about to
// make, for cleanup. Call it before the creating call, so that a panic or a
// timeout between the store's commit and the return cannot leak the key.
func (r *runner) track(label string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.created[label] = true
}

// untrack forgets a label whose key the run has deleted itself, so that
// cleanup need not look for it.
func (r *runner) untrack(label string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.created, label)
}

// cleanup deletes every key the run made that still exists, then closes the
// backend. It runs from t.Cleanup, whatever happened before. It deletes only
// keys whose label belongs to this run, by ID and label together.
func (r *runner) cleanup() {
	r.setCurrent("cleanup")
	r.mu.Lock()
	b, created := r.b, slices.Sorted(maps.Keys(r.created))
	r.mu.Unlock()
	if b == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.checkTimeout)
	defer cancel()
	if _, err := b.Keys(ctx); errors.Is(err, backend.ErrClosed) {
		// A failed reopen left a closed instance; the keys may still be
		// on a persistent store, so try once more to reach them.
		nb, err := r.open(ctx)
		if err != nil {
			r.root.Logf("cleanup: the backend is closed and could not be reopened, keys labelled %s%s-… may remain: %v", LabelPrefix, r.id, err)
			return
		}
		b = nb
	}
	for _, label := range created {
		if !r.ours(label) {
			continue
		}
		// A key may exist although creating it failed, and a backend that
		// ignores duplicate labels may hold two: delete by label until none
		// is left, bounded in case deletion silently does nothing.
		for range 4 {
			k, err := b.Key(ctx, backend.ByLabel(label))
			if err != nil || k.Label() != label {
				break
			}
			if err := b.DeleteKey(ctx, backend.KeyRef{ID: k.ID(), Label: label}); err != nil {
				if !errors.Is(err, backend.ErrKeyNotFound) {
					r.root.Logf("cleanup: delete %s: %v", label, err)
				}
				break
			}
		}
	}
	if err := b.Close(); err != nil {
		r.root.Logf("cleanup: close: %v", err)
	}
}

// ours reports whether label belongs to this run.
func (r *runner) ours(label string) bool {
	return strings.HasPrefix(label, LabelPrefix+r.id+"-")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// usageOp is the operation a key of usage u exists for.
func usageOp(u backend.Usage) backend.Ops {
	switch u {
	case backend.UsageDecrypt:
		return backend.OpDecrypt
	case backend.UsageDecapsulate:
		return backend.OpDecapsulate
	}
	return backend.OpSign
}

// naturalUsage is the usage of the shared key a check on a uses by default.
func naturalUsage(a backend.Algorithm) backend.Usage {
	return backend.Usage(0).Resolve(a)
}

// need ends the cell as unsupported unless the backend claims ops for a.
func (r *runner) need(c *cell, a backend.Algorithm, ops backend.Ops) {
	c.t.Helper()
	if !r.caps.Supports(a, ops) {
		c.Unsupported("backend does not claim %s for %s (claims %s)", ops, a, r.caps[a])
	}
}

// errNoKeySource explains why no key could be made.
var errNoKeySource = errors.New("backend claims neither generate nor import, so the suite cannot make a key")

// key returns the shared key of algorithm a and usage u (0: the natural
// usage), making it on first use. It ends the cell as unsupported when the
// backend does not claim u's operation for a, and as skipped when the key
// could not be made earlier; when making it fails in this cell, the cell
// fails.
func (r *runner) key(c *cell, a backend.Algorithm, u backend.Usage) backend.Key {
	c.t.Helper()
	if u == 0 {
		u = naturalUsage(a)
	}
	r.need(c, a, usageOp(u))
	f, madeNow := r.ensureFixture(c.ctx, a, u)
	switch {
	case f.dead:
		c.Skip("the shared %s key was deleted by the delete check", a)
	case errors.Is(f.err, errNoKeySource):
		c.Skip("%v", f.err)
	case f.err != nil && madeNow:
		c.callFatal(fmt.Sprintf("make the shared %s %s key", a, usageName(u)), f.err)
	case f.err != nil:
		c.Skip("no %s %s key: making it failed earlier: %v", a, usageName(u), f.err)
	}
	return f.key
}

// ensureFixture returns the shared key of a and usage u, making it if no
// check has tried yet; madeNow reports whether this call tried. The caller
// checks that the backend claims u's operation for a.
func (r *runner) ensureFixture(ctx context.Context, a backend.Algorithm, u backend.Usage) (f *fixture, madeNow bool) {
	fk := fixtureKey{a, u}
	r.mu.Lock()
	f = r.fixtures[fk]
	r.mu.Unlock()
	if f != nil {
		return f, false
	}
	f = &fixture{label: r.label(string(a), usageName(u))}
	spec := backend.KeySpec{Algorithm: a, Label: f.label, Usage: u}
	if u == naturalUsage(a) {
		// The shared keys of natural usage get an ID chosen here and usage
		// zero; RSA decryption keys get the backend's own ID. Both paths of
		// the contract are exercised.
		spec.ID = randomBytes(16)
		spec.Usage = 0
		f.wantID = spec.ID
	}
	f.key, f.how, f.err = r.makeKey(ctx, r.backend(), spec)
	r.mu.Lock()
	r.fixtures[fk] = f
	r.mu.Unlock()
	return f, true
}

// existingKey returns the shared key if it was made, without making it.
func (r *runner) existingKey(a backend.Algorithm, u backend.Usage) backend.Key {
	if u == 0 {
		u = naturalUsage(a)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.fixtures[fixtureKey{a, u}]; f != nil && f.err == nil && !f.dead {
		return f.key
	}
	return nil
}

func usageName(u backend.Usage) string {
	switch u {
	case backend.UsageSign:
		return "sign"
	case backend.UsageDecrypt:
		return "decrypt"
	case backend.UsageDecapsulate:
		return "decapsulate"
	}
	return fmt.Sprintf("usage%d", u)
}

// makeKey creates the key spec describes on b: generated
// when the backend claims generate for its algorithm, otherwise imported
// from a key the standard library made. The key is tracked for cleanup even
// when creation fails.
func (r *runner) makeKey(ctx context.Context, b backend.Backend, spec backend.KeySpec) (backend.Key, string, error) {
	a, label := spec.Algorithm, spec.Label
	imp, canImport := b.(backend.Importer)
	var (
		k   backend.Key
		how string
		err error
	)
	switch {
	case r.caps.Supports(a, backend.OpGenerate):
		how = "generated"
		r.track(label)
		k, err = b.GenerateKey(ctx, spec)
	case canImport && r.caps.Supports(a, backend.OpImport):
		how = "imported (generate not claimed)"
		priv, perr := r.stdlibKey(a)
		if perr != nil {
			return nil, how, perr
		}
		r.track(label)
		k, err = imp.ImportKey(ctx, spec, priv)
	default:
		return nil, "", errNoKeySource
	}
	if err != nil {
		return nil, how, err
	}
	return k, how, nil
}

// stdlibKeys are the suite's own private keys, one per algorithm, made on
// first use and shared by every run in the process: an RSA-4096 key takes
// seconds to make, and several checks import the suite's key.
var stdlibKeys struct {
	sync.Mutex
	keys map[backend.Algorithm]any
}

// stdlibKey returns a private key of algorithm a made by the standard library
// (or circl), the same one on every call.
func (r *runner) stdlibKey(a backend.Algorithm) (any, error) {
	stdlibKeys.Lock()
	defer stdlibKeys.Unlock()
	if k, ok := stdlibKeys.keys[a]; ok {
		return k, nil
	}
	k, err := privkey.Generate(a)
	if err != nil {
		return nil, err
	}
	if stdlibKeys.keys == nil {
		stdlibKeys.keys = map[backend.Algorithm]any{}
	}
	stdlibKeys.keys[a] = k
	return k, nil
}
