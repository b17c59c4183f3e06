package tpm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
)

// maxAttempts bounds how often one operation is tried: once, and again
// after a reconnect or a TPM "retry" warning.
const maxAttempts = 3

// do runs op with exclusive use of the TPM. See [device.doLocked].
func (d *device) do(ctx context.Context, op func(t transport.TPM) error) error {
	if err := d.lock(ctx); err != nil {
		return err
	}
	defer d.unlock()
	return d.doLocked(ctx, op)
}

// doLocked runs op, recovering from a TPM that lost our objects: when op
// fails because the connection dropped (swtpm restarted), the TPM was not
// started (TPM_RC_INITIALIZE) or a handle we hold no longer exists (the TPM
// was reset), the device is marked stale, reconnected, its SRK re-created,
// and op run again; op reloads its key through [device.loaded]. op must be
// safe to run more than once. The caller holds the lock. A TPM that stays
// unreachable fails with backend.ErrUnavailable; a command that does not
// return leaves the caller at ctx's end (see device.run).
func (d *device) doLocked(ctx context.Context, op func(t transport.TPM) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		if d.closed.Load() {
			return backend.ErrClosed
		}
		var ok bool
		err, ok = d.run(ctx, func() error {
			wasStale := d.stale
			if err := d.reconnectIfStale(); err != nil {
				if wasStale {
					d.health.status.AttemptFailed(describeTPMErr(err))
				}
				return err
			}
			return op(d.tpm)
		}, func(err error) {
			if isTransportErr(err) || isLostObjectErr(err) {
				d.stale = true
			}
		})
		if !ok {
			return err // the command runs on, holding the TPM
		}
		if err == nil {
			if !d.health.status.Up() {
				d.health.status.Recovered()
			}
			return nil
		}
		if isRC(err, tpm2.TPMRCObjectMemory) && d.lru.len() > 0 {
			// TPM2_Create needs a free slot too: make one and try again
			// (bounded by the LRU's size, so not counted as an attempt).
			if old, ok := d.lru.evictOldest(); ok {
				flush(d.tpm, old.Handle)
			}
			attempt--
			continue
		}
		switch {
		case isTransportErr(err) || isLostObjectErr(err):
			d.stale = true
			d.health.status.Failed(describeTPMErr(err))
		case isRetryWarning(err):
			// The TPM asked to be asked again (self-test, yielded).
		default:
			return err
		}
		if attempt == maxAttempts || ctx.Err() != nil {
			if d.stale {
				return fmt.Errorf("%w: %w", backend.ErrUnavailable, err)
			}
			return err
		}
		if isRetryWarning(err) {
			select {
			case <-time.After(time.Duration(attempt) * 20 * time.Millisecond):
			case <-ctx.Done():
				return err
			}
		}
	}
}

// reconnectIfStale re-establishes the device after a failure that lost
// the TPM's transient objects: it redials (swtpm, device node), starts the
// TPM if it needs TPM2_Startup, flushes leftovers where no resource
// manager does, and re-creates the SRK. Keys reload on demand.
func (d *device) reconnectIfStale() error {
	if !d.stale {
		return nil
	}
	// Whatever we had loaded is gone or about to be flushed below.
	d.lru.drain()
	d.dropDecryptSession()
	if d.kind != kindSimulator {
		// Closing a /dev/tpmrm0 file makes the kernel flush our objects; a
		// swtpm connection is per command, so this only forgets it.
		_ = d.tpm.Close()
		t, err := d.openTransport()
		if err != nil {
			return err
		}
		d.tpm = t
	}
	if !d.hasResourceManager() {
		err := flushTransients(d.tpm)
		if isRC(err, tpm2.TPMRCInitialize) {
			if err = startup(d.tpm); err == nil {
				err = flushTransients(d.tpm)
			}
		}
		if err != nil {
			return err
		}
	}
	srk, srkPub, err := createSRK(d.tpm, d.ownerAuth)
	if isRC(err, tpm2.TPMRCInitialize) {
		if err = startup(d.tpm); err == nil {
			srk, srkPub, err = createSRK(d.tpm, d.ownerAuth)
		}
	}
	if err != nil {
		return err
	}
	if !sameName(srk.Name, d.srk.Name) {
		// Every backend on this device checked the SRK against its key
		// directory's pin when it opened: a TPM that comes back with
		// another SRK is not the one they trusted (another TPM behind the
		// same path, a cleared one, or someone on the bus).
		flush(d.tpm, srk.Handle)
		return fmt.Errorf("the TPM came back with another storage root key: %w", ErrSRKMismatch)
	}
	d.srk, d.srkPub = srk, srkPub
	d.stale = false
	return nil
}

// isRC reports whether err is the TPM response code rc, ignoring which
// handle, parameter or session a format-1 code points at.
func isRC(err error, rc tpm2.TPMRC) bool {
	return err != nil && errors.Is(err, rc)
}

// isTPMErr reports whether err came from the TPM (a response code) rather
// than from the path to it.
func isTPMErr(err error) bool {
	var rc tpm2.TPMRC
	return errors.As(err, &rc)
}

// isTransportErr reports whether err is a failure to talk to the TPM at
// all: a refused or reset socket, a closed device.
func isTransportErr(err error) bool {
	if err == nil || isTPMErr(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var be *backend.Error
	return !errors.As(err, &be) && !errors.Is(err, backend.ErrInvalidInput) &&
		!errors.Is(err, backend.ErrUnsupported) && !errors.Is(err, backend.ErrCorrupt) && !errors.Is(err, backend.ErrAuth) &&
		!errors.Is(err, ErrSRKMismatch)
}

// isLostObjectErr reports whether the TPM says a handle we sent does not
// exist or it needs starting: both mean it was reset or restarted.
func isLostObjectErr(err error) bool {
	if isRC(err, tpm2.TPMRCInitialize) || isRC(err, tpm2.TPMRCHandle) {
		return true
	}
	for _, rc := range []tpm2.TPMRC{
		tpm2.TPMRCReferenceH0, tpm2.TPMRCReferenceH1, tpm2.TPMRCReferenceH2,
		// a session we keep open (see decryptSession) is gone too
		tpm2.TPMRCReferenceS0, tpm2.TPMRCReferenceS1, tpm2.TPMRCReferenceS2,
	} {
		if isRC(err, rc) {
			return true
		}
	}
	return false
}

// isRetryWarning reports whether the TPM asked for the command again.
func isRetryWarning(err error) bool {
	return isRC(err, tpm2.TPMRCRetry) || isRC(err, tpm2.TPMRCYielded) || isRC(err, tpm2.TPMRCTesting)
}
