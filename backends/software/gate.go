package software

import (
	"sync/atomic"
	"time"
)

// gate admits operations on a key until it is shut, and lets the shutter
// wait for the admitted ones to finish before the key is wiped. It is one
// atomic word, so the signing hot path takes no mutex: the low bits count
// operations in flight, gateShut marks the gate shut.
type gate struct{ n atomic.Int64 }

const gateShut = 1 << 62

// enter admits an operation, or reports false once the gate is shut.
func (g *gate) enter() bool {
	if g.n.Add(1) >= gateShut {
		g.n.Add(-1)
		return false
	}
	return true
}

// leave ends an operation admitted by enter.
func (g *gate) leave() { g.n.Add(-1) }

// drainTimeout bounds how long shut waits. Software operations finish in
// milliseconds; only a caller's rand reader that blocks can hold one longer.
const drainTimeout = 5 * time.Second

// shut refuses new operations and waits up to drainTimeout for those in
// flight. It reports whether they all finished, that is whether the key may
// be wiped now.
func (g *gate) shut() bool {
	g.n.Or(gateShut)
	deadline := time.Now().Add(drainTimeout)
	for pause := 10 * time.Microsecond; g.n.Load() != gateShut; pause = min(2*pause, time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
	}
	return true
}
