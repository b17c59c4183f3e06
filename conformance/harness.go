package conformance

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cryptoplug/cryptoplug/backend"
)

// testT is the part of *testing.T the suite uses. The suite runs over this
// interface rather than *testing.T so that its own tests can drive it with a
// recording fake and assert that a broken backend FAILS, without failing the
// outer test. FailNow and SkipNow must stop the calling goroutine (with
// runtime.Goexit), as testing's do.
type testT interface {
	Run(name string, f func(testT)) bool
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	FailNow()
	SkipNow()
	Helper()
	Cleanup(f func())
	Failed() bool
	Name() string
}

// testingT adapts *testing.T to testT.
type testingT struct{ *testing.T }

func (t testingT) Run(name string, f func(testT)) bool {
	return t.T.Run(name, func(t *testing.T) { f(testingT{t}) })
}

// maxDetail bounds the detail text of one result, so that a check that fails
// a thousand times does not produce a report nobody reads.
const maxDetail = 600

// maxGot bounds the Expected and Got texts of a result: a few words each.
const maxGot = 200

// failure is one thing a check found wrong: whose fault it is, what the
// contract expected, what came back, and the full message.
type failure struct {
	fault    Fault
	expected string
	got      string
	msg      string
}

// cell is one result of the matrix: one check on one algorithm (or on the
// backend as a whole). Checks report through it; it forwards to the testT and
// remembers what to put in the report.
type cell struct {
	t     testT
	ctx   context.Context // bounds the check's context-taking calls
	check string
	col   string // an algorithm name, or columnBackend

	mu     sync.Mutex // failf may be called from goroutines
	status Status     // set by Unsupported and Skip; pass or fail otherwise
	notes  []string
	fails  []failure
}

// failf records a failure and continues: fault says whose it is (empty for
// the suite's own trouble, such as vectors it cannot read), expected and got
// say in a few words what the contract asks for and what came back. Safe for
// concurrent use.
func (c *cell) failf(fault Fault, expected, got string, format string, args ...any) {
	c.t.Helper()
	msg := fmt.Sprintf(format, args...)
	c.mu.Lock()
	c.fails = append(c.fails, failure{fault: fault, expected: expected, got: got, msg: msg})
	c.mu.Unlock()
	c.t.Errorf("%s", msg)
}

// fatalf records a failure, like failf, and stops the check. Call it only
// from the check's own goroutine.
func (c *cell) fatalf(fault Fault, expected, got string, format string, args ...any) {
	c.t.Helper()
	c.failf(fault, expected, got, format, args...)
	c.t.FailNow()
}

// callFailed records that a call which had to succeed returned err; whose
// fault it is follows from the error (see faultOf).
func (c *cell) callFailed(what string, err error) {
	c.t.Helper()
	c.failf(faultOf(err), "success", gotErr(err), "%s: %v", what, err)
}

// callFatal is callFailed, then stops the check.
func (c *cell) callFatal(what string, err error) {
	c.t.Helper()
	c.callFailed(what, err)
	c.t.FailNow()
}

// suiteFatal stops the check because the suite itself could not go on (it
// could not build a ciphertext, read vectors, or make a key of its own). No
// fault is assigned: the backend may be fine.
func (c *cell) suiteFatal(format string, args ...any) {
	c.t.Helper()
	c.fatalf("", "", "", format, args...)
}

// faultOf says whose fault an error from a request that should have
// succeeded is. The contract's own answers (a sentinel of package backend,
// a context error) and errors that are not a *backend.Error at all come from
// cryptoplug's code; anything else is the store's refusal passed through.
func faultOf(err error) Fault {
	var be *backend.Error
	switch {
	case !errors.As(err, &be),
		errors.Is(err, backend.ErrUnsupported), errors.Is(err, backend.ErrInvalidInput),
		errors.Is(err, backend.ErrClosed), errors.Is(err, backend.ErrKeyNotFound),
		errors.Is(err, backend.ErrKeyExists), errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded):
		return FaultCryptoplug
	}
	return FaultStore
}

// gotErr describes an error for a result's Got.
func gotErr(err error) string {
	if err == nil {
		return "success"
	}
	return "error: " + err.Error()
}

// Notef adds a remark to the result's detail without changing its status:
// which parameter combinations the store refused, how long a key took.
func (c *cell) Notef(format string, args ...any) {
	c.t.Helper()
	msg := fmt.Sprintf(format, args...)
	c.mu.Lock()
	c.notes = append(c.notes, msg)
	c.mu.Unlock()
	c.t.Logf("%s", msg)
}

// Unsupported ends the check as "unsupported": the backend does not claim
// what the check needs, or refused every variant of it with ErrUnsupported.
// Failures recorded before still make the result "fail".
func (c *cell) Unsupported(format string, args ...any) {
	c.t.Helper()
	c.end(StatusUnsupported, fmt.Sprintf(format, args...))
}

// Skip ends the check as "skip": it could not run here (no key to run it on,
// a backend that is not persistent, vectors that hold no private keys).
func (c *cell) Skip(format string, args ...any) {
	c.t.Helper()
	c.end(StatusSkip, fmt.Sprintf(format, args...))
}

func (c *cell) end(s Status, reason string) {
	c.mu.Lock()
	c.status = s
	c.notes = append(c.notes, reason)
	c.mu.Unlock()
	c.t.Logf("%s: %s", s, reason)
	c.t.SkipNow()
}

// failed reports whether the cell recorded a failure.
func (c *cell) failed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.fails) > 0
}

// result turns what the cell saw into a report line. A failing result
// carries the fault, expected and got of its first failure; its detail
// lists every failure.
func (c *cell) result() Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := Result{Check: c.check, Algorithm: c.col, Status: c.status}
	var parts []string
	if len(c.fails) > 0 || c.t.Failed() {
		r.Status = StatusFail
		for _, f := range c.fails {
			parts = append(parts, f.msg)
		}
		if len(c.fails) == 0 {
			parts = append(parts, "failed (see test log)")
		} else {
			first := c.fails[0]
			r.Fault = first.fault
			r.Expected = truncate(first.expected, maxGot)
			r.Got = truncate(first.got, maxGot)
		}
	} else {
		if r.Status == "" {
			r.Status = StatusPass
		}
		parts = c.notes
	}
	r.Detail = truncate(strings.Join(parts, "; "), maxDetail)
	return r
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary, so that the report stays valid UTF-8.
	cut := n - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// runCell runs f as the subtest col of parent, recording its result in the
// report. The cell's context expires after the check timeout. A panic in f
// is recovered and recorded as a failure so that one broken backend call
// does not abort the whole suite.
func (r *runner) runCell(parent testT, check, col string, f func(c *cell)) {
	parent.Run(col, func(t testT) {
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.checkTimeout)
		defer cancel()
		c := &cell{t: t, ctx: ctx, check: check, col: col}
		r.setCurrent(check + "/" + col)
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				c.failf(FaultCryptoplug, "no panic", fmt.Sprintf("panic: %v", p), "panic: %v\n%s", p, debug.Stack())
			}
			res := c.result()
			res.Seconds = time.Since(start).Seconds()
			r.rep.add(res)
			r.progress.cellDone(res)
		}()
		f(c)
	})
}
