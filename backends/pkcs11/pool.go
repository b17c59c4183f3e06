//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/internal/module"
	"github.com/miekg/pkcs11"
)

// pool holds at most max sessions on one token. It has exactly max units:
// each is either an idle open session (in idle), a permit to open one (in
// permits), or a session some goroutine is using. So the pool never has
// more than max sessions open, it opens them only when every open one is
// busy, and Close can wait for busy ones by collecting all max units. A
// session whose call was abandoned (see Backend.withSession) stays with
// that call, still one of the max, until the call returns.
//
// A session in use is also a call admitted into the module: get enters it
// (module.Enter) and put and discard leave it, so that a module reset
// never finalises the library under a session's call, and a session of
// an older module generation — dead, its handle number perhaps reused by
// another user's new session — is forgotten, never closed.
//
// The hot path is a channel receive, a channel send and the module gate's
// two atomic adds; no lock is held while a PKCS #11 call runs, other than
// the session's own exclusive use.
type pool struct {
	mod    *module.Module
	p11    *pkcs11.Ctx
	table  *sync.Mutex // the module's Sessions lock: held to open, log in and close
	slotID atomic.Uint64
	pin    backend.Secret // nil: do not log in
	max    int

	idle    chan *session
	permits chan struct{}
	done    chan struct{} // closed by close
	closed  atomic.Bool

	// gen is bumped when the backend starts over (the token lost its
	// sessions, or the backend recovered from an outage): older sessions
	// are closed as they come back, and object handles found in them are
	// looked up again before they are used.
	gen  atomic.Uint64
	open atomic.Int64 // sessions open now
}

// errModuleResetting refuses a call while the module is being reset.
var errModuleResetting = errors.New("the PKCS #11 module is being reset")

func newPool(mod *module.Module, slot uint, pin backend.Secret, max int) *pool {
	p := &pool{
		mod:     mod,
		p11:     mod.Ctx,
		table:   &mod.Sessions,
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
// while ctx allows, with the module entered: the caller ends with put or
// discard. It fails with backend.ErrClosed after close, with
// errModuleResetting (at once) while the module is reset, with the
// context's error, and with the error of C_OpenSession or C_Login. It is
// take followed by ready, on one goroutine.
func (p *pool) get(ctx context.Context) (*session, error) {
	s, err := p.take(ctx)
	if err != nil {
		return nil, err
	}
	return p.ready(s)
}

// take takes one unit, waiting while ctx allows: an idle session, or a
// permit to open one (nil). It makes no PKCS #11 call, so it is safe on a
// caller's goroutine however the token behaves; ready, which may call the
// token, turns the unit into a session.
func (p *pool) take(ctx context.Context) (*session, error) {
	if p.closed.Load() {
		return nil, backend.ErrClosed
	}
	return p.acquire(ctx)
}

// ready enters the module and turns a unit from take into a usable
// session: an idle session of the current generations is used as it is;
// a stale one (opened before the module was reset or the token lost its
// sessions) is closed or forgotten, and a session is opened in its place,
// as for a permit. On failure the unit is given back and the module left.
func (p *pool) ready(s *session) (*session, error) {
	if !p.mod.Enter() {
		p.giveBack(s)
		return nil, errModuleResetting
	}
	if p.closed.Load() {
		if s != nil {
			p.discard(s)
		} else {
			p.permits <- struct{}{}
			p.mod.Exit()
		}
		return nil, backend.ErrClosed
	}
	if s != nil && (s.modGen != p.mod.Gen() || s.gen != p.gen.Load()) {
		if s.modGen == p.mod.Gen() {
			p.closeHandle(s.h) // a dead handle of an older module generation is only forgotten
		}
		p.open.Add(-1)
		s = nil // its unit is now a permit
	}
	if s != nil {
		return s, nil
	}
	s, err := p.openSession()
	if err != nil {
		p.permits <- struct{}{}
		p.mod.Exit()
		return nil, err
	}
	return s, nil
}

// acquire takes one unit: an idle session, or a permit (nil). It makes no
// PKCS #11 call.
func (p *pool) acquire(ctx context.Context) (*session, error) {
	select {
	case s := <-p.idle:
		return s, nil
	default:
	}
	select {
	case s := <-p.idle:
		return s, nil
	case <-p.permits:
		return nil, nil
	default:
	}
	select {
	case s := <-p.idle:
		return s, nil
	case <-p.permits:
		return nil, nil
	case <-p.done:
		return nil, backend.ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a free session (max-sessions=%d): %w", p.max, ctx.Err())
	}
}

// giveBack returns a unit acquire took, unused.
func (p *pool) giveBack(s *session) {
	if s != nil {
		p.idle <- s // never blocks: the channel holds max and s is one of max units
		return
	}
	p.permits <- struct{}{}
}

// put returns a session after use and leaves the module. Sessions from an
// older generation, or coming back after close, are closed instead.
func (p *pool) put(s *session) {
	if s.gen != p.gen.Load() || p.closed.Load() {
		p.discard(s)
		return
	}
	p.idle <- s
	if p.closed.Load() {
		// close gave up waiting before s came back: nobody else will
		// close what sits in idle now.
		p.closeIdle()
	}
	p.mod.Exit()
}

// discard closes a session the token lost (or that is stale), returns its
// unit as a permit and leaves the module. A session of an older module
// generation is only forgotten: its handle is dead, and its number may
// now be another user's session.
func (p *pool) discard(s *session) {
	if s.modGen == p.mod.Gen() {
		p.closeHandle(s.h) // the token may already have dropped it
	}
	p.open.Add(-1)
	p.permits <- struct{}{}
	p.mod.Exit()
}

// renew starts a new pool generation (see pool.gen) unless one started
// since gen; it reports whether it did.
func (p *pool) renew(gen uint64) bool { return p.gen.CompareAndSwap(gen, gen+1) }

// close makes every later get fail with backend.ErrClosed, wakes waiters,
// and closes the sessions, waiting at most wait for busy ones to come
// back; the rest are closed by put or discard when their calls return.
func (p *pool) close(wait time.Duration) {
	if p.closed.Swap(true) {
		return
	}
	close(p.done)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for range p.max {
		select {
		case s := <-p.idle:
			p.closeSession(s)
		case <-p.permits:
		case <-timer.C:
			return
		}
	}
}

// closeIdle closes the sessions sitting in idle, after close.
func (p *pool) closeIdle() {
	for {
		select {
		case s := <-p.idle:
			p.closeSession(s)
			p.permits <- struct{}{}
		default:
			return
		}
	}
}

// closeSession closes an idle session at close. A session that cannot be
// closed now (the module is being reset) is only forgotten.
func (p *pool) closeSession(s *session) {
	if p.mod.Enter() {
		if s.modGen == p.mod.Gen() {
			p.closeHandle(s.h)
		}
		p.mod.Exit()
	}
	p.open.Add(-1)
}

// closeHandle closes one session under the module's session-table lock
// (see module.Module.Sessions). Errors are ignored: the token may already
// have dropped the session.
func (p *pool) closeHandle(h pkcs11.SessionHandle) {
	p.table.Lock()
	defer p.table.Unlock()
	_ = p.p11.CloseSession(h)
}
