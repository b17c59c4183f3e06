//go:build cgo

package module

import (
	"context"
	"sync/atomic"
)

// gate counts the calls in flight on a module and, while a reset holds it
// closed, turns new ones away: PKCS #11 leaves C_Finalize undefined while
// other threads of the application are in calls, so a reset first waits
// for every call to leave, and callers meanwhile fail fast instead of
// queueing behind a reset that may itself wait on a hung call.
//
// The hot path, enter and exit, is one atomic add each.
type gate struct {
	n       atomic.Int64  // calls in flight, plus closedBit while closed
	drained chan struct{} // capacity 1: the last call out of a closed gate says so
}

const closedBit = 1 << 40

func newGate() gate { return gate{drained: make(chan struct{}, 1)} }

// enter admits a call, or reports false while the gate is closed.
func (g *gate) enter() bool {
	if g.n.Add(1) >= closedBit {
		g.exit()
		return false
	}
	return true
}

// exit ends a call that enter admitted.
func (g *gate) exit() {
	if g.n.Add(-1) == closedBit {
		select {
		case g.drained <- struct{}{}:
		default:
		}
	}
}

// close turns new calls away and waits, while ctx allows, until no call
// is in flight. When ctx ends first the gate is open again and close
// returns ctx's error. One closer at a time (the module's turn).
func (g *gate) close(ctx context.Context) error {
	select {
	case <-g.drained: // a stale signal from an earlier close
	default:
	}
	if g.n.Add(closedBit) == closedBit {
		return nil
	}
	for {
		select {
		case <-g.drained:
			// enter's refusals can signal too: check the count.
			if g.n.Load() == closedBit {
				return nil
			}
		case <-ctx.Done():
			g.open()
			return ctx.Err()
		}
	}
}

// open admits calls again after close.
func (g *gate) open() { g.n.Add(-closedBit) }

// inFlight returns the number of calls in flight.
func (g *gate) inFlight() int64 { return g.n.Load() % closedBit }
