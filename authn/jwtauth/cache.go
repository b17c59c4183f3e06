package jwtauth

import (
	"sync"
	"time"
)

// verified is a token that passed every check but time and binding, which
// are re-checked on each use. It is keyed by the token's SHA-256, so a hit
// proves the same bytes were verified before.
type verified struct {
	id       Identity
	notAfter time.Time // exp + skew
	notBefor time.Time // max(nbf, iat) - skew
	bound    *[32]byte // the certificate's SHA-256 the token is bound to
	keys     *issuerKeys
	gen      uint64 // keys.gen when verified
}

// tokenCache is a bounded map of verified tokens. When full, it drops
// expired entries, then arbitrary ones: the cost of a miss is one
// signature verification.
type tokenCache struct {
	max int
	mu  sync.RWMutex
	m   map[[32]byte]*verified
}

func newTokenCache(max int) *tokenCache {
	if max <= 0 {
		return nil
	}
	return &tokenCache{max: max, m: make(map[[32]byte]*verified, min(max, 1024))}
}

func (c *tokenCache) get(k *[32]byte) *verified {
	if c == nil {
		return nil
	}
	c.mu.RLock()
	v := c.m[*k]
	c.mu.RUnlock()
	return v
}

func (c *tokenCache) put(k *[32]byte, v *verified, now time.Time) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for key, e := range c.m {
			if !now.Before(e.notAfter) {
				delete(c.m, key)
			}
		}
		for key := range c.m {
			if len(c.m) < c.max*7/8 {
				break
			}
			delete(c.m, key)
		}
	}
	c.m[*k] = v
}

func (c *tokenCache) remove(k *[32]byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.m, *k)
	c.mu.Unlock()
}
