package tpm

import (
	"container/list"

	"github.com/google/go-tpm/tpm2"
)

// lru tracks which keys are loaded in the TPM's transient slots, least
// recently used last. It only keeps the books: the caller flushes what it
// evicts. Guarded by the device lock.
type lru struct {
	capacity int
	order    *list.List // of *lruEntry, most recent first
	byKey    map[*keyObject]*list.Element
}

type lruEntry struct {
	key    *keyObject
	handle tpm2.AuthHandle
}

func newLRU(capacity int) *lru {
	return &lru{capacity: max(capacity, 1), order: list.New(), byKey: map[*keyObject]*list.Element{}}
}

// get returns k's handle and marks it most recently used.
func (l *lru) get(k *keyObject) (tpm2.AuthHandle, bool) {
	e, ok := l.byKey[k]
	if !ok {
		return tpm2.AuthHandle{}, false
	}
	l.order.MoveToFront(e)
	return e.Value.(*lruEntry).handle, true
}

// full reports whether adding another key needs an eviction first.
func (l *lru) full() bool { return l.order.Len() >= l.capacity }

func (l *lru) len() int { return l.order.Len() }

// add records k as loaded at h. The caller makes room first.
func (l *lru) add(k *keyObject, h tpm2.AuthHandle) {
	l.byKey[k] = l.order.PushFront(&lruEntry{key: k, handle: h})
}

// evictOldest forgets the least recently used key and returns its handle.
func (l *lru) evictOldest() (tpm2.AuthHandle, bool) {
	e := l.order.Back()
	if e == nil {
		return tpm2.AuthHandle{}, false
	}
	ent := l.order.Remove(e).(*lruEntry)
	delete(l.byKey, ent.key)
	return ent.handle, true
}

// remove forgets k and returns its handle, if it was loaded.
func (l *lru) remove(k *keyObject) (tpm2.AuthHandle, bool) {
	e, ok := l.byKey[k]
	if !ok {
		return tpm2.AuthHandle{}, false
	}
	l.order.Remove(e)
	delete(l.byKey, k)
	return e.Value.(*lruEntry).handle, true
}

// drain forgets every key and returns their handles.
func (l *lru) drain() []tpm2.AuthHandle {
	var out []tpm2.AuthHandle
	for e := l.order.Front(); e != nil; e = e.Next() {
		out = append(out, e.Value.(*lruEntry).handle)
	}
	l.order.Init()
	clear(l.byKey)
	return out
}
