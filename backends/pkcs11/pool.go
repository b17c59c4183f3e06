//go:build cgo

package pkcs11

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
)

// pool holds at most max sessions on one token. It has exactly max units:
// each is either an idle open session (in idle), a permit to open one (in
// permits), or a session some goroutine is using. So the pool never has
// more than max sessions open, it opens them only when every open one is
// busy, and Close can wait for busy ones by collecting all max units.
//
// The hot path is a channel receive and a channel send; no lock is held
// while a PKCS #11 call runs, other than the session's own exclusive use.
type pool struct {
	p11    *pkcs11.Ctx
	table  *sync.Mutex // the module's Sessions lock: held to open, log in and close
	slotID atomic.Uint64
	pin    backend.Secret // nil: do not log in
	max    int

	idle    chan *session
	permits chan struct{}
	done    chan struct{} // closed by close
	closed  atomic.Bool

	gen  atomic.Uint64 // bumped by recover; older sessions are discarded
	open atomic.Int64  // sessions open now

	testHookOpened func() // called after a session is opened; tests only
}

func newPool(p11 *pkcs11.Ctx, table *sync.Mutex, slot uint, pin backend.Secret, max int) *pool {
	p := &pool{
		p11:     p11,
		table:   table,
		pin:     pin,
		max:     max,
		idle:    make(chan *session, max),
		permits: make(chan struct{}, max),
		done:    make(chan struct{}),
	}
	p.slotID.Store(uint64(slot))
	for range max {
		p.permits <- struct{}{}
	}
	return p
}

func (p *pool) slot() uint { return uint(p.slotID.Load()) }

// get returns a session for the caller's exclusive use, waiting for one
// while ctx allows. It fails with
// backend.ErrClosed after close, and with the context's error.
func (p *pool) get(ctx context.Context) (*session, error) {
	for {
		if p.closed.Load() {
			return nil, backend.ErrClosed
		}
		s, opened, err := p.acquire(ctx)
		if err != nil {
			return nil, err
		}
		if p.closed.Load() {
			p.put(s) // hand the unit back for close to collect
			return nil, backend.ErrClosed
		}
		if opened || s.gen == p.gen.Load() {
			return s, nil
		}
		p.discard(s) // opened before the token lost its sessions
	}
}

// acquire takes one unit: an idle session, or a permit that it turns into
// a new session. A nil session with a nil error never happens.
func (p *pool) acquire(ctx context.Context) (s *session, opened bool, err error) {
	select {
	case s := <-p.idle:
		return s, false, nil
	default:
	}
	select {
	case s := <-p.idle:
		return s, false, nil
	case <-p.permits:
		return p.openWithPermit()
	default:
	}
	select {
	case s := <-p.idle:
		return s, false, nil
	case <-p.permits:
		return p.openWithPermit()
	case <-p.done:
		return nil, false, backend.ErrClosed
	case <-ctx.Done():
		return nil, false, fmt.Errorf("waiting for a free session (max-sessions=%d): %w", p.max, ctx.Err())
	}
}

func (p *pool) openWithPermit() (*session, bool, error) {
	s, err := p.openSession()
	if err != nil {
		p.permits <- struct{}{}
		return nil, false, err
	}
	return s, true, nil
}

// put returns a session after use. Sessions from an older generation are
// closed instead of kept.
func (p *pool) put(s *session) {
	if s.gen != p.gen.Load() {
		p.discard(s)
		return
	}
	p.idle <- s // never blocks: the channel holds max and s is one of max units
}

// discard closes a session the token lost (or that is stale) and returns
// its unit as a permit.
func (p *pool) discard(s *session) {
	p.closeHandle(s.h) // the token may already have dropped it
	p.open.Add(-1)
	p.permits <- struct{}{}
}

// close makes every later get fail with backend.ErrClosed, wakes waiters,
// and closes all sessions, waiting for busy ones to come back.
func (p *pool) close() {
	if p.closed.Swap(true) {
		return
	}
	close(p.done)
	for range p.max {
		select {
		case s := <-p.idle:
			p.closeHandle(s.h)
			p.open.Add(-1)
		case <-p.permits:
		}
	}
}

// closeHandle closes one session under the module's session-table lock.
// Errors are ignored: the token may already have dropped the session.
func (p *pool) closeHandle(h pkcs11.SessionHandle) {
	p.table.Lock()
	defer p.table.Unlock()
	_ = p.p11.CloseSession(h)
}
