package authn

import (
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLimiterBackoffGrowsCapsAndDecays(t *testing.T) {
	l := newFailureLimiter[string](RateLimitConfig{FreeFailures: 3, BaseDelay: time.Second, HalfLife: time.Hour})
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const key = "p:alice"
	var delays []time.Duration
	for range 12 {
		require.Zero(t, l.wait(key, now), "each failure happens after the previous delay")
		d := l.fail(key, now, 30*time.Second)
		delays = append(delays, d)
		require.Equal(t, d, l.wait(key, now))
		now = now.Add(d)
	}
	// Free failures (up to 3, slightly fewer with decay) then 1s, 2s, 4s…
	// capped at 30s.
	require.Equal(t, []time.Duration{0, 0, 0}, delays[:3])
	require.Equal(t, time.Second, delays[3])
	for i := 4; i < len(delays); i++ {
		require.GreaterOrEqual(t, delays[i], delays[i-1], "delays never shrink while failures continue")
		require.LessOrEqual(t, delays[i], 30*time.Second, "capped")
	}
	require.Equal(t, 30*time.Second, delays[len(delays)-1])

	// After a long quiet period the score has decayed: free again.
	now = now.Add(10 * time.Hour)
	require.Zero(t, l.wait(key, now))
	require.Zero(t, l.fail(key, now, 30*time.Second))

	l.reset(key)
	require.Zero(t, l.wait(key, now))
}

func TestLimiterKeysAreIndependent(t *testing.T) {
	l := newFailureLimiter[string](RateLimitConfig{FreeFailures: 1})
	now := time.Now()
	l.fail("a:1", now, time.Minute)
	l.fail("a:1", now, time.Minute)
	require.NotZero(t, l.wait("a:1", now))
	require.Zero(t, l.wait("a:2", now))
}

func TestLimiterBoundsMemory(t *testing.T) {
	l := newFailureLimiter[string](RateLimitConfig{MaxEntries: 64, FreeFailures: 100})
	now := time.Now()
	for i := range 10000 {
		l.fail(addressKey(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})), now, time.Minute)
	}
	total := 0
	for i := range l.shards {
		total += len(l.shards[i].m)
	}
	require.LessOrEqual(t, total, 64)
}

func TestLimiterDisabled(t *testing.T) {
	l := newFailureLimiter[string](RateLimitConfig{Disabled: true, FreeFailures: 1})
	now := time.Now()
	for range 10 {
		require.Zero(t, l.fail("k", now, time.Minute))
	}
	require.Zero(t, l.wait("k", now))
}

func TestAddressKeyGroupsIPv6By64(t *testing.T) {
	a := addressKey(netip.MustParseAddr("2001:db8:1:2:aaaa::1"))
	b := addressKey(netip.MustParseAddr("2001:db8:1:2:bbbb::2"))
	c := addressKey(netip.MustParseAddr("2001:db8:1:3::1"))
	require.Equal(t, a, b)
	require.NotEqual(t, a, c)
	require.Equal(t, addressKey(netip.MustParseAddr("192.0.2.1")), addressKey(netip.MustParseAddr("::ffff:192.0.2.1")))
	require.Equal(t, "a:unknown", addressKey(netip.Addr{}))
}

// TestLimiterKeepsCountingWhenFull is the regression test for a table full
// of blocked entries: it used to stop tracking new keys, so that 100 failed
// logins for one more principal then cost no delay at all.
func TestLimiterKeepsCountingWhenFull(t *testing.T) {
	l := newFailureLimiter[string](RateLimitConfig{MaxEntries: limiterShards * 4, FreeFailures: 1, MaxPrincipalDelay: time.Minute})
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	// Fill every shard with blocked keys.
	for i := range limiterShards * 64 {
		k := "p:filler" + strconv.Itoa(i)
		l.fail(k, now, time.Hour)
		l.fail(k, now, time.Hour)
		l.fail(k, now, time.Hour)
	}
	for i := range l.shards {
		require.Equal(t, 4, len(l.shards[i].m), "full")
	}
	var total time.Duration
	for range 100 {
		total += l.fail("p:victim", now, time.Minute)
	}
	require.Greater(t, total, 50*time.Minute, "the 100 failures are counted and delayed")
	require.Equal(t, time.Minute, l.wait("p:victim", now))
	for i := range l.shards {
		require.LessOrEqual(t, len(l.shards[i].m), 4, "still bounded")
	}
}
