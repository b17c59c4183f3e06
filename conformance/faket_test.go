package conformance

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// recordingT is a testT that records instead of failing the real test, so
// that the suite's own tests can run it against a broken backend and assert
// which checks fail. Like testing.T it runs each subtest on its own
// goroutine, ends it with runtime.Goexit on FailNow and SkipNow, and runs
// cleanups when the (sub)test's function returns.
type recordingT struct {
	name   string
	parent *recordingT

	mu       sync.Mutex
	failed   bool
	skipped  bool
	logs     []string
	cleanups []func()
}

func newRecordingT(name string) *recordingT { return &recordingT{name: name} }

func (t *recordingT) Run(name string, f func(testT)) bool {
	child := &recordingT{name: t.name + "/" + name, parent: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer child.runCleanups()
		f(child)
	}()
	<-done
	return !child.Failed()
}

func (t *recordingT) Errorf(format string, args ...any) {
	t.log("ERROR " + fmt.Sprintf(format, args...))
	t.fail()
}

func (t *recordingT) fail() {
	t.mu.Lock()
	t.failed = true
	t.mu.Unlock()
	if t.parent != nil {
		t.parent.fail()
	}
}

func (t *recordingT) Logf(format string, args ...any) { t.log(fmt.Sprintf(format, args...)) }

// log appends to the root's transcript.
func (t *recordingT) log(s string) {
	root := t
	for root.parent != nil {
		root = root.parent
	}
	root.mu.Lock()
	defer root.mu.Unlock()
	root.logs = append(root.logs, t.name+": "+s)
}

func (t *recordingT) FailNow() {
	t.fail()
	runtime.Goexit()
}

func (t *recordingT) SkipNow() {
	t.mu.Lock()
	t.skipped = true
	t.mu.Unlock()
	runtime.Goexit()
}

func (t *recordingT) Helper() {}

func (t *recordingT) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *recordingT) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *recordingT) Name() string { return t.name }

// runCleanups runs the registered cleanups, last first.
func (t *recordingT) runCleanups() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

// transcript returns what was logged, for the message of a failing test.
func (t *recordingT) transcript() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.logs, "\n")
}

// runRecorded runs the suite against open on a recordingT and returns the
// report and the transcript, after the suite's cleanups (key deletion,
// Close) have run.
func runRecorded(tb testing.TB, open Opener, opts ...Option) (*Report, *recordingT) {
	tb.Helper()
	rep := new(Report)
	rt := newRecordingT(tb.Name())
	done := make(chan struct{})
	go func() { // run may end the goroutine with Goexit, as a test would
		defer close(done)
		defer rt.runCleanups()
		run(rt, open, append(opts, WithReport(rep))...)
	}()
	<-done
	return rep, rt
}
