package bench

import (
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
)

// Result is one measurement, as [OnResult] receives it. The testing
// package reports the same run (with B/op and allocs/op, which it measures
// itself) under Name.
type Result struct {
	// Name is the result's name below the benchmark [Run] was called
	// with: "op=Sign/alg=ECDSA-P256/impl=backend/p=8".
	Name        string
	Op          Op
	Algorithm   backend.Algorithm
	Impl        string
	Parallelism int // goroutines
	// N is the number of operations in the timed run, Elapsed its wall
	// time.
	N       int
	Elapsed time.Duration
	// CPU is the CPU time the process spent during the run, in all its
	// threads; zero where it cannot be read.
	CPU time.Duration
	// P50 and P99 are percentiles of one operation's latency.
	P50, P99 time.Duration
}

// NsPerOp is the wall time per operation, in nanoseconds, as the testing
// package computes it: with p goroutines, the inverse of the throughput.
func (r Result) NsPerOp() float64 {
	if r.N == 0 {
		return 0
	}
	return float64(r.Elapsed.Nanoseconds()) / float64(r.N)
}
