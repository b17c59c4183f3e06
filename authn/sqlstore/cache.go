package sqlstore

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/internal/pgnotify"
)

// The cache keeps what every authenticated request looks up — the session
// or API key its token hashes to, the roles a principal holds in a key's
// group (KeyAccess), a key's approval state (GetKeyState) —
// so that a request costs no database round trip. It is coherent with
// every process sharing the database:
//
//   - a change made through this Store evicts what it affects before the
//     method returns;
//   - a change made anywhere (another instance, an administrator's SQL) is
//     announced by triggers — sessions by token hash, everything else as
//     "drop it all" — through LISTEN/NOTIFY on PostgreSQL and through the
//     cache_invalidations table, polled, on SQLite;
//   - an entry is served only while the announcements are known to have been
//     delivered up to MaxStale ago (see pgnotify: a heartbeat on PostgreSQL,
//     the poll itself on SQLite), or while its own fetch is that recent;
//     otherwise the database is asked again. So no answer served from the
//     cache is staler than MaxStale, also while notifications are lost.
//
// Misses are not cached: a token that is not found costs a query every
// time, as before (the rate limiter bounds guessing).

// DefaultCacheMaxStale is the cache's bound unless [WithCacheMaxStale]
// sets another.
const DefaultCacheMaxStale = pgnotify.DefaultMaxStale

// maxCacheEntries bounds each of the cache's maps; a full map is emptied.
const maxCacheEntries = 100_000

// coherence tells the cache whether entries may be served.
type coherence interface {
	// Fresh reports whether an entry fetched at checked (a pgnotify.Now
	// instant taken before the fetch) may still be served.
	Fresh(checked int64) bool
	Close()
}

type cacheEntry[T any] struct {
	rec     T
	checked int64
}

// cacheMap is one kind of cached answer, by key. A plain map under a
// read-write lock rather than a sync.Map: looking up m[string(hash)]
// converts the []byte without allocating, where sync.Map's interface key
// would allocate on every request.
type cacheMap[T any] struct {
	mu sync.RWMutex
	m  map[string]*cacheEntry[T]
}

func (c *cacheMap[T]) get(key []byte) (*cacheEntry[T], bool) {
	c.mu.RLock()
	e, ok := c.m[string(key)]
	c.mu.RUnlock()
	return e, ok
}

func (c *cacheMap[T]) put(key string, e *cacheEntry[T]) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCacheEntries {
		c.m = make(map[string]*cacheEntry[T])
	}
	c.m[key] = e
}

func (c *cacheMap[T]) drop(key string) {
	c.mu.Lock()
	delete(c.m, key)
	c.mu.Unlock()
}

func (c *cacheMap[T]) clear() {
	c.mu.Lock()
	c.m = nil
	c.mu.Unlock()
}

// cache holds the Store's cached answers. Its zero value is not used: a
// Store without a cache has a nil *cache, whose methods do nothing.
type cache struct {
	source coherence

	// mu orders fills against invalidations (see fill); lookups take no
	// lock.
	mu  sync.Mutex
	gen atomic.Uint64 // moves with every invalidation

	sessions   cacheMap[authn.SessionRecord] // by token hash
	sessionIDs map[string]string             // session ID -> token hash, to evict by ID; under mu
	apiKeys    cacheMap[authn.APIKeyRecord]  // by token hash
	access     cacheMap[keyAccess]           // by accessKey(principal, key)
	states     cacheMap[keyStateEntry]       // by key ID
}

// keyStateEntry is GetKeyState's answer. Most keys have no state, and every
// use of a key asks, so that absence is cached too: a state's first insert
// is announced like any other change.
type keyStateEntry struct {
	rec   authn.KeyStateRecord
	found bool
}

// keyAccess is KeyAccess's answer.
type keyAccess struct {
	group string
	roles authn.RoleSet
}

// accessKey builds the access map's key into buf: the principal's ID, a
// zero byte (which neither ID holds), the key's ID.
func accessKey(buf []byte, principalID, keyID string) []byte {
	buf = append(buf[:0], principalID...)
	buf = append(buf, 0)
	return append(buf, keyID...)
}

// Invalidation payloads, as the triggers send them.
const (
	payloadAll     = "*"
	payloadSession = 's' // followed by the session's token hash in hex
)

// handle applies one announced change.
func (c *cache) handle(payload string) {
	if len(payload) > 1 && payload[0] == payloadSession {
		if hash, err := hexDecode(payload[1:]); err == nil {
			c.dropSessionHash(string(hash))
			return
		}
	}
	c.dropAll()
}

// resync is the coherence source's Resync: announcements may have been
// lost, so everything goes.
func (c *cache) resync(context.Context, int64) error {
	c.dropAll()
	return nil
}

func (c *cache) dropAll() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	c.sessions.clear()
	c.sessionIDs = nil
	c.apiKeys.clear()
	c.access.clear()
	c.states.clear()
}

func (c *cache) dropSessionHash(hash string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	if e, ok := c.sessions.get([]byte(hash)); ok {
		delete(c.sessionIDs, e.rec.ID)
	}
	c.sessions.drop(hash)
}

// dropSessionID evicts the session with this ID, if cached.
func (c *cache) dropSessionID(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen.Add(1)
	if h, ok := c.sessionIDs[id]; ok {
		delete(c.sessionIDs, id)
		c.sessions.drop(h)
	}
}

// cached returns m's entry for key while it is fresh. It is the hot path:
// a read lock, a map lookup and the freshness check, no allocation.
func cached[T any](c *cache, m *cacheMap[T], key []byte) (T, bool) {
	if e, ok := m.get(key); ok && c.source.Fresh(e.checked) {
		return e.rec, true
	}
	var zero T
	return zero, false
}

// fill fetches key and, if no invalidation happened meanwhile, caches the
// answer. An invalidation during the fetch may have been about this very
// entry and found nothing to evict, so the answer is then returned but not
// kept.
func fill[T any](c *cache, m *cacheMap[T], key []byte, fetch func() (T, error), keep func(T)) (T, error) {
	gen := c.gen.Load()
	start := pgnotify.Now()
	rec, err := fetch()
	if err != nil {
		return rec, err
	}
	c.mu.Lock()
	if c.gen.Load() == gen {
		m.put(string(key), &cacheEntry[T]{rec: rec, checked: start})
		if keep != nil {
			keep(rec)
		}
	}
	c.mu.Unlock()
	return rec, nil
}

// keepSessionID records a cached session's ID. c.mu must be held. The
// index is bounded with the sessions it indexes: both start over when full.
func (c *cache) keepSessionID(id, hash string) {
	switch {
	case c.sessionIDs == nil:
		c.sessionIDs = make(map[string]string)
	case len(c.sessionIDs) >= maxCacheEntries:
		c.sessionIDs = make(map[string]string)
		c.sessions.clear()
		return // the session just stored went with the others
	}
	c.sessionIDs[id] = hash
}

func (c *cache) close() {
	if c != nil {
		c.source.Close()
	}
}

// Option configures OpenSQLite and OpenPostgres.
type Option func(*options)

type options struct {
	cache    bool
	maxStale time.Duration
	logger   *slog.Logger
}

// WithLogger gives the lookup cache a logger for the state of its
// notification connection (lost, restored) or of its polling; default
// discards.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithCacheMaxStale sets the bound of the lookup cache: how long after a
// change made through another process (or behind the Store's back) a
// cached session, API key or key-access answer may still be served. From
// 100 ms to 1 h; default [DefaultCacheMaxStale].
func WithCacheMaxStale(d time.Duration) Option {
	return func(o *options) { o.maxStale = d }
}

// WithoutCache turns the lookup cache off: every lookup asks the database.
func WithoutCache() Option {
	return func(o *options) { o.cache = false }
}

func buildOptions(opts []Option) options {
	o := options{cache: true, maxStale: DefaultCacheMaxStale}
	for _, f := range opts {
		f(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return o
}
