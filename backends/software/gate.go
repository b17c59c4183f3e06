package software

import (
	"sync"
	"sync/atomic"
)

// gate admits operations on a key until it is shut, and runs idle once the
// gate is shut and the last admitted operation has left, so the key is
// wiped exactly when nothing uses it any more. It is one atomic word on the
// signing hot path: no mutex, no sleeping. The low bits count operations in
// flight; gateShut marks the gate shut.
type gate struct {
	n    atomic.Int64
	once sync.Once
	idle func() // set before the gate is used
}

const gateShut = 1 << 62

// enter admits an operation, or reports false once the gate is shut.
func (g *gate) enter() bool {
	if g.n.Add(1) >= gateShut {
		g.leave()
		return false
	}
	return true
}

// leave ends an operation admitted by enter (and undoes a refused enter).
func (g *gate) leave() {
	if g.n.Add(-1) == gateShut {
		g.once.Do(g.idle)
	}
}

// shut refuses new operations. idle runs now if none is in flight, else
// when the last one leaves. shut never blocks; calling it again does
// nothing.
func (g *gate) shut() {
	if g.n.Or(gateShut) == 0 {
		g.once.Do(g.idle)
	}
}
