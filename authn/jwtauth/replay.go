package jwtauth

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ReplayStore remembers the IDs ("jti") of tokens already used, so that a
// token of an issuer with RequireTokenID is accepted once. The authn store
// implements it, so the check holds across server instances sharing a
// database.
type ReplayStore interface {
	// RecordTokenUse records key until expiresAt, atomically: of several
	// calls with one key, across processes, exactly one reports true while
	// an earlier record has not expired (its expiresAt is after now). key
	// is at most 64 bytes. Records may be deleted once expired. An error
	// means the use could not be recorded; the token is then refused.
	RecordTokenUse(ctx context.Context, key []byte, expiresAt, now time.Time) (first bool, err error)
}

// ErrReplayStoreFull is returned by [MemoryReplayStore] when it holds its
// maximum of unexpired records.
var ErrReplayStoreFull = errors.New("jwtauth: replay store full")

// MemoryReplayStore is a [ReplayStore] in this process's memory, for a
// single server instance: several instances each need the shared store.
// It is safe for concurrent use.
type MemoryReplayStore struct {
	max  int
	mu   sync.Mutex
	seen map[string]time.Time
}

// NewMemoryReplayStore returns a store holding at most max unexpired
// records; when full, new token IDs are refused with [ErrReplayStoreFull]
// rather than forgetting one that could then be replayed.
func NewMemoryReplayStore(max int) *MemoryReplayStore {
	return &MemoryReplayStore{max: max, seen: map[string]time.Time{}}
}

// RecordTokenUse implements [ReplayStore].
func (m *MemoryReplayStore) RecordTokenUse(_ context.Context, key []byte, expiresAt, now time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if exp, ok := m.seen[string(key)]; ok && exp.After(now) {
		return false, nil
	}
	if len(m.seen) >= m.max {
		for k, exp := range m.seen {
			if !exp.After(now) {
				delete(m.seen, k)
			}
		}
		if len(m.seen) >= m.max {
			return false, ErrReplayStoreFull
		}
	}
	m.seen[string(key)] = expiresAt
	return true, nil
}
