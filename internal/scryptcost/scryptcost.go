// Package scryptcost holds the scrypt work factor new software keystores
// stretch their passphrase with. It is internal so that nothing outside this
// module can lower it: a production URI or program cannot weaken a new
// keystore, while this module's own tests (which create hundreds of stores)
// use [SetForTests].
package scryptcost

import "sync/atomic"

// Default is the work factor (log2 of N, as in age, whose default it is):
// N = 2^18 with r = 8, so 256 MiB of memory and on the order of a second of
// one core, once per open of a store.
const Default = 18

// Min is the lowest work factor [SetForTests] accepts.
const Min = 10

var factor atomic.Int32

func init() { factor.Store(Default) }

// WorkFactor returns the work factor for a keystore being created now.
func WorkFactor() int { return int(factor.Load()) }

// SetForTests sets the work factor for keystores created from now on,
// clamped to at least [Min], and returns a function that restores the
// previous one. Only tests call it.
func SetForTests(n int) (restore func()) {
	old := factor.Swap(int32(max(n, Min)))
	return func() { factor.Store(old) }
}
