package authn

import (
	"hash/maphash"
	"math"
	"net/netip"
	"sync"
	"time"
)

// RateLimitConfig tunes how failed authentications slow down further
// attempts. Every failure adds one to a score kept per principal and per
// client address; the score halves every HalfLife. Once a score exceeds
// FreeFailures, each further failure blocks that principal or address for
// BaseDelay, doubling per failure, up to the cap. Nothing is blocked
// forever: the cap bounds each delay and the score decays, so a stranger can
// slow a user's logins down by at most MaxPrincipalDelay at a time.
//
// The limiter is in memory, per [Service]: instances behind a load balancer
// each keep their own counts.
type RateLimitConfig struct {
	Disabled          bool
	FreeFailures      int           // default 5
	BaseDelay         time.Duration // default 1s
	MaxPrincipalDelay time.Duration // default 1m
	MaxAddressDelay   time.Duration // default 15m
	HalfLife          time.Duration // default 15m
	MaxEntries        int           // tracked principals plus addresses; default 100000
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

// failureLimiter is sharded so that concurrent logins for different
// principals rarely contend on one mutex.
type failureLimiter struct {
	cfg    RateLimitConfig
	seed   maphash.Seed
	shards [limiterShards]limiterShard
}

type limiterShard struct {
	mu sync.Mutex
	m  map[string]*failureRecord
}

type failureRecord struct {
	score float64
	at    time.Time // when score was last updated
	until time.Time // blocked before this instant
}

func newFailureLimiter(cfg RateLimitConfig) *failureLimiter {
	l := &failureLimiter{cfg: cfg.withDefaults(), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = make(map[string]*failureRecord)
	}
	return l
}

func (l *failureLimiter) shard(key string) *limiterShard {
	return &l.shards[maphash.String(l.seed, key)%limiterShards]
}

// wait returns how long key is still blocked at now (0 if not).
func (l *failureLimiter) wait(key string, now time.Time) time.Duration {
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

func (l *failureLimiter) decayed(r *failureRecord, now time.Time) float64 {
	elapsed := now.Sub(r.at)
	if elapsed <= 0 {
		return r.score
	}
	return r.score * math.Exp2(-float64(elapsed)/float64(l.cfg.HalfLife))
}

// fail records a failure for key and returns the delay it imposes.
func (l *failureLimiter) fail(key string, now time.Time, maxDelay time.Duration) time.Duration {
	if l.cfg.Disabled {
		return 0
	}
	sh := l.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	r, ok := sh.m[key]
	if !ok {
		if len(sh.m) >= l.cfg.MaxEntries/limiterShards && !l.sweep(sh, now) {
			return 0 // table full of blocked keys: do not track more
		}
		r = &failureRecord{at: now}
		sh.m[key] = r
	}
	r.score = l.decayed(r, now) + 1
	r.at = now
	excess := r.score - float64(l.cfg.FreeFailures)
	if excess <= 0 {
		return 0
	}
	delay := maxDelay
	if doublings := math.Ceil(excess) - 1; doublings < 62 {
		if d := float64(l.cfg.BaseDelay) * math.Exp2(doublings); d < float64(maxDelay) {
			delay = time.Duration(d)
		}
	}
	r.until = now.Add(delay)
	return delay
}

// reset forgets key's failures.
func (l *failureLimiter) reset(key string) {
	sh := l.shard(key)
	sh.mu.Lock()
	delete(sh.m, key)
	sh.mu.Unlock()
}

// sweep drops records that have decayed below one failure and are not
// blocking, then, if the shard is still full, any record not blocking. It
// reports whether there is room.
func (l *failureLimiter) sweep(sh *limiterShard, now time.Time) bool {
	limit := l.cfg.MaxEntries / limiterShards
	for k, r := range sh.m {
		if !now.Before(r.until) && l.decayed(r, now) < 1 {
			delete(sh.m, k)
		}
	}
	for k, r := range sh.m {
		if len(sh.m) < limit {
			break
		}
		if !now.Before(r.until) {
			delete(sh.m, k)
		}
	}
	return len(sh.m) < limit
}

func principalKey(id string) string { return "p:" + id }

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
