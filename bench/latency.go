package bench

import (
	"slices"
	"time"
)

// maxLatencySamples bounds the memory one run spends on latencies: 512 KiB.
// Longer runs record every stride-th operation.
const maxLatencySamples = 1 << 16

// latency records how long operations took, into a buffer allocated before
// the timed loop. Operation i (numbered from 0 across all goroutines) is
// recorded when i is a multiple of stride, in slot i/stride, which no other
// operation writes: so recording needs no lock, and the slots are read only
// after every goroutine is done.
type latency struct {
	stride  int64
	samples []int64 // nanoseconds; -1 for a slot whose operation failed
}

// newLatency prepares for n operations.
func newLatency(n int) *latency {
	stride := int64(1)
	if n > maxLatencySamples {
		stride = int64((n + maxLatencySamples - 1) / maxLatencySamples)
	}
	slots := (int64(n) + stride - 1) / stride
	s := make([]int64, slots)
	for i := range s {
		s[i] = -1
	}
	return &latency{stride: stride, samples: s}
}

// sampled reports whether operation i is to be recorded.
func (l *latency) sampled(i int64) bool { return i%l.stride == 0 }

// record stores operation i's duration. i must be sampled.
func (l *latency) record(i int64, d time.Duration) { l.samples[i/l.stride] = int64(d) }

// percentiles returns the nearest-rank percentiles q (0 < q <= 1) of the
// recorded durations, or zeros when none was recorded. It sorts the samples
// in place.
func (l *latency) percentiles(qs ...float64) []time.Duration {
	s := slices.DeleteFunc(l.samples, func(v int64) bool { return v < 0 })
	slices.Sort(s)
	out := make([]time.Duration, len(qs))
	if len(s) == 0 {
		return out
	}
	for i, q := range qs {
		rank := int(q*float64(len(s))+0.999999999) - 1
		out[i] = time.Duration(s[min(max(rank, 0), len(s)-1)])
	}
	return out
}
