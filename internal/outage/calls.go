package outage

import (
	"context"
	"sync/atomic"
	"time"
)

// Calls runs calls to a store that may hang, so that a caller never waits
// past its context: each call runs on a goroutine of its own, and when
// the caller's context ends first the caller returns while the call runs
// on, abandoned, until the store answers. Calls counts abandoned calls
// still running; [Calls.Full] reports when they reach the limit, beyond
// which a backend starts no new call (so goroutines, sessions and memory
// stay bounded however long an outage lasts). It is safe for concurrent
// use.
type Calls struct {
	limit     int64
	abandoned atomic.Int64
	total     atomic.Uint64
	fullSince atomic.Int64 // Unix nanoseconds when abandoned last reached limit
}

// NewCalls returns a Calls that is full when limit calls (at least one)
// are abandoned and still running.
func NewCalls(limit int) *Calls { return &Calls{limit: max(int64(limit), 1)} }

// call is one call's handover between its goroutine and its caller.
type call struct {
	state atomic.Int32 // callRunning, then callReturned or callAbandoned, whoever is first
	done  chan error   // receives fn's error when the caller is still waiting
}

const (
	callRunning int32 = iota
	callReturned
	callAbandoned
)

// Run runs fn on a goroutine of its own and waits for it or for ctx.
// When fn returns first, Run returns its error and ok is true. When ctx
// ends first, Run returns ctx's error and ok is false: fn runs on,
// counted as abandoned, and when it returns, late (if not nil) receives
// its error, on fn's goroutine, so that whatever fn held is given back
// once its state is known.
func (c *Calls) Run(ctx context.Context, fn func() error, late func(error)) (err error, ok bool) {
	cl := &call{done: make(chan error, 1)}
	go c.run(cl, fn, late)
	select {
	case err := <-cl.done:
		return err, true
	case <-ctx.Done():
	}
	// Counted before the handover, so that the call's goroutine, which
	// uncounts it, never sees the count without it.
	if n := c.abandoned.Add(1); n >= c.limit {
		c.fullSince.Store(time.Now().UnixNano())
	}
	if cl.state.CompareAndSwap(callRunning, callAbandoned) {
		c.total.Add(1)
		return ctx.Err(), false
	}
	c.abandoned.Add(-1) // fn returned at the same moment: its answer is here
	return <-cl.done, true
}

func (c *Calls) run(cl *call, fn func() error, late func(error)) {
	err := fn()
	if cl.state.CompareAndSwap(callRunning, callReturned) {
		cl.done <- err
		return
	}
	if late != nil {
		late(err)
	}
	c.abandoned.Add(-1)
}

// Abandoned returns how many abandoned calls are still running.
func (c *Calls) Abandoned() int { return int(max(c.abandoned.Load(), 0)) }

// Total returns how many calls were abandoned since c was made.
func (c *Calls) Total() uint64 { return c.total.Load() }

// Full reports whether the abandoned calls still running have reached the
// limit, and since when.
func (c *Calls) Full() (full bool, since time.Time) {
	if c.abandoned.Load() < c.limit {
		return false, time.Time{}
	}
	return true, time.Unix(0, c.fullSince.Load())
}

// Limit returns the limit c was made with.
func (c *Calls) Limit() int { return int(c.limit) }
