package authn

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

var cheap = Argon2Params{Memory: 64, Time: 1, Threads: 1}

func TestPasswordHashVerify(t *testing.T) {
	h, err := newPasswordHasher(cheap, 2)
	require.NoError(t, err)
	ctx := context.Background()
	enc, err := h.hash(ctx, NewSecret("hunter2hunter2"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(enc, "$argon2id$v=19$m=64,t=1,p=1$"))
	require.NotContains(t, enc, "hunter2")

	ok, err := h.verify(ctx, enc, NewSecret("hunter2hunter2"))
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = h.verify(ctx, enc, NewSecret("hunter2hunter3"))
	require.NoError(t, err)
	require.False(t, ok)

	enc2, err := h.hash(ctx, NewSecret("hunter2hunter2"))
	require.NoError(t, err)
	require.NotEqual(t, enc, enc2, "fresh salt per hash")
}

func TestDefaultArgon2ParamsAreOWASP(t *testing.T) {
	require.Equal(t, Argon2Params{Memory: 19456, Time: 2, Threads: 1}, DefaultArgon2Params)
}

func TestParsePHCRejects(t *testing.T) {
	h, err := newPasswordHasher(cheap, 1)
	require.NoError(t, err)
	good, err := h.hash(context.Background(), NewSecret("x"))
	require.NoError(t, err)
	parts := strings.Split(good, "$")
	for name, enc := range map[string]string{
		"empty":          "",
		"argon2i":        strings.Replace(good, "argon2id", "argon2i", 1),
		"old version":    strings.Replace(good, "v=19", "v=16", 1),
		"huge memory":    strings.Join([]string{"", parts[1], parts[2], "m=4194304,t=1,p=1", parts[4], parts[5]}, "$"),
		"many passes":    strings.Join([]string{"", parts[1], parts[2], "m=64,t=1000,p=1", parts[4], parts[5]}, "$"),
		"zero threads":   strings.Join([]string{"", parts[1], parts[2], "m=64,t=1,p=0", parts[4], parts[5]}, "$"),
		"bad salt":       strings.Join([]string{"", parts[1], parts[2], parts[3], "!!", parts[5]}, "$"),
		"short key":      strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$"),
		"missing fields": "$argon2id$v=19$m=64,t=1,p=1",
	} {
		_, _, _, err := parsePHC(enc)
		require.ErrorIs(t, err, ErrInvalidArgument, name)
	}
}

func TestNewPasswordHasherRejectsBadParams(t *testing.T) {
	for _, p := range []Argon2Params{{Memory: 4, Time: 1, Threads: 1}, {Memory: 64, Time: 0, Threads: 1}, {Memory: 64, Time: 1, Threads: 0}, {Memory: 1 << 22, Time: 1, Threads: 1}} {
		_, err := newPasswordHasher(p, 1)
		require.ErrorIs(t, err, ErrInvalidArgument, "%+v", p)
	}
}

// TestArgon2ConcurrencyIsBounded replaces argon2 with a probe that parks
// each computation until the test releases it, so that the test decides
// exactly how many are in flight: no sleeps, and nothing but the test
// goroutine calls require.
func TestArgon2ConcurrencyIsBounded(t *testing.T) {
	const limit, calls = 3, 40
	h, err := newPasswordHasher(cheap, limit) // hashes its dummy with the real argon2
	require.NoError(t, err)
	real := argon2Func
	t.Cleanup(func() { argon2Func = real })
	var inFlight, peak atomic.Int32
	entered := make(chan struct{}, calls)
	release := make(chan struct{})
	argon2Func = func(pw, salt []byte, time_, mem uint32, threads uint8, n uint32) []byte {
		cur := inFlight.Add(1)
		for p := peak.Load(); cur > p && !peak.CompareAndSwap(p, cur); p = peak.Load() {
		}
		entered <- struct{}{}
		<-release
		inFlight.Add(-1)
		return real(pw, salt, time_, mem, threads, n)
	}
	var wg sync.WaitGroup
	for range calls {
		wg.Go(func() { h.burn(context.Background(), NewSecret("pw")) })
	}
	// Exactly limit computations start; each release lets one finish and
	// one more start, until all have run.
	for range limit {
		<-entered
	}
	for i := range calls {
		require.LessOrEqual(t, inFlight.Load(), int32(limit), "call %d", i)
		release <- struct{}{}
		if i < calls-limit {
			<-entered
		}
	}
	wg.Wait()
	require.Equal(t, int32(limit), peak.Load(), "never more than the limit, and the limit is reached")
}

func TestArgon2WaitHonoursContext(t *testing.T) {
	h, err := newPasswordHasher(cheap, 1)
	require.NoError(t, err)
	h.sem <- struct{}{} // the only slot is busy
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = h.verify(ctx, h.dummy, NewSecret("pw"))
	require.ErrorIs(t, err, context.Canceled)
}
