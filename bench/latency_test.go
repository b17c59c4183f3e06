package bench

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLatencyPercentiles(t *testing.T) {
	l := newLatency(100)
	require.EqualValues(t, 1, l.stride)
	for i := range int64(100) {
		if i == 7 {
			continue // a failed operation leaves its slot empty
		}
		l.record(i, time.Duration(100-i)*time.Microsecond)
	}
	p := l.percentiles(0.5, 0.99, 1)
	// 99 samples, 1µs..100µs without 93µs: the 50th is 50µs, the 99th
	// (rank 99) the largest.
	require.Equal(t, []time.Duration{50 * time.Microsecond, 100 * time.Microsecond, 100 * time.Microsecond}, p)
}

func TestLatencyStride(t *testing.T) {
	n := 3*maxLatencySamples + 5
	l := newLatency(n)
	require.EqualValues(t, 4, l.stride)
	recorded := 0
	for i := range int64(n) {
		if l.sampled(i) {
			l.record(i, time.Millisecond)
			recorded++
		}
	}
	require.Equal(t, len(l.samples), recorded)
	require.LessOrEqual(t, recorded, maxLatencySamples)
	require.Equal(t, []time.Duration{time.Millisecond}, l.percentiles(0.5))
	require.Equal(t, []time.Duration{0}, newLatency(3).percentiles(0.5), "nothing recorded")
}
