package authn

import (
	"hash/maphash"
	"math"
	"net/netip"
	"sync"
	"time"
)

// RateLimitConfig tunes how failed authentications slow down further
// attempts. Every failure adds one to a score kept per client address and
// per account (for passwords and PINs) or per token (for API keys,
// sessions, user secrets and registration tokens); the score halves every
// HalfLife. Once a score exceeds FreeFailures, each further failure blocks
// that address, account or token for BaseDelay, doubling per failure, up to
// the cap. Nothing is blocked forever: the cap bounds each delay and the
// score decays, so a stranger can slow a user's logins down by at most
// MaxPrincipalDelay at a time. A valid token is never refused for failures
// of others, from its address or anywhere else (see the limits type for
// why each table exists).
//
// The limiter is in memory, per [Service], unless Shared is set: then the
// counts live in the Store (see [FailureCounter]), and every Service on the
// same database counts together, so that switching instance — or, for an
// account or a token, switching address — resets nothing. Behind a reverse
// proxy, set [Config.ClientAddr] (see [ForwardedClientAddr]) so that each
// client is counted, not the proxy.
type RateLimitConfig struct {
	Disabled bool
	// Shared keeps the counts in the Store, which must implement
	// [FailureCounter], as sqlstore's does. What it costs: a password or
	// PIN attempt reads its counts from the database first, and every
	// failure writes them; a valid token costs nothing more (see
	// sharedCounts).
	Shared            bool
	FreeFailures      int           // default 5
	BaseDelay         time.Duration // default 1s
	MaxPrincipalDelay time.Duration // default 1m
	MaxAddressDelay   time.Duration // default 15m; also caps a failing token
	HalfLife          time.Duration // default 15m
	// MaxEntries bounds each of the four tables (guessed accounts, their
	// addresses, failing tokens, their addresses); default 100000. When a
	// table is full, the entries that matter least go first (see sweep): a
	// full table never stops counting.
	MaxEntries int
}

func (c RateLimitConfig) withDefaults() RateLimitConfig {
	if c.FreeFailures <= 0 {
		c.FreeFailures = 5
	}
	if c.BaseDelay <= 0 {
		c.BaseDelay = time.Second
	}
	if c.MaxPrincipalDelay <= 0 {
		c.MaxPrincipalDelay = time.Minute
	}
	if c.MaxAddressDelay <= 0 {
		c.MaxAddressDelay = 15 * time.Minute
	}
	if c.HalfLife <= 0 {
		c.HalfLife = 15 * time.Minute
	}
	if c.MaxEntries <= 0 {
		c.MaxEntries = 100000
	}
	return c
}

const limiterShards = 16

// failureLimiter counts failures per key K (an address or account string,
// a token's hash). It is sharded so that concurrent logins for different
// principals rarely contend on one mutex.
type failureLimiter[K comparable] struct {
	cfg    RateLimitConfig
	seed   maphash.Seed
	shards [limiterShards]limiterShard[K]
}

type limiterShard[K comparable] struct {
	mu sync.Mutex
	m  map[K]*failureRecord
}

type failureRecord struct {
	score float64
	at    time.Time // when score was last updated
	until time.Time // blocked before this instant
}

func newFailureLimiter[K comparable](cfg RateLimitConfig) *failureLimiter[K] {
	l := &failureLimiter[K]{cfg: cfg.withDefaults(), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = make(map[K]*failureRecord)
	}
	return l
}

func (l *failureLimiter[K]) shard(key K) *limiterShard[K] {
	return &l.shards[maphash.Comparable(l.seed, key)%limiterShards]
}

// wait returns how long key is still blocked at now (0 if not).
func (l *failureLimiter[K]) wait(key K, now time.Time) time.Duration {
	if l.cfg.Disabled {
		return 0
	}
	sh := l.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if r, ok := sh.m[key]; ok && now.Before(r.until) {
		return r.until.Sub(now)
	}
	return 0
}

func (l *failureLimiter[K]) decayed(r *failureRecord, now time.Time) float64 {
	elapsed := now.Sub(r.at)
	if elapsed <= 0 {
		return r.score
	}
	return r.score * math.Exp2(-float64(elapsed)/float64(l.cfg.HalfLife))
}

// fail records a failure for key and returns the delay it imposes.
func (l *failureLimiter[K]) fail(key K, now time.Time, maxDelay time.Duration) time.Duration {
	if l.cfg.Disabled {
		return 0
	}
	sh := l.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r, ok := sh.m[key]
	if !ok {
		if len(sh.m) >= l.shardLimit() {
			l.sweep(sh, now)
		}
		r = &failureRecord{at: now}
		sh.m[key] = r
	}
	r.score = l.decayed(r, now) + 1
	r.at = now
	delay := l.cfg.delayFor(r.score, maxDelay)
	if delay > 0 {
		r.until = now.Add(delay)
	}
	return delay
}

// block extends key's block to until, as a failure counted elsewhere
// decided (see sharedCounts); it never shortens a block.
func (l *failureLimiter[K]) block(key K, now, until time.Time) {
	if l.cfg.Disabled || !until.After(now) {
		return
	}
	sh := l.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r, ok := sh.m[key]
	if !ok {
		if len(sh.m) >= l.shardLimit() {
			l.sweep(sh, now)
		}
		r = &failureRecord{at: now}
		sh.m[key] = r
	}
	if until.After(r.until) {
		r.until = until
	}
}

// delayFor is the block a failure imposes once the score (failures,
// decayed) has reached score: none up to FreeFailures, then BaseDelay
// doubling per failure, at most maxDelay.
func (c RateLimitConfig) delayFor(score float64, maxDelay time.Duration) time.Duration {
	excess := score - float64(c.FreeFailures)
	if excess <= 0 {
		return 0
	}
	delay := maxDelay
	if doublings := math.Ceil(excess) - 1; doublings < 62 {
		if d := float64(c.BaseDelay) * math.Exp2(doublings); d < float64(maxDelay) {
			delay = time.Duration(d)
		}
	}
	return delay
}

// reset forgets key's failures.
func (l *failureLimiter[K]) reset(key K) {
	sh := l.shard(key)
	sh.mu.Lock()
	delete(sh.m, key)
	sh.mu.Unlock()
}

func (l *failureLimiter[K]) shardLimit() int { return max(l.cfg.MaxEntries/limiterShards, 1) }

// sweep makes room for one more record in a full shard. It drops records
// that have decayed below one failure and are not blocking, then, if the
// shard is still full, any record not blocking, and then, if every record
// is blocking, the one whose block ends first: forgetting it costs the
// least. Refusing to track new keys instead, as an earlier version did, let
// anyone who filled the table make every later failure free.
func (l *failureLimiter[K]) sweep(sh *limiterShard[K], now time.Time) {
	limit := l.shardLimit()
	for k, r := range sh.m {
		if !now.Before(r.until) && l.decayed(r, now) < 1 {
			delete(sh.m, k)
		}
	}
	for k, r := range sh.m {
		if len(sh.m) < limit {
			return
		}
		if !now.Before(r.until) {
			delete(sh.m, k)
		}
	}
	for len(sh.m) >= limit {
		var victim K
		var soonest time.Time
		first := true
		for k, r := range sh.m {
			if first || r.until.Before(soonest) {
				victim, soonest, first = k, r.until, false
			}
		}
		delete(sh.m, victim)
	}
}

// principalKey and emailKey name an account in the guessPrincipal table:
// by ID (PINs) or by the normalised e-mail typed (passwords).
func principalKey(id string) string { return "p:" + id }

func emailKey(email string) string { return "e:" + email }

// addressKey groups IPv6 clients by /64, the block a single host usually
// controls; IPv4 addresses stand alone.
func addressKey(a netip.Addr) string {
	if !a.IsValid() {
		return "a:unknown"
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return "a:" + p.String()
	}
	return "a:" + a.String()
}
