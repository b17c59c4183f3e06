package bench

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// parallelRun is one timed run of n operations spread over p goroutines.
// Goroutines take operation numbers from one atomic counter, so the load
// balances itself; everything else a goroutine touches per operation was
// allocated before the run and is written only by that goroutine (or, for
// a numbered slot, by the goroutine that drew that number).
type parallelRun struct {
	op  OpFunc
	n   int64
	p   int
	lat *latency

	next   atomic.Int64
	failed atomic.Bool

	// keep are the operation numbers whose outputs are checked afterwards;
	// kept[i] is the output of operation keep[i].
	keep [3]int64
	kept [3][]byte

	errOnce sync.Once
	err     error

	start chan struct{}
	wg    sync.WaitGroup
}

// newParallelRun prepares a run and starts its goroutines, which wait for
// go_ to be called. Nothing it allocates is charged to the operations.
func newParallelRun(op OpFunc, n, p int) *parallelRun {
	r := &parallelRun{
		op:    op,
		n:     int64(n),
		p:     p,
		lat:   newLatency(n),
		keep:  [3]int64{0, int64(n) / 2, int64(n) - 1},
		start: make(chan struct{}),
	}
	r.wg.Add(p)
	for w := range p {
		go r.worker(w)
	}
	return r
}

// run releases the goroutines and waits for them to finish.
func (r *parallelRun) run() {
	close(r.start)
	r.wg.Wait()
}

func (r *parallelRun) worker(w int) {
	defer r.wg.Done()
	<-r.start
	for {
		i := r.next.Add(1) - 1
		if i >= r.n || r.failed.Load() {
			return
		}
		var (
			out []byte
			err error
		)
		if r.lat.sampled(i) {
			t0 := time.Now()
			out, err = r.op(w)
			r.lat.record(i, time.Since(t0))
		} else {
			out, err = r.op(w)
		}
		if err != nil {
			r.fail(fmt.Errorf("operation %d (goroutine %d): %w", i, w, err))
			return
		}
		for k, j := range r.keep {
			if i == j {
				r.kept[k] = out
			}
		}
	}
}

// fail records the first error and stops the other goroutines.
func (r *parallelRun) fail(err error) {
	r.errOnce.Do(func() { r.err = err })
	r.failed.Store(true)
}

// outputs returns the kept outputs, with their operation numbers. Call it
// after run.
func (r *parallelRun) outputs() ([3]int64, [3][]byte) { return r.keep, r.kept }
