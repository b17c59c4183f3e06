package tpm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
)

// signWithin signs with k within deadline and verifies the signature; it
// returns how long the call took. For any goroutine: it reports, never
// fails the test.
func signWithin(k backend.Key, deadline time.Duration) (time.Duration, error) {
	s, err := k.Signer()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	d := digestOf(crypto.SHA256)
	start := time.Now()
	sig, err := s.SignContext(ctx, nil, d, crypto.SHA256)
	took := time.Since(start)
	if err == nil && !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d, sig) {
		err = errors.New("signature does not verify")
	}
	return took, err
}

// TestSwtpmKilledUnderLoad kills swtpm while three goroutines sign and
// starts it again: meanwhile every call returns within its deadline with
// ErrUnavailable (or, caught mid-command, its deadline), and health says
// so; once swtpm is back the same backend signs again and is up.
func TestSwtpmKilledUnderLoad(t *testing.T) {
	const deadline = 2 * time.Second
	sw := swtpmtest.Start(t)
	b, err := Open(testContext(t), sw.URI(t.TempDir()))
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	k := generate(t, b, backend.ECDSAP256, "ec", 0)

	type outcome struct {
		start time.Time
		took  time.Duration
		err   error
	}
	outcomes := make(chan outcome, 64)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				took, err := signWithin(k, deadline)
				outcomes <- outcome{start, took, err}
			}
		}()
	}
	t.Cleanup(func() {
		close(stop)
		go func() {
			for range outcomes {
			}
		}()
		wg.Wait()
		close(outcomes)
	})
	next := func(want func(outcome) bool) outcome {
		t.Helper()
		timer := time.NewTimer(30 * time.Second)
		defer timer.Stop()
		for {
			select {
			case o := <-outcomes:
				require.Less(t, o.took, deadline+time.Second, "a call outlived its deadline: %v", o.err)
				if o.err != nil && !errors.Is(o.err, backend.ErrUnavailable) && !errors.Is(o.err, context.DeadlineExceeded) {
					t.Fatalf("an untyped error: %v", o.err)
				}
				if want(o) {
					return o
				}
			case <-timer.C:
				t.Fatal("no such outcome within 30s")
			}
		}
	}
	next(func(o outcome) bool { return o.err == nil })

	sw.Stop()
	next(func(o outcome) bool { return errors.Is(o.err, backend.ErrUnavailable) })
	h := b.Health()
	require.NotEqual(t, backend.HealthUp, h.State, "%+v", h)
	require.Equal(t, "the TPM cannot be reached", h.LastError)

	sw.Restart()
	back := time.Now()
	first := next(func(o outcome) bool { return o.err == nil && o.start.After(back) })
	t.Logf("signing again %v after swtpm was back", first.start.Add(first.took).Sub(back))
	for range 10 {
		next(func(o outcome) bool {
			if o.start.Before(first.start.Add(first.took)) {
				return false
			}
			require.NoError(t, o.err)
			return true
		})
	}
	h = b.Health()
	require.Equal(t, backend.HealthUp, h.State)
	require.GreaterOrEqual(t, h.Recoveries, uint64(1))
}

// TestSwtpmStoppedCallsReturnOnTime stops swtpm with SIGSTOP: a sign with
// a 2 s deadline returns with its deadline's error in under 3 s, the
// abandoned command keeps the TPM, so the next call fails at once with
// ErrUnavailable and health says down; after SIGCONT the command
// finishes in the background and signing works again.
func TestSwtpmStoppedCallsReturnOnTime(t *testing.T) {
	sw := swtpmtest.Start(t)
	b, err := Open(testContext(t), sw.URI(t.TempDir()))
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	k := generate(t, b, backend.ECDSAP256, "ec", 0)
	_, err = signWithin(k, 10*time.Second)
	require.NoError(t, err)

	sw.Signal(syscall.SIGSTOP)
	resumed := false
	t.Cleanup(func() {
		if !resumed {
			sw.Signal(syscall.SIGCONT)
		}
	})
	took, err := signWithin(k, 2*time.Second)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, took, 3*time.Second)
	t.Logf("a sign on the stopped TPM returned after %v", took)

	took, err = signWithin(k, 2*time.Second)
	require.ErrorIs(t, err, backend.ErrUnavailable, "the TPM is held by the abandoned command: fail fast")
	require.Less(t, took, time.Second)
	h := b.Health()
	require.Equal(t, backend.HealthDown, h.State, "%+v", h)
	require.Equal(t, 1, h.Abandoned)

	sw.Signal(syscall.SIGCONT)
	resumed = true
	require.Eventually(t, func() bool { return b.Health().Abandoned == 0 }, 30*time.Second, 10*time.Millisecond,
		"the abandoned command returns once swtpm runs again")
	_, err = signWithin(k, 10*time.Second)
	require.NoError(t, err)
	h = b.Health()
	require.Equal(t, backend.HealthUp, h.State)
	require.Equal(t, uint64(1), h.AbandonedTotal)
}
