//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/p11kittest"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
)

// These tests take the HSM away from a running backend, as a long-running
// service sees it happen: p11-kit's RPC server (the "network HSM" of
// p11kittest) killed and restarted, stopped with SIGSTOP, or restarted
// exporting another token, while goroutines sign through the same
// backend, which is never reopened.

// signOnce signs a fresh digest with k within deadline and verifies the
// signature; it returns the error and how long the call took.
func signOnce(k backend.Key, deadline time.Duration) (time.Duration, error) {
	s, err := k.Signer()
	if err != nil {
		return 0, err
	}
	d := sha256.Sum256([]byte(time.Now().String()))
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	start := time.Now()
	sig, err := s.SignContext(ctx, rand.Reader, d[:], crypto.SHA256)
	took := time.Since(start)
	if err == nil && !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
		err = errors.New("signature does not verify")
	}
	return took, err
}

// outcome is one signature a worker tried.
type outcome struct {
	start time.Time // when the call began
	at    time.Time // when the call returned
	took  time.Duration
	err   error
}

// signers runs n goroutines signing with k in a loop until stop is
// closed, each call bounded by deadline. Every outcome is sent to the
// returned channel; wait waits for the workers.
func signers(k backend.Key, n int, deadline time.Duration, stop <-chan struct{}) (outcomes <-chan outcome, wait func()) {
	out := make(chan outcome, 1024)
	var wg sync.WaitGroup
	for range n {
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
				took, err := signOnce(k, deadline)
				out <- outcome{start: start, at: time.Now(), took: took, err: err}
			}
		}()
	}
	return out, func() { wg.Wait(); close(out) }
}

// until reads outcomes, checking each with check, until one satisfies
// done; it fails the test after limit.
func until(t *testing.T, outcomes <-chan outcome, limit time.Duration, check func(outcome), done func(outcome) bool) outcome {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case o := <-outcomes:
			check(o)
			if done(o) {
				return o
			}
		case <-timer.C:
			t.Fatalf("no such outcome within %v", limit)
		}
	}
}

// goroutinesBackTo waits until the process has at most n goroutines: the
// workers, abandoned calls and the recovery loop are gone. It polls on
// the test's goroutine (testify's Eventually would count its own).
func goroutinesBackTo(t *testing.T, n int) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines: %d, before: %d\n%s", runtime.NumGoroutine(), n, buf)
		}
		<-tick.C
	}
}

// TestP11KitServerRestart kills the p11-kit server under four signing
// goroutines and starts it again: while it is down every call fails fast
// with ErrUnavailable (or, for a call caught mid-flight, its deadline);
// once it is back, the same backend signs again, without reopening, and
// nothing leaks.
func TestP11KitServerRestart(t *testing.T) {
	const (
		workers  = 4
		deadline = 2 * time.Second
	)
	tok := softhsmtest.Create(t)
	srv := p11kittest.Start(t, tok)
	b := openURI(t, srv.URIWith("&max-sessions=4"))
	k := generate(t, b, backend.ECDSAP256, "survivor", 0)
	_, err := signOnce(k, deadline)
	require.NoError(t, err)
	baseline := runtime.NumGoroutine()

	stop := make(chan struct{})
	outcomes, wait := signers(k, workers, deadline, stop)
	var (
		slowest  time.Duration
		failures = map[string]int{}
	)
	check := func(o outcome) {
		slowest = max(slowest, o.took)
		require.Less(t, o.took, deadline+time.Second, "a call outlived its deadline: %v", o.err)
		switch {
		case o.err == nil:
		case errors.Is(o.err, backend.ErrUnavailable):
			failures["unavailable"]++
		case errors.Is(o.err, context.DeadlineExceeded):
			failures["deadline"]++
		default:
			t.Fatalf("an untyped error during the outage: %v", o.err)
		}
	}
	ok := func(o outcome) bool { return o.err == nil }
	until(t, outcomes, 30*time.Second, check, ok)

	srv.Kill()
	until(t, outcomes, 30*time.Second, check, func(o outcome) bool { return errors.Is(o.err, backend.ErrUnavailable) })
	require.NotEqual(t, backend.HealthUp, b.Health().State)
	// Down for a while: the backend keeps failing fast, and retrying.
	for range 20 {
		until(t, outcomes, 30*time.Second, check, func(o outcome) bool { return o.err != nil })
	}
	h := b.Health()
	require.Equal(t, backend.HealthDown, h.State, "%+v", h)
	require.NotEmpty(t, h.LastError)

	srv.Restart()
	back := time.Now()
	first := until(t, outcomes, 30*time.Second, check, ok)
	recovery := first.at.Sub(back)
	t.Logf("signing again %v after the server was back (slowest call %v; failures during the outage: %v)", recovery, slowest, failures)
	require.Less(t, recovery, 15*time.Second)
	// And it stays up: every call begun after that success succeeds. (A
	// call that failed fast just before the recovery may be reported
	// after it.)
	for range 20 {
		until(t, outcomes, 30*time.Second, check, func(o outcome) bool {
			if o.start.Before(first.at) {
				return false
			}
			require.NoError(t, o.err)
			return true
		})
	}
	close(stop)
	go func() {
		for range outcomes { // drain what the workers still send
		}
	}()
	wait()

	h = b.Health()
	require.Equal(t, backend.HealthUp, h.State)
	require.GreaterOrEqual(t, h.Recoveries, uint64(1))
	require.LessOrEqual(t, b.openSessions(), 4)
	goroutinesBackTo(t, baseline)
}

// TestP11KitServerPaused stops the p11-kit server with SIGSTOP for longer
// than the callers' deadlines: every call returns on time, with its
// deadline or ErrUnavailable; once as many calls as the backend has
// sessions hang, new ones fail at once; after SIGCONT the hung calls
// finish in the background, give their sessions back, and signing works.
func TestP11KitServerPaused(t *testing.T) {
	const (
		maxSessions = 2
		deadline    = 2 * time.Second
	)
	tok := softhsmtest.Create(t)
	srv := p11kittest.Start(t, tok)
	b := openURI(t, srv.URIWith("&max-sessions=2"))
	k := generate(t, b, backend.ECDSAP256, "paused", 0)
	_, err := signOnce(k, deadline)
	require.NoError(t, err)
	baseline := runtime.NumGoroutine()

	srv.Pause()
	t.Cleanup(srv.Resume)
	type result struct {
		took time.Duration
		err  error
	}
	results := make(chan result, 4)
	for range 4 { // more callers than sessions
		go func() {
			took, err := signOnce(k, deadline)
			results <- result{took, err}
		}()
	}
	var slowest time.Duration
	for range 4 {
		r := <-results
		slowest = max(slowest, r.took)
		require.Less(t, r.took, 3*time.Second, "a call with a 2 s deadline returned late: %v", r.err)
		require.True(t, errors.Is(r.err, context.DeadlineExceeded) || errors.Is(r.err, backend.ErrUnavailable), "%v", r.err)
	}
	t.Logf("the slowest of the calls caught by the pause returned after %v", slowest)

	h := b.Health()
	require.Equal(t, maxSessions, h.Abandoned, "%+v", h)
	require.Equal(t, backend.HealthDown, h.State)
	took, err := signOnce(k, deadline)
	require.ErrorIs(t, err, backend.ErrUnavailable, "every session is held by a hung call: fail fast")
	require.Less(t, took, time.Second)
	t.Logf("a call while every session hangs failed after %v", took)

	srv.Resume()
	require.Eventually(t, func() bool { return b.Health().Abandoned == 0 }, 30*time.Second, 10*time.Millisecond,
		"the hung calls finish once the server runs again")
	_, err = signOnce(k, deadline)
	require.NoError(t, err)
	h = b.Health()
	require.Equal(t, backend.HealthUp, h.State)
	require.Equal(t, uint64(maxSessions), h.AbandonedTotal)
	require.LessOrEqual(t, b.openSessions(), maxSessions)
	goroutinesBackTo(t, baseline)
}

// TestP11KitTokenReplaced takes the token away — the server restarts
// exporting another token — and brings it back: meanwhile calls fail with
// ErrUnavailable and health says the token is not present; afterwards
// each key handle signs with its own key again (each found again by ID
// and checked against its public key: a stale object handle could now
// name the other key).
func TestP11KitTokenReplaced(t *testing.T) {
	tok := softhsmtest.Create(t)
	other := softhsmtest.Create(t)
	srv := p11kittest.Start(t, tok)
	b := openURI(t, srv.URIWith("&max-sessions=2"))
	k1 := generate(t, b, backend.ECDSAP256, "first", 0)
	k2 := generate(t, b, backend.ECDSAP256, "second", 0)
	for _, k := range []backend.Key{k1, k2} {
		_, err := signOnce(k, 5*time.Second)
		require.NoError(t, err)
	}

	srv.Export(other)
	_, err := signOnce(k1, 5*time.Second)
	require.ErrorIs(t, err, backend.ErrUnavailable)
	require.Eventually(t, func() bool {
		h := b.Health()
		return h.State == backend.HealthDown && h.LastError == "the token is not present"
	}, 30*time.Second, 10*time.Millisecond, "%+v", b.Health())
	_, err = b.Key(context.Background(), backend.ByLabel("first"))
	require.ErrorIs(t, err, backend.ErrUnavailable, "lookups fail fast too")

	srv.Export(tok)
	require.Eventually(t, func() bool { return b.Health().State == backend.HealthUp }, 30*time.Second, 10*time.Millisecond, "%+v", b.Health())
	// The second key first: in the new server, handles are handed out in
	// the order objects are met.
	for _, k := range []backend.Key{k2, k1, k2} {
		_, err := signOnce(k, 5*time.Second)
		require.NoError(t, err, k.Label())
	}
	require.Equal(t, uint64(1), b.Health().Recoveries)
}

// TestP11KitUnknownErrorsDoNotReconnect checks that failures that are not
// outages — a refused mechanism, a key not found — leave the backend up
// and its sessions in place.
func TestP11KitUnknownErrorsDoNotReconnect(t *testing.T) {
	tok := softhsmtest.Create(t)
	srv := p11kittest.Start(t, tok)
	b := openURI(t, srv.URIWith("&max-sessions=1"))
	k := generate(t, b, backend.RSA2048, "rsa", backend.UsageDecrypt)
	d, err := k.Decrypter()
	require.NoError(t, err)
	before := theSession(t, b)
	for range 3 {
		_, err = d.Decrypt(rand.Reader, make([]byte, 256), nil) // not a valid ciphertext
		require.Error(t, err)
		_, err = b.Key(context.Background(), backend.ByLabel("no such key"))
		require.ErrorIs(t, err, backend.ErrKeyNotFound)
	}
	h := b.Health()
	require.Equal(t, backend.HealthUp, h.State)
	require.Empty(t, h.LastError)
	require.Zero(t, h.Recoveries)
	require.Same(t, before, theSession(t, b))
}
