package main

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// progressBar turns the suite's progress lines (conformance.WithProgress:
// one line per finished check, with the time elapsed and an estimate of
// the time left) into one status line redrawn in place on a terminal:
//
//	[#########-----------]  21/58 sign-invalid  1m04s elapsed, about 2m10s left
//
// A ticker redraws it every second, counting the estimate down, so that a
// check that takes minutes on a slow HSM does not look like a hang. Lines
// it does not recognise (the reduced-budget notes) are printed above the
// bar. It is safe for concurrent use; Close erases the bar.
type progressBar struct {
	w     io.Writer
	start time.Time
	done  chan struct{}

	mu      sync.Mutex
	partial []byte
	checks  int // finished
	total   int // in the run
	current string
	left    time.Duration // the suite's estimate, as of leftAt
	leftAt  time.Time
	drawn   bool
	closed  bool
}

// progressHeader and progressLine match conformance's progress lines; the
// test TestProgressBarReadsTheSuite fails if they change shape.
var (
	progressHeader = regexp.MustCompile(`^conformance: (\d+) checks, \d+ results to produce on `)
	progressLine   = regexp.MustCompile(`^conformance: \[(\d+)/(\d+)\] ([^:]+):.*; \S+ elapsed, about (\S+) left$`)
)

func newProgressBar(w io.Writer) *progressBar {
	p := &progressBar{w: w, start: time.Now(), done: make(chan struct{})}
	go p.tick()
	return p
}

func (p *progressBar) tick() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.mu.Lock()
			if !p.closed {
				p.draw()
			}
			p.mu.Unlock()
		}
	}
}

// Write takes the suite's progress output.
func (p *progressBar) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		line := string(p.partial[:i])
		p.partial = p.partial[i+1:]
		p.line(line)
	}
	return len(b), nil
}

func (p *progressBar) line(line string) {
	if m := progressHeader.FindStringSubmatch(line); m != nil {
		p.total, _ = strconv.Atoi(m[1])
	} else if m := progressLine.FindStringSubmatch(line); m != nil {
		p.checks, _ = strconv.Atoi(m[1])
		p.total, _ = strconv.Atoi(m[2])
		p.current = m[3]
		if d, err := time.ParseDuration(m[4]); err == nil {
			p.left, p.leftAt = d, time.Now()
		}
	} else if !p.closed {
		p.erase()
		fmt.Fprintln(p.w, line)
	}
	if !p.closed {
		p.draw()
	}
}

const barWidth = 24

// draw redraws the status line. p.mu is held.
func (p *progressBar) draw() {
	filled := 0
	if p.total > 0 {
		filled = min(barWidth, p.checks*barWidth/p.total)
	}
	elapsed := time.Since(p.start).Round(time.Second)
	status := fmt.Sprintf("[%s%s] %3d/%d", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled), p.checks, max(p.total, p.checks))
	if p.current != "" {
		status += " " + p.current
	}
	status += fmt.Sprintf("  %v elapsed", elapsed)
	if !p.leftAt.IsZero() {
		left := max(0, p.left-time.Since(p.leftAt)).Round(time.Second)
		status += fmt.Sprintf(", about %v left", left)
	}
	// \r, the line, then clear to the end of the line (ECMA-48 EL).
	fmt.Fprintf(p.w, "\r%s\x1b[K", status)
	p.drawn = true
}

// erase clears the status line. p.mu is held.
func (p *progressBar) erase() {
	if p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// Close stops the ticker and erases the bar. It is idempotent.
func (p *progressBar) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	close(p.done)
	p.erase()
	return nil
}
