package tpm

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/linuxudstpm"

	"github.com/cryptoplug/cryptoplug/backend"
)

// device is one TPM as seen from this process. Backends opened on the same
// TPM (the same device node, socket or the simulator) share one device, for
// three reasons: a TPM runs one command at a time; its few transient object
// slots must be budgeted in one place; and the leaked-object cleanup done
// when a device is first connected would otherwise flush the objects of
// another backend in this process.
//
// Every field below sem is guarded by it: a goroutine holds sem for the
// duration of one TPM command (or a short command sequence such as
// load-then-sign) and never while doing Go-side work.
type device struct {
	key  string // registry key
	kind transportKind
	path string

	refs int         // guarded by slot.turn
	slot *deviceSlot // the slot this device sits in

	caps tpmCaps // set at connect, read-only afterwards

	sem chan struct{}

	tpm       transport.TPMCloser
	srk       tpm2.AuthHandle // the storage root key, loaded
	srkPub    tpm2.TPMTPublic // its public area: the salt and import-wrapping key
	ownerAuth []byte          // last owner auth that created the SRK
	lru       *lru
	ek        *endorsement // read at the first attestation; the EK and its certificate do not change

	decSession      tpm2.Session // shared salted session for decryptions (see decryptSession)
	decSessionClose func() error
	stale           bool        // the TPM lost our objects or the connection: reconnect before the next command
	closed          atomic.Bool // set by the last release; read without sem

	health health // outages; see outage.go
}

// devices is the process-wide table of TPMs. It is global because the TPM
// itself is: two backends on one TPM must cooperate. Its mutex guards only
// the map; connecting, checking owner auth and closing happen under the
// slot of that one TPM, so a slow or hung TPM never holds up the Open or
// Close of a backend on another.
var devices = struct {
	sync.Mutex
	m map[string]*deviceSlot
}{m: map[string]*deviceSlot{}}

// deviceSlot serialises the connect, owner-auth check and close of one
// TPM. turn is a one-slot channel used as a mutex that a context can give
// up on; d is the connected device, nil when none is.
type deviceSlot struct {
	turn chan struct{}
	d    *device // guarded by turn
}

func deviceKey(c config) string {
	if c.kind == kindSimulator {
		return "simulator"
	}
	return c.kind.String() + ":" + c.path
}

// slotFor returns the slot of the TPM named by key, creating it.
func slotFor(key string) *deviceSlot {
	devices.Lock()
	defer devices.Unlock()
	sl, ok := devices.m[key]
	if !ok {
		sl = &deviceSlot{turn: make(chan struct{}, 1)}
		devices.m[key] = sl
	}
	return sl
}

// acquireDevice returns the shared device for c, connecting to it if this
// is its first user, and checks ownerAuth by deriving the SRK with it. It
// gives up when ctx is done while another Open or Close of the same TPM is
// in progress.
func acquireDevice(ctx context.Context, c config, ownerAuth []byte) (*device, error) {
	key := deviceKey(c)
	sl := slotFor(key)
	select {
	case sl.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for another open or close of %s: %w", key, ctx.Err())
	}
	defer func() { <-sl.turn }()
	if d := sl.d; d != nil {
		if err := d.checkOwnerAuth(ctx, ownerAuth); err != nil {
			return nil, err
		}
		d.refs++
		return d, nil
	}
	d := &device{key: key, kind: c.kind, path: c.path, sem: make(chan struct{}, 1), slot: sl, health: newHealth()}
	if err := d.connect(ownerAuth); err != nil {
		return nil, err
	}
	d.refs = 1
	sl.d = d
	return d, nil
}

// releaseWait bounds how long the last release waits for a command in
// flight before it closes the connection under it.
const releaseWait = backend.DefaultTimeout

// release drops one reference; the last one flushes every object this
// process loaded and closes the connection. It waits at most releaseWait
// for a command in flight on this TPM, and never for any other TPM.
func (d *device) release() error {
	sl := d.slot
	sl.turn <- struct{}{}
	defer func() { <-sl.turn }()
	d.refs--
	if d.refs > 0 {
		return nil
	}
	sl.d = nil
	timer := time.NewTimer(releaseWait)
	defer timer.Stop()
	select {
	case d.sem <- struct{}{}:
		defer func() { <-d.sem }()
		d.closed.Store(true)
		if !d.stale {
			d.dropDecryptSession()
			for _, h := range d.lru.drain() {
				flush(d.tpm, h.Handle)
			}
			flush(d.tpm, d.srk.Handle)
		}
	case <-timer.C:
		// A command has held the TPM for longer than any should: close
		// the connection under it, which fails it, rather than hang; the
		// closed mark keeps its retry from reconnecting.
		d.closed.Store(true)
	}
	return d.tpm.Close()
}

// openTransport dials the TPM named by d.kind and d.path.
func (d *device) openTransport() (transport.TPMCloser, error) {
	switch d.kind {
	case kindDevice:
		t, err := linuxtpm.Open(d.path)
		if err != nil {
			return nil, fmt.Errorf("open TPM device %s: %w", d.path, err)
		}
		return t, nil
	case kindSwtpm:
		t, err := linuxudstpm.Open(d.path)
		if err != nil {
			return nil, fmt.Errorf("open swtpm socket %s (is swtpm running?): %w", d.path, err)
		}
		return t, nil
	case kindSimulator:
		return openSimulator()
	}
	return nil, fmt.Errorf("unknown TPM transport: %w", backend.ErrInvalidInput)
}

// hasResourceManager reports whether something outside this process
// isolates our transient objects (the kernel's /dev/tpmrmN). Where nothing
// does, objects leaked by an earlier crash stay loaded and are flushed at
// connect.
func (d *device) hasResourceManager() bool {
	return d.kind == kindDevice && strings.HasPrefix(filepath.Base(d.path), "tpmrm")
}

// connect opens the transport, starts the TPM if needed, flushes leaked
// transient objects where no resource manager does it, reads the TPM's
// capabilities and creates the SRK.
func (d *device) connect(ownerAuth []byte) error {
	t, err := d.openTransport()
	if err != nil {
		return err
	}
	d.tpm = t
	caps, err := readCaps(t)
	if isRC(err, tpm2.TPMRCInitialize) {
		if err = startup(t); err == nil {
			caps, err = readCaps(t)
		}
	}
	if err != nil {
		t.Close()
		return err
	}
	d.caps = caps
	if !d.hasResourceManager() {
		if err := flushTransients(t); err != nil {
			t.Close()
			return err
		}
	}
	d.lru = newLRU(caps.keySlots())
	srk, srkPub, err := createSRK(t, ownerAuth)
	if err != nil {
		t.Close()
		return err
	}
	d.srk, d.srkPub, d.ownerAuth = srk, srkPub, ownerAuth
	return nil
}

// lock takes exclusive use of the TPM, giving up when ctx is done first,
// and at once, with backend.ErrUnavailable, while a command whose caller
// left still runs (see outage.go).
func (d *device) lock(ctx context.Context) error {
	if full, _ := d.health.calls.Full(); full {
		return errHung
	}
	select {
	case d.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unlock gives back the TPM. After a command was abandoned, the TPM goes
// back only once that command has returned too (see device.run).
func (d *device) unlock() {
	if p := d.health.pending; p != nil {
		d.health.pending = nil
		if p.Add(-1) == 0 {
			<-d.sem
		}
		return
	}
	<-d.sem
}

// checkOwnerAuth derives the SRK with ownerAuth, which the TPM refuses
// when the auth is wrong, and flushes the copy: the device keeps one SRK.
func (d *device) checkOwnerAuth(ctx context.Context, ownerAuth []byte) error {
	return d.do(ctx, func(t transport.TPM) error {
		srk, _, err := createSRK(t, ownerAuth)
		if err != nil {
			return err
		}
		flush(t, srk.Handle)
		d.ownerAuth = ownerAuth
		return nil
	})
}

// flush evicts a transient object, ignoring errors: the object may already
// be gone, which is what flushing wants.
func flush(t transport.TPM, h tpm2.TPMHandle) {
	_, _ = tpm2.FlushContext{FlushHandle: h}.Execute(t)
}

// flushTransients flushes every transient object and session loaded in
// the TPM: on a TPM without a resource manager these are leftovers of a
// process that died before flushing them (such as the salted session kept
// for decryptions).
func flushTransients(t transport.TPM) error {
	for _, ht := range []tpm2.TPMHT{tpm2.TPMHTTransient, tpm2.TPMHTHMACSession, tpm2.TPMHTPolicySession} {
		if err := flushAll(t, ht); err != nil {
			return err
		}
	}
	return nil
}

// flushAll flushes every handle of type ht.
func flushAll(t transport.TPM, ht tpm2.TPMHT) error {
	for {
		rsp, err := tpm2.GetCapability{
			Capability:    tpm2.TPMCapHandles,
			Property:      uint32(ht) << 24,
			PropertyCount: 64,
		}.Execute(t)
		if err != nil {
			return fmt.Errorf("list leaked handles: %w", err)
		}
		hs, err := rsp.CapabilityData.Data.Handles()
		if err != nil {
			return fmt.Errorf("list leaked handles: %w", err)
		}
		n := 0
		for _, h := range hs.Handle {
			if uint32(h)>>24 != uint32(ht) {
				continue
			}
			n++
			if _, err := (tpm2.FlushContext{FlushHandle: h}).Execute(t); err != nil {
				return fmt.Errorf("flush leaked handle %#x: %w", uint32(h), err)
			}
		}
		if n == 0 {
			return nil
		}
	}
}

// startup sends TPM2_Startup(CLEAR) to a TPM that answered a command with
// TPM_RC_INITIALIZE: a swtpm run without --flags startup-clear, or one that
// was just power-cycled. If something else started it meanwhile, the TPM
// answers TPM_RC_INITIALIZE again, which is fine.
func startup(t transport.TPM) error {
	_, err := tpm2.Startup{StartupType: tpm2.TPMSUClear}.Execute(t)
	if err == nil || isRC(err, tpm2.TPMRCInitialize) {
		return nil
	}
	return fmt.Errorf("TPM2_Startup: %w", err)
}
