package conformance

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// progress writes one line per finished check to the writer given with
// WithProgress: on a slow token a full run takes minutes, and whoever runs
// it wants to know it is moving and roughly when it ends. The estimate
// assumes the remaining results cost what the finished ones cost on
// average, which is rough (known-answer checks import many keys) but says
// whether to wait or to come back later.
type progress struct {
	w     io.Writer // nil: silent
	start time.Time
	total int // results the run will produce

	mu       sync.Mutex
	done     int
	checks   int // checks finished
	nChecks  int // checks in the run
	counts   map[Status]int
	checkRun time.Time
}

func newProgress(w io.Writer, checks, results int) *progress {
	return &progress{w: w, start: time.Now(), total: results, nChecks: checks, counts: map[Status]int{}}
}

// checkStart marks the start of a check.
func (p *progress) checkStart() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checkRun = time.Now()
	clear(p.counts)
}

// cellDone counts one result of the check under way.
func (p *progress) cellDone(res Result) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	p.counts[res.Status]++
}

// checkDone writes the line for a finished check.
func (p *progress) checkDone(name string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.checks++
	if p.w == nil {
		return
	}
	now := time.Now()
	elapsed := now.Sub(p.start)
	left := "about 0s left"
	if p.done > 0 && p.done < p.total {
		est := time.Duration(float64(elapsed) * float64(p.total-p.done) / float64(p.done))
		left = "about " + est.Round(time.Second).String() + " left"
	}
	summary := ""
	for _, s := range []Status{StatusPass, StatusFail, StatusUnsupported, StatusSkip} {
		if n := p.counts[s]; n > 0 {
			summary += fmt.Sprintf(" %d %s", n, cellText(s))
		}
	}
	if summary == "" {
		return // a check that applies to no algorithm in scope
	}
	fmt.Fprintf(p.w, "conformance: [%d/%d] %s:%s in %v; %v elapsed, %s\n", p.checks, p.nChecks, name, summary,
		now.Sub(p.checkRun).Round(time.Millisecond), elapsed.Round(time.Second), left)
}

// begin writes the first line, before any check runs.
func (p *progress) begin(backendName string, reduced []string) {
	if p == nil || p.w == nil {
		return
	}
	fmt.Fprintf(p.w, "conformance: %d checks, %d results to produce on %s\n", p.nChecks, p.total, backendName)
	for _, r := range reduced {
		fmt.Fprintf(p.w, "conformance: reduced budget: %s\n", r)
	}
}
