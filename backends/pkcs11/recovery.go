//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/internal/module"
	"github.com/cryptoplug/cryptoplug/internal/outage"
	"github.com/miekg/pkcs11"
)

// How the backend lives through an outage of its token or module.
//
// A call that fails with a token or module failure (outageOf) makes the
// backend leave the up state: every later call fails at once with
// backend.ErrUnavailable while a background loop (outage.Loop, one
// goroutine, only while recovering) retries reconnect with backoff —
// 100 ms doubling to 1 s — until it succeeds, so that a token that comes
// back is in use again within about 1.2 s plus one attempt. The caller
// that met the failure waits for the first attempt within its context,
// so a daemon restarted between two calls costs that call nothing.
//
// A reconnect resets the module first when the failure was the module's:
// C_Finalize and C_Initialize in the loaded library (module.Reset), which
// is what p11-kit's client needs after its server restarted, and which
// ends the sessions of every backend on the module at once. Resets are
// shared: the backends that failed together reset the module once, and a
// library another user in the process initialised is never reset. Then
// the token is looked up again by the URI's attributes (its slot may
// have changed), a session is opened and logged in, and the pool starts a
// new generation: older sessions are forgotten as they come back, and
// each key finds its object again, by ID and label, checked against its
// public key, before its next use.
//
// A token that refuses the PIN after it came back ends the retries: trying
// a wrong PIN every second would lock it. The backend stays down until it
// is closed and opened again.

// recoveryNeed is what the next reconnect must do besides finding the
// token: reset the module, and how.
type recoveryNeed struct {
	mu       sync.Mutex
	reset    bool   // the module failed: reset it first
	finalize bool   // C_Finalize before C_Initialize (false when it was finalised under us)
	seen     uint64 // the module generation in which the failure was seen
}

func (n *recoveryNeed) note(kind outageKind, modGen uint64, err error) {
	if kind != moduleLost {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	c, _ := ckr(err)
	fin := c != pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED
	if !n.reset || modGen > n.seen {
		n.reset, n.finalize, n.seen = true, fin, modGen
	} else if modGen == n.seen {
		n.finalize = n.finalize || fin
	}
}

func (n *recoveryNeed) get() (reset, finalize bool, seen uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reset, n.finalize, n.seen
}

func (n *recoveryNeed) clear() {
	n.mu.Lock()
	n.reset = false
	n.mu.Unlock()
}

// lost records a token or module failure met in module generation modGen
// and starts the recovery; see outage.Loop.Kick for what ended and now
// say.
func (b *Backend) lost(kind outageKind, modGen uint64, err error) (ended <-chan struct{}, now bool) {
	b.need.note(kind, modGen, err)
	b.status.Failed(describe(err))
	return b.loop.Kick()
}

// available fails at once, with backend.ErrUnavailable, while the backend
// recovers or while as many calls as it has sessions are abandoned and
// still running, and with backend.ErrClosed after Close.
func (b *Backend) available() error {
	if b.pool.closed.Load() {
		return backend.ErrClosed
	}
	if !b.status.Up() {
		return fmt.Errorf("%w: the token is being recovered after: %s", backend.ErrUnavailable, b.status.Reason())
	}
	if full, _ := b.calls.Full(); full {
		return fmt.Errorf("%w: %d calls to the token have not returned", backend.ErrUnavailable, b.calls.Abandoned())
	}
	return nil
}

// recoverOnce is one attempt of the recovery loop.
func (b *Backend) recoverOnce(ctx context.Context) error {
	b.status.AttemptStarted()
	err := b.reconnect(ctx)
	switch {
	case err == nil:
		b.status.Recovered()
		return nil
	case errors.Is(err, backend.ErrAuth):
		b.status.AttemptFailed(describe(err) + "; not retried, so as not to lock the token: reopen the backend")
		b.loop.Close() // nothing more to try: the backend stays down
		return nil
	}
	b.status.AttemptFailed(describe(err))
	return err
}

// reconnect resets the module if the failure was the module's, finds the
// token again and opens a logged-in session on it in a new pool
// generation.
func (b *Backend) reconnect(ctx context.Context) error {
	reset, finalize, seen := b.need.get()
	if reset {
		if err := b.mod.Reset(ctx, seen, finalize); err != nil {
			return err
		}
	}
	if !b.mod.Enter() {
		return errModuleResetting
	}
	gen := b.mod.Gen()
	slot, _, err := findSlot(b.p11, b.cfg)
	if err != nil {
		b.mod.Exit()
		if reset || outageOf(err) == moduleLost {
			// A module that failed may show the token only after another
			// reset (p11-kit's client connects in C_Initialize alone).
			b.need.note(moduleLost, gen, err)
		}
		return err
	}
	b.pool.slotID.Store(uint64(slot))
	b.pool.renew(b.pool.gen.Load())
	b.mod.Exit()

	// One session, opened and logged in, proves the token usable and logs
	// the user in again for every session after it.
	s, err := b.pool.get(ctx)
	if err != nil {
		if outageOf(err) == moduleLost {
			b.need.note(moduleLost, gen, err)
		}
		return err
	}
	b.pool.put(s)
	b.need.clear()
	return nil
}

// describe says what an outage or a failed recovery was, for
// [backend.Health]: a return code's name, or a fixed phrase — never the
// error's text, which can name the module's path or other tokens.
func describe(err error) string {
	switch {
	case errors.Is(err, ErrTokenNotFound):
		return "the token is not present"
	case errors.Is(err, module.ErrNotOwned):
		return "the module needs a reset, but another user in this process initialised it"
	case errors.Is(err, errModuleResetting):
		return "the module is being reset"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "a recovery attempt did not finish in time"
	case errors.Is(err, backend.ErrAuth):
		return "the token refused the PIN"
	}
	if c, ok := ckr(err); ok {
		name := pkcs11.Error(c).Error() // "pkcs11: 0x30: CKR_DEVICE_ERROR"
		if i := strings.LastIndex(name, ": "); i >= 0 {
			name = name[i+2:]
		}
		return name
	}
	return "unexpected error"
}

// Health reports whether the token answers (see [backend.HealthReporter]).
// It never calls the token.
func (b *Backend) Health() backend.Health {
	return b.status.Snapshot(b.calls, outage.DefaultBackoff.Attempt)
}

var _ backend.HealthReporter = (*Backend)(nil)
