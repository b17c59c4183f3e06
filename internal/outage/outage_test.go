package outage

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestCallsReturnsOnTimeAndSettlesLate(t *testing.T) {
	c := NewCalls(2)
	err, ok := c.Run(context.Background(), func() error { return errors.New("answered") }, nil)
	require.True(t, ok)
	require.EqualError(t, err, "answered")

	release := make(chan struct{})
	lateErr := make(chan error, 2)
	hung := func() error { <-release; return errors.New("late answer") }
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		err, ok := c.Run(ctx, hung, func(err error) { lateErr <- err })
		cancel()
		require.False(t, ok)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, i+1, c.Abandoned())
	}
	full, since := c.Full()
	require.True(t, full)
	require.False(t, since.IsZero())
	require.Equal(t, uint64(2), c.Total())

	close(release)
	for range 2 {
		require.EqualError(t, <-lateErr, "late answer")
	}
	// The count drops right after late returns, on the call's goroutine.
	require.Eventually(t, func() bool { return c.Abandoned() == 0 }, 5*time.Second, time.Millisecond)
	full, _ = c.Full()
	require.False(t, full)
	require.Equal(t, uint64(2), c.Total(), "the total keeps counting")
}

func TestCallsCancelledContext(t *testing.T) {
	c := NewCalls(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	release := make(chan struct{})
	done := make(chan struct{})
	err, ok := c.Run(ctx, func() error { <-release; return nil }, func(error) { close(done) })
	require.False(t, ok)
	require.ErrorIs(t, err, context.Canceled)
	close(release)
	<-done
}

func TestStatusTransitions(t *testing.T) {
	var s Status
	require.True(t, s.Up())
	h := s.Snapshot(nil, time.Minute)
	require.Equal(t, backend.HealthUp, h.State)
	require.Empty(t, h.LastError)

	s.Failed("C_Sign: CKR_DEVICE_ERROR")
	require.False(t, s.Up())
	h = s.Snapshot(nil, time.Minute)
	require.Equal(t, backend.HealthRecovering, h.State)
	require.Equal(t, "C_Sign: CKR_DEVICE_ERROR", h.LastError)
	since := h.Since

	s.Failed("again")
	require.Equal(t, since, s.Snapshot(nil, time.Minute).Since, "a second failure does not restart the clock")

	s.AttemptStarted()
	s.AttemptFailed("token not found")
	h = s.Snapshot(nil, time.Minute)
	require.Equal(t, backend.HealthDown, h.State)
	require.Equal(t, "token not found", h.LastError)

	s.Recovered()
	h = s.Snapshot(nil, time.Minute)
	require.Equal(t, backend.HealthUp, h.State)
	require.Equal(t, uint64(1), h.Recoveries)
	require.Equal(t, "token not found", h.LastError, "the last outage's cause stays for the operator")
	s.Recovered()
	require.Equal(t, uint64(1), s.Snapshot(nil, time.Minute).Recoveries, "recovering while up counts nothing")
}

func TestStatusSnapshotOverrides(t *testing.T) {
	var s Status
	s.Failed("CKR_DEVICE_ERROR")
	s.AttemptStarted()
	h := s.Snapshot(nil, 0)
	require.Equal(t, backend.HealthDown, h.State, "an attempt running longer than hangAfter means down")
	require.Contains(t, h.LastError, "recovery attempt has not returned")

	var up Status
	c := NewCalls(1)
	release := make(chan struct{})
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, ok := c.Run(ctx, func() error { <-release; return nil }, func(error) { close(done) })
	require.False(t, ok)
	h = up.Snapshot(c, time.Minute)
	require.Equal(t, backend.HealthDown, h.State, "abandoned calls at the limit mean down")
	require.Equal(t, 1, h.Abandoned)
	require.Equal(t, "1 calls to the store have not returned", h.LastError)
	close(release)
	<-done
}

func TestLoopRetriesWithBackoffUntilRecovered(t *testing.T) {
	var attempts atomic.Int32
	var times []time.Time
	l := NewLoop(func(ctx context.Context) error {
		times = append(times, time.Now()) // attempts never overlap
		if attempts.Add(1) < 4 {
			return errors.New("still down")
		}
		return nil
	}, Backoff{First: 10 * time.Millisecond, Max: 20 * time.Millisecond, Attempt: time.Second})
	defer l.Close()

	ended, now := l.Kick()
	require.True(t, now, "the first attempt starts at once")
	<-ended
	// Later kicks while the loop backs off do not start attempts early.
	for attempts.Load() < 4 {
		ended, _ = l.Kick()
		<-ended
	}
	require.Eventually(t, func() bool { return !l.Running() }, 5*time.Second, time.Millisecond)
	require.Equal(t, int32(4), attempts.Load())
	for i := 1; i < len(times); i++ {
		require.GreaterOrEqual(t, times[i].Sub(times[i-1]), 8*time.Millisecond, "attempt %d came before its backoff", i)
	}
}

func TestLoopKickDuringAttemptRunsAnother(t *testing.T) {
	var attempts atomic.Int32
	inAttempt := make(chan struct{})
	proceed := make(chan struct{})
	l := NewLoop(func(ctx context.Context) error {
		if attempts.Add(1) == 1 {
			close(inAttempt)
			<-proceed
		}
		return nil
	}, Backoff{First: time.Millisecond, Max: time.Millisecond, Attempt: time.Second})
	defer l.Close()
	first, now := l.Kick()
	require.True(t, now)
	<-inAttempt
	second, now := l.Kick()
	require.True(t, now, "an attempt is running: the caller may wait for it")
	require.Equal(t, first, second)
	close(proceed)
	<-first
	require.Eventually(t, func() bool { return !l.Running() }, 5*time.Second, time.Millisecond)
	require.Equal(t, int32(2), attempts.Load(), "a failure reported during an attempt is retried after it")
}

func TestLoopClose(t *testing.T) {
	l := NewLoop(func(ctx context.Context) error { return errors.New("down") }, Backoff{First: time.Hour, Max: time.Hour, Attempt: time.Second})
	ended, _ := l.Kick()
	<-ended
	require.True(t, l.Running(), "backing off")
	l.Close()
	require.Eventually(t, func() bool { return !l.Running() }, 5*time.Second, time.Millisecond)
	ended, now := l.Kick()
	require.False(t, now)
	<-ended // closed at once after Close
}

func TestJitter(t *testing.T) {
	for range 1000 {
		d := jitter(time.Second)
		require.GreaterOrEqual(t, d, 800*time.Millisecond)
		require.LessOrEqual(t, d, 1200*time.Millisecond)
	}
	require.Zero(t, jitter(0))
}
