package outage

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// Backoff bounds the retries of a [Loop]: the first retry comes First
// after a failed attempt, each later one twice as late up to Max, each
// delay varied by up to a fifth either way so that processes that lost the
// same store do not retry in step. Attempt bounds one attempt's waits
// (the context it receives); a call into the store that hangs is not
// interrupted by it.
type Backoff struct {
	First, Max, Attempt time.Duration
}

// DefaultBackoff retries after 100 ms, then 200 ms, … up to 1 s, so that
// a store that comes back is found again within about 1.2 s plus one
// attempt.
var DefaultBackoff = Backoff{First: 100 * time.Millisecond, Max: time.Second, Attempt: 10 * time.Second}

// Loop runs a recovery in the background: one attempt at a time, on one
// goroutine that exists only while something is to be recovered, retried
// with [Backoff] until an attempt succeeds or the Loop is closed. It is
// safe for concurrent use.
type Loop struct {
	attempt func(ctx context.Context) error
	backoff Backoff
	stop    chan struct{} // closed by Close
	stopCtx context.Context
	cancel  context.CancelFunc

	mu        sync.Mutex
	running   bool          // the goroutine exists
	attacking bool          // an attempt runs or is about to
	kicked    bool          // Kick was called since the running attempt began
	ended     chan struct{} // closed when the next attempt to end ends
	closed    bool
}

// NewLoop returns a Loop whose attempts call attempt, which returns nil
// once the store is recovered.
func NewLoop(attempt func(ctx context.Context) error, b Backoff) *Loop {
	ctx, cancel := context.WithCancel(context.Background())
	return &Loop{attempt: attempt, backoff: b, stop: make(chan struct{}), stopCtx: ctx, cancel: cancel, ended: make(chan struct{})}
}

// Kick asks for a recovery. When no attempt is pending, one starts at
// once; when an attempt runs, another follows it if it succeeds (a new
// failure may have come after it began). now reports whether an attempt
// runs or starts now — rather than after a backoff delay — and ended is
// closed when that attempt (or, when now is false, the next one) ends: a
// caller that met the failure may wait for it, bounded by its own
// context; others should not wait at all.
func (l *Loop) Kick() (ended <-chan struct{}, now bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return closedChan, false
	}
	l.kicked = true
	if !l.running {
		l.running, l.attacking = true, true
		go l.run()
	}
	return l.ended, l.attacking
}

// Running reports whether the loop's goroutine exists: something is being
// recovered.
func (l *Loop) Running() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running
}

// Close stops the loop after the attempt under way, if any. It does not
// wait for it: an attempt blocked in the store ends when the store
// answers.
func (l *Loop) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		close(l.stop)
		l.cancel()
	}
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (l *Loop) run() {
	delay := l.backoff.First
	for {
		l.mu.Lock()
		l.kicked = false
		l.mu.Unlock()

		ctx, cancel := context.WithTimeout(l.stopCtx, l.backoff.Attempt)
		err := l.attempt(ctx)
		cancel()

		l.mu.Lock()
		close(l.ended)
		l.ended = make(chan struct{})
		if l.closed || err == nil && !l.kicked {
			l.running, l.attacking = false, false
			l.mu.Unlock()
			return
		}
		if err == nil {
			// A failure came in while the attempt ran: try again at once.
			delay = l.backoff.First
			l.mu.Unlock()
			continue
		}
		l.attacking = false
		l.mu.Unlock()

		t := time.NewTimer(jitter(delay))
		select {
		case <-t.C:
		case <-l.stop:
			t.Stop()
			l.mu.Lock()
			l.running = false
			l.mu.Unlock()
			return
		}
		delay = min(2*delay, l.backoff.Max)
		l.mu.Lock()
		l.attacking = true
		l.mu.Unlock()
	}
}

// jitter returns d varied by up to a fifth either way.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + time.Duration(rand.Int64N(int64(d)*2/5+1)) - d/5
}
