package conformance

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
)

// RunStandalone runs the conformance suite against the backend open
// returns, outside package testing: for programs, such as the cryptoplug
// command, that must run it on a machine without a Go toolchain. It runs
// exactly the checks [Run] runs, in the same order and with the same
// options, and returns the report; the backend conforms where
// [Report.Failures] is empty. A [WithReport] among opts is replaced by the
// returned report.
//
// log, when not nil, receives the transcript a verbose "go test" would
// print: one line per check message, prefixed with the check's name
// ("sign-pss-sha256/RSA-2048: …"). Lines are written whole, from several
// goroutines, one at a time.
//
// Keys the suite creates are deleted, and the backend closed, before
// RunStandalone returns, whatever the outcome. It never panics because of
// the backend: a panic inside a check is recorded as that check's failure.
// RunStandalone is safe to call from several goroutines, each run with its
// own report, but two runs against the same store interfere as two
// "go test" runs would.
func RunStandalone(open Opener, log io.Writer, opts ...Option) *Report {
	rep := new(Report)
	root := &standaloneT{name: "", log: &lineWriter{w: log}}
	done := make(chan struct{})
	go func() { // the suite may end this goroutine with Goexit, as a test would
		defer close(done)
		defer root.runCleanups()
		run(root, open, append(opts, WithReport(rep))...)
	}()
	<-done
	return rep
}

// standaloneT is the testT of [RunStandalone]. Like testing.T it runs each
// subtest on its own goroutine, ends it with runtime.Goexit on FailNow and
// SkipNow, runs its cleanups (last first) when the subtest's function
// returns, and marks every ancestor failed when a subtest fails.
type standaloneT struct {
	name   string
	parent *standaloneT
	log    *lineWriter

	mu       sync.Mutex
	failed   bool
	cleanups []func()
}

func (t *standaloneT) Run(name string, f func(testT)) bool {
	full := name
	if t.name != "" {
		full = t.name + "/" + name
	}
	child := &standaloneT{name: full, parent: t, log: t.log}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer child.runCleanups()
		f(child)
	}()
	<-done
	return !child.Failed()
}

func (t *standaloneT) Errorf(format string, args ...any) {
	t.log.line(t.name, "FAIL: "+fmt.Sprintf(format, args...))
	t.fail()
}

func (t *standaloneT) fail() {
	for p := t; p != nil; p = p.parent {
		p.mu.Lock()
		p.failed = true
		p.mu.Unlock()
	}
}

func (t *standaloneT) Logf(format string, args ...any) {
	t.log.line(t.name, fmt.Sprintf(format, args...))
}

func (t *standaloneT) FailNow() {
	t.fail()
	runtime.Goexit()
}

func (t *standaloneT) SkipNow() { runtime.Goexit() }

func (t *standaloneT) Helper() {}

func (t *standaloneT) Cleanup(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cleanups = append(t.cleanups, f)
}

func (t *standaloneT) Failed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.failed
}

func (t *standaloneT) Name() string { return t.name }

// runCleanups runs the registered cleanups, last first. A cleanup that
// panics does not stop the others, and the panic is logged as a failure:
// cleanups delete the suite's keys from a real token.
func (t *standaloneT) runCleanups() {
	t.mu.Lock()
	fs := t.cleanups
	t.cleanups = nil
	t.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("cleanup panicked: %v", p)
				}
			}()
			fs[i]()
		}()
	}
}

// lineWriter writes transcript lines to w, one whole line at a time. A nil
// w discards them.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) line(name, msg string) {
	if l.w == nil {
		return
	}
	var b strings.Builder
	for i, part := range strings.Split(strings.TrimRight(msg, "\n"), "\n") {
		if name != "" {
			b.WriteString(name)
			b.WriteString(": ")
		}
		if i > 0 {
			b.WriteString("    ")
		}
		b.WriteString(part)
		b.WriteByte('\n')
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, b.String())
}
