package conformance

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
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

// cell is one result of the matrix: one check on one algorithm (or on the
// backend as a whole). Checks report through it; it forwards to the testT and
// remembers what to put in the report.
type cell struct {
	t     testT
	ctx   context.Context // bounds the check's context-taking calls
	check string
	col   string // an algorithm name, or columnBackend

	mu     sync.Mutex // Errorf may be called from goroutines
	status Status     // set by Unsupported and Skip; pass or fail otherwise
	notes  []string
	errs   []string
}

// Errorf records a failure and continues. Safe for concurrent use.
func (c *cell) Errorf(format string, args ...any) {
	c.t.Helper()
	msg := fmt.Sprintf(format, args...)
	c.mu.Lock()
	c.errs = append(c.errs, msg)
	c.mu.Unlock()
	c.t.Errorf("%s", msg)
}

// Fatalf records a failure and stops the check. Call it only from the
// check's own goroutine.
func (c *cell) Fatalf(format string, args ...any) {
	c.t.Helper()
	c.Errorf(format, args...)
	c.t.FailNow()
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
	return len(c.errs) > 0
}

// result turns what the cell saw into a report line.
func (c *cell) result() Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := Result{Check: c.check, Algorithm: c.col, Status: c.status}
	var parts []string
	if len(c.errs) > 0 || c.t.Failed() {
		r.Status = StatusFail
		parts = append(parts, c.errs...)
		if len(c.errs) == 0 {
			parts = append(parts, "failed (see test log)")
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
	return s[:n-3] + "..."
}

// runCell runs f as the subtest col of parent, recording its result in rep.
// The cell's context expires after timeout. A panic in f is recovered and
// recorded as a failure so that one broken backend call does not abort the
// whole suite.
func runCell(parent testT, rep *Report, timeout time.Duration, check, col string, f func(c *cell)) {
	parent.Run(col, func(t testT) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c := &cell{t: t, ctx: ctx, check: check, col: col}
		start := time.Now()
		defer func() {
			if p := recover(); p != nil {
				c.Errorf("panic: %v\n%s", p, debug.Stack())
			}
			res := c.result()
			res.Seconds = time.Since(start).Seconds()
			rep.add(res)
		}()
		f(c)
	})
}
