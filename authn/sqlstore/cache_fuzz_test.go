package sqlstore

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

// FuzzCacheHandle feeds the cache arbitrary invalidation payloads (they
// come from the database, which other programs write too): it never panics,
// a session payload evicts exactly that session, and anything it cannot
// read drops everything, never nothing.
func FuzzCacheHandle(f *testing.F) {
	f.Add("*")
	f.Add("s" + hex.EncodeToString([]byte("hash-a")))
	f.Add("s")
	f.Add("sZZ")
	f.Add("x1234")
	f.Add("")
	f.Fuzz(func(t *testing.T, payload string) {
		c := &cache{}
		put := func(hash string) {
			c.sessions.put(hash, &cacheEntry[authn.SessionRecord]{rec: authn.SessionRecord{ID: "ses_" + hash}})
			c.keepSessionID("ses_"+hash, hash)
		}
		put("hash-a")
		put("hash-b")
		c.apiKeys.put("key", &cacheEntry[authn.APIKeyRecord]{})
		gen := c.gen.Load()
		c.handle(payload)
		require.NotEqual(t, gen, c.gen.Load(), "every payload is an invalidation")
		_, a := c.sessions.get([]byte("hash-a"))
		_, b := c.sessions.get([]byte("hash-b"))
		_, k := c.apiKeys.get([]byte("key"))
		h, err := hex.DecodeString(payload[min(1, len(payload)):])
		switch {
		case len(payload) > 1 && payload[0] == 's' && err == nil:
			require.Equal(t, string(h) != "hash-a", a)
			require.Equal(t, string(h) != "hash-b", b)
			require.True(t, k, "a session payload leaves API keys alone")
		default:
			require.False(t, a || b || k, "an unreadable payload drops everything")
		}
	})
}

// TestCacheMapsAreBounded: neither a cached answer map nor the session-ID
// index grows past maxCacheEntries, however many credentials are used.
func TestCacheMapsAreBounded(t *testing.T) {
	c := &cache{}
	for i := range maxCacheEntries + 100 {
		h := string(rune(i)) + "-hash"
		c.mu.Lock()
		c.sessions.put(h, &cacheEntry[authn.SessionRecord]{})
		c.keepSessionID("ses_"+h, h)
		c.mu.Unlock()
		c.apiKeys.put(h, &cacheEntry[authn.APIKeyRecord]{})
	}
	require.LessOrEqual(t, len(c.sessions.m), maxCacheEntries)
	require.LessOrEqual(t, len(c.sessionIDs), maxCacheEntries)
	require.LessOrEqual(t, len(c.apiKeys.m), maxCacheEntries)
	require.NotEmpty(t, c.sessions.m, "the newest entries stay")
}
