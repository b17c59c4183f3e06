//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/require"
)

// secondHandle loads the SoftHSM2 module a second time in this process, as
// another library would. C_Initialize reports it already initialised (the
// module is per process); the handle is never finalised, only unloaded.
func secondHandle(t *testing.T) *pkcs11.Ctx {
	t.Helper()
	p := pkcs11.New(softhsmtest.ModulePath)
	require.NotNil(t, p)
	err := p.Initialize()
	require.True(t, err == nil || errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)), "C_Initialize: %v", err)
	t.Cleanup(p.Destroy)
	return p
}

func TestRecoversFromClosedSessions(t *testing.T) {
	ctx := context.Background()
	b, tok := newToken(t, "")
	keys := []backend.Key{
		generate(t, b, backend.ECDSAP256, "ec", 0),
		generate(t, b, backend.RSA2048, "rsa", 0),
		generate(t, b, backend.Ed25519, "ed", 0),
	}
	for _, k := range keys {
		signAndVerify(t, k)
	}
	other := secondHandle(t)
	slot, err := softhsmtest.SlotByLabel(other, tok.Label)
	require.NoError(t, err)

	for round := range 3 {
		// Behind the backend's back: every session on the token closes,
		// which also logs the user out.
		require.NoError(t, other.CloseAllSessions(slot))
		gen := b.pool.gen.Load()
		for _, k := range keys {
			signAndVerify(t, k)
		}
		require.Greater(t, b.pool.gen.Load(), gen, "round %d: the pool did not start over", round)
		require.LessOrEqual(t, b.openSessions(), softhsmtest.MaxSessions)
	}
	// Lookups and listing recover too.
	require.NoError(t, other.CloseAllSessions(slot))
	got, err := b.Keys(ctx)
	require.NoError(t, err)
	require.Len(t, got, 3)
}

func TestRecoversFromFinalizedModule(t *testing.T) {
	b, _ := newToken(t, "")
	k := generate(t, b, backend.ECDSAP256, "ec", 0)
	signAndVerify(t, k)

	// Another user in the process finalises the module under us.
	other := secondHandle(t)
	require.NoError(t, other.Finalize())
	signAndVerify(t, k)
}

func TestRecoveryGivesUpWithTypedError(t *testing.T) {
	b, tok := newToken(t, "")
	k := generate(t, b, backend.ECDSAP256, "ec", 0)
	other := secondHandle(t)
	slot, err := softhsmtest.SlotByLabel(other, tok.Label)
	require.NoError(t, err)

	// Every time the operation runs, the token closes every session first,
	// so the single retry also fails: the error must say so and keep the
	// code.
	var runs atomic.Int32
	err = b.withSession(context.Background(), func(s *session) error {
		runs.Add(1)
		if err := other.CloseAllSessions(slot); err != nil {
			return err
		}
		_, err := b.p11.GetSessionInfo(s.h)
		return err
	})
	require.Equal(t, int32(2), runs.Load(), "tried once more on a fresh session")
	var code pkcs11.Error
	require.True(t, errors.As(err, &code), "the PKCS #11 code stays in the chain: %v", err)
	require.Equal(t, pkcs11.Error(pkcs11.CKR_SESSION_HANDLE_INVALID), code)
	require.ErrorContains(t, err, "failed again after reopening")
	require.Equal(t, backend.HealthUp, b.Health().State, "lost sessions are no outage")

	signAndVerify(t, k) // and it works once the token behaves
}

func TestPoolBound(t *testing.T) {
	const maxSessions = 3
	b, tok := newToken(t, "&max-sessions=3")
	require.Equal(t, maxSessions, b.pool.max)
	k := generate(t, b, backend.ECDSAP256, "ec", 0)
	s, err := k.Signer()
	require.NoError(t, err)
	other := secondHandle(t)
	slot, err := softhsmtest.SlotByLabel(other, tok.Label)
	require.NoError(t, err)

	// Twelve workers sign; after each signature each reads how many
	// sessions the backend has open. (What the token sees is checked
	// below, with every session held.)
	var (
		workers sync.WaitGroup
		maxSeen atomic.Int64
	)
	seen := func(n int64) {
		for old := maxSeen.Load(); n > old && !maxSeen.CompareAndSwap(old, n); old = maxSeen.Load() {
		}
	}
	errs := make(chan error, 12*25)
	for range 12 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for range 25 {
				_, err := s.Sign(rand.Reader, make([]byte, 32), crypto.SHA256)
				errs <- err
				seen(int64(b.openSessions()))
			}
		}()
	}
	workers.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.LessOrEqual(t, maxSeen.Load(), int64(maxSessions))

	// Take every session: the next caller waits instead of opening more.
	ctx := context.Background()
	var held []*session
	defer func() {
		for _, h := range held {
			b.pool.put(h)
		}
	}()
	for range maxSessions {
		h, err := b.pool.get(ctx)
		require.NoError(t, err)
		held = append(held, h)
	}
	require.Equal(t, maxSessions, tokenSessions(other, slot, held), "sessions the token knows")
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = b.pool.get(short)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, maxSessions, b.openSessions())
}

// tokenSessions counts, with C_GetSessionInfo, the sessions open on slot.
// SoftHSM2 reports ulSessionCount as unavailable and numbers sessions
// from 1 across the process, so probing every handle up to a bit past the
// highest one in use finds them all.
func tokenSessions(p *pkcs11.Ctx, slot uint, inUse []*session) int {
	var highest pkcs11.SessionHandle
	for _, s := range inUse {
		highest = max(highest, s.h)
	}
	n := 0
	for h := pkcs11.SessionHandle(1); h <= highest+64; h++ {
		if si, err := p.GetSessionInfo(h); err == nil && si.SlotID == slot {
			n++
		}
	}
	return n
}

func TestPoolLazyAndWaitHonoursContext(t *testing.T) {
	b, _ := newToken(t, "&max-sessions=1&timeout=150ms")
	k := generate(t, b, backend.ECDSAP256, "ec", 0)
	signAndVerify(t, k)
	require.Equal(t, 1, b.openSessions(), "one goroutine needs one session")

	// Hold the only session.
	held, err := b.pool.get(context.Background())
	require.NoError(t, err)
	s, err := k.Signer()
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = s.SignContext(ctx, rand.Reader, make([]byte, 32), crypto.SHA256)
	require.ErrorIs(t, err, context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = s.SignContext(ctx, rand.Reader, make([]byte, 32), crypto.SHA256)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	start := time.Now()
	_, err = s.Sign(rand.Reader, make([]byte, 32), crypto.SHA256) // the URI's timeout
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	b.pool.put(held)
	signAndVerify(t, k)
}

func TestCloseWaitsAndRefuses(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.Create(t)
	b, err := Open(ctx, tok.URIWith("&max-sessions=1"))
	require.NoError(t, err)
	k := generate(t, b, backend.ECDSAP256, "ec", 0)
	s, err := k.Signer()
	require.NoError(t, err)

	held, err := b.pool.get(ctx)
	require.NoError(t, err)
	waiting := make(chan error)
	go func() {
		_, err := s.SignContext(ctx, rand.Reader, make([]byte, 32), crypto.SHA256)
		waiting <- err
	}()
	closed := make(chan error)
	go func() { closed <- b.Close() }()
	require.ErrorIs(t, <-waiting, backend.ErrClosed, "a waiter is woken by Close")
	select {
	case <-closed:
		t.Fatal("Close returned while a session was in use")
	default: // Close waits for the session, however long this test takes
	}
	b.pool.put(held)
	require.NoError(t, <-closed)
	require.Zero(t, b.openSessions())
	require.NoError(t, b.Close(), "Close is idempotent")

	_, err = s.Sign(rand.Reader, make([]byte, 32), crypto.SHA256)
	require.ErrorIs(t, err, backend.ErrClosed)
	_, err = b.Key(ctx, backend.ByLabel("ec"))
	require.ErrorIs(t, err, backend.ErrClosed)
	_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "x"})
	require.ErrorIs(t, err, backend.ErrClosed)
	require.Equal(t, "SoftHSM project", b.Info().Manufacturer, "Info works after Close")
}

func TestModuleSharedAcrossBackends(t *testing.T) {
	ctx := context.Background()
	tok1 := softhsmtest.Create(t)
	tok2 := softhsmtest.Create(t)
	before := refs()
	b1, err := Open(ctx, tok1.URI)
	require.NoError(t, err)
	b2, err := Open(ctx, tok2.URI)
	require.NoError(t, err)
	b3, err := Open(ctx, tok1.URI) // same token twice: login is shared
	require.NoError(t, err)
	require.Equal(t, before+3, refs())
	k := generate(t, b1, backend.ECDSAP256, "ec", 0)
	require.NoError(t, b1.Close())
	// Closing one backend neither finalises the module nor logs the others out.
	k3, err := b3.Key(ctx, backend.ByID(k.ID()))
	require.NoError(t, err)
	signAndVerify(t, k3)
	signAndVerify(t, generate(t, b2, backend.Ed25519, "ed", 0))
	require.NoError(t, b2.Close())
	require.NoError(t, b3.Close())
	require.Equal(t, before, refs())
}
