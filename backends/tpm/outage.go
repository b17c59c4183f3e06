package tpm

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/outage"
)

// How a TPM backend lives through its TPM going away (swtpm killed, a
// device node gone) or hanging (swtpm stopped, a TPM that does not answer).
//
// A TPM command runs on a goroutine of its own (outage.Calls), so its
// caller leaves at its context's end even when the TPM does not answer;
// the abandoned command keeps the TPM — the device's sem — until it
// returns, so no other command is ever sent over a connection whose
// answer is still pending, and the device is marked stale (reconnected
// before the next command) when it fails. At most one command per TPM
// can be abandoned so; while it runs, operations fail at once with
// backend.ErrUnavailable.
//
// A TPM that cannot be reached fails operations with
// backend.ErrUnavailable. Reconnecting is done on demand, by the next
// operation, one at a time per TPM (under sem) and at most twice per
// operation (maxAttempts): unlike a PKCS #11 module, which C_Initialize
// can keep busy for seconds, a TPM that is gone refuses the dial at once,
// so no background loop or backoff is needed to keep callers fast, and a
// TPM that is back is used by the very next operation.

// hangAfter is how long a recovery may run before health says down.
const hangAfter = 10 * time.Second

// health is a device's outage state; see the comment above.
type health struct {
	status outage.Status
	calls  *outage.Calls // limit 1: full while an abandoned command holds the TPM

	// pending (guarded by the device's sem), when set, is the release count shared between the caller
	// that holds sem and the abandoned command it left running: sem is
	// given back by whichever of the two is last.
	pending *atomic.Int32
}

func newHealth() health { return health{calls: outage.NewCalls(1)} }

// errHung refuses a command while an abandoned one holds the TPM.
var errHung = fmt.Errorf("%w: a command to the TPM has not returned", backend.ErrUnavailable)

// run runs fn — the TPM commands of one attempt — where the caller can
// leave at ctx's end. The caller holds sem. When fn returns first, run
// returns its error and ok is true. When the caller leaves first, run
// returns ctx's error and ok is false, and sem stays with fn until both
// fn has returned and the caller has unlocked; late runs on fn's
// goroutine after fn returns, with sem still held.
func (d *device) run(ctx context.Context, fn func() error, late func(error)) (err error, ok bool) {
	rel := new(atomic.Int32)
	rel.Store(2)
	err, ok = d.health.calls.Run(ctx, fn, func(err error) {
		if late != nil {
			late(err)
		}
		if rel.Add(-1) == 0 {
			<-d.sem
		}
	})
	if ok {
		return err, true
	}
	d.health.pending = rel
	d.health.status.Failed("a TPM command did not return in time")
	return fmt.Errorf("the TPM did not answer in time; the command goes on in the background: %w", err), false
}

// describeTPMErr names an outage for backend.Health: a fixed phrase, never
// the error's text, which names the socket or device path.
func describeTPMErr(err error) string {
	switch {
	case isLostObjectErr(err):
		return "the TPM was reset or restarted"
	case isTransportErr(err):
		return "the TPM cannot be reached"
	}
	return "the TPM failed"
}

// Health reports whether the backend's TPM answers (see
// [backend.HealthReporter]). It never calls the TPM. Backends on the same
// TPM report the same health.
func (b *Backend) Health() backend.Health {
	return b.dev.health.status.Snapshot(b.dev.health.calls, hangAfter)
}

var _ backend.HealthReporter = (*Backend)(nil)
