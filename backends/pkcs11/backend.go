//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/internal/module"
	"github.com/cryptoplug/cryptoplug/internal/outage"
	"github.com/miekg/pkcs11"
)

// Backend is a PKCS #11 token as a [backend.Backend]. It also implements
// [backend.Importer]. It is safe for concurrent use; obtain one with
// [Open] or [backend.Open].
type Backend struct {
	cfg  *Config
	name string // "pkcs11:token=LABEL", for errors
	mod  *module.Module
	p11  *pkcs11.Ctx
	pool *pool

	info  backend.Info
	caps  backend.Capabilities
	mechs map[uint]pkcs11.MechanismInfo

	// edParamsIgnored is set once the token returned a pure EdDSA
	// signature for a request with CK_EDDSA_PARAMS.
	edParamsIgnored atomic.Bool
	// quirks are deviations of this token learned from its behaviour
	// (see quirks.go).
	quirks quirks

	createMu sync.Mutex // serialises the label check and creation of keys

	// Outages (see recovery.go).
	calls  *outage.Calls // calls to the token; abandoned ones bounded by the pool's size
	status outage.Status
	loop   *outage.Loop
	need   recoveryNeed

	closeOnce sync.Once
}

var (
	_ backend.Backend  = (*Backend)(nil)
	_ backend.Importer = (*Backend)(nil)
)

func open(ctx context.Context, uri string) (backend.Backend, error) { return Open(ctx, uri) }

// Open loads the module named by uri (see [ParseConfig] for the format),
// finds the token, logs in with the URI's PIN and returns the backend. The
// module is shared with every other user in the process; once loaded and
// initialised it stays so until the process exits, because many modules
// cannot be finalised and initialised again in one process.
//
// Open's calls into the module are bounded by ctx (by the URI's timeout
// when ctx has no deadline): a module that hangs fails Open with the
// context's error, and what it was doing is undone in the background when
// it returns.
//
// Errors are [*backend.Error]s naming the redacted URI, the module and the
// token, never the PIN: [ErrModuleLoad] when the library cannot be loaded,
// [ErrTokenNotFound] when no single token matches, [backend.ErrAuth] when
// the token refuses the PIN, [backend.ErrInvalidInput] for a malformed URI.
func Open(ctx context.Context, uri string) (*Backend, error) {
	fail := func(name string, err error) (*Backend, error) {
		return nil, &backend.Error{Op: "open", Backend: name, Err: err}
	}
	cfg, err := ParseConfig(uri)
	if err != nil {
		return fail(backend.RedactURI(uri), err)
	}
	name := cfg.Redacted()
	if err := ctx.Err(); err != nil {
		return fail(name, err)
	}
	pin, hasPIN, err := cfg.PIN()
	if err != nil {
		return fail(name, err)
	}
	if !hasPIN {
		pin = nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	mod, err := module.Open(ctx, cfg.ModulePath)
	switch {
	case errors.Is(err, module.ErrLoad):
		return fail(name, fmt.Errorf("%w (%s): %w", ErrModuleLoad, err, backend.ErrInvalidInput))
	case err != nil:
		return fail(name, fmt.Errorf("%w: %w", backend.ErrUnavailable, err))
	}
	b := &Backend{cfg: cfg, name: name, mod: mod, p11: mod.Ctx}
	b.loop = outage.NewLoop(b.recoverOnce, outage.DefaultBackoff)
	err, ok := outage.NewCalls(1).Run(ctx, func() error { return b.init(ctx, pin) }, func(err error) {
		if err == nil {
			b.Close()
		} else {
			mod.Release()
		}
	})
	if !ok {
		return fail(name, fmt.Errorf("module %s, %s: the module did not answer in time: %w: %w", cfg.ModulePath, cfg.TokenName(), backend.ErrUnavailable, err))
	}
	if err != nil {
		mod.Release()
		return fail(name, fmt.Errorf("module %s, %s: %w", cfg.ModulePath, cfg.TokenName(), err))
	}
	return b, nil
}

func (b *Backend) init(ctx context.Context, pin backend.Secret) error {
	if !b.mod.Enter() {
		return fmt.Errorf("%w: %w", backend.ErrUnavailable, errModuleResetting)
	}
	gen := b.mod.Gen()
	slot, ti, err := findSlot(b.p11, b.cfg)
	if err != nil && b.mod.Owned() && (outageOf(err) == moduleLost || errors.Is(err, ErrTokenNotFound) && b.mod.Users() == 1) {
		// The module's connection to its device may have broken before
		// this Open, while no backend used it: p11-kit's client, after
		// its server restarted, answers CKR_DEVICE_ERROR or lists no
		// token until it is initialised again. Reset it once, as a
		// recovery would — for a missing token only when no other
		// backend in the process uses the module, whose sessions a reset
		// would end for nothing.
		b.mod.Exit()
		c, _ := ckr(err)
		if rerr := b.mod.Reset(ctx, gen, c != pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED); rerr != nil {
			return fmt.Errorf("%w; resetting the module: %w", err, rerr)
		}
		if !b.mod.Enter() {
			return fmt.Errorf("%w: %w", backend.ErrUnavailable, errModuleResetting)
		}
		slot, ti, err = findSlot(b.p11, b.cfg)
	}
	if err != nil {
		b.mod.Exit()
		return err
	}
	// Operation errors name the token, shorter than the whole URI.
	b.name = Scheme + ":token=" + tokenString(ti.Label)
	b.info = backend.Info{
		Name:         Scheme,
		Kind:         "hsm",
		URI:          b.cfg.Redacted(),
		Manufacturer: tokenString(ti.ManufacturerID),
		Model:        tokenString(ti.Model),
		Firmware:     fmt.Sprintf("%d.%d", ti.FirmwareVersion.Major, ti.FirmwareVersion.Minor),
		Persistent:   true,
	}
	b.caps, b.mechs, err = readCapabilities(b.p11, slot)
	b.mod.Exit()
	if err != nil {
		return err
	}
	b.pool = newPool(b.mod, slot, pin, poolSize(b.cfg.MaxSessions, ti))
	b.calls = outage.NewCalls(b.pool.max)
	// Open and log in the first session now, so a wrong PIN fails Open.
	s, err := b.pool.get(context.Background())
	if err != nil {
		b.pool.close(0)
		return err
	}
	if err := b.probeImport(s, b.caps); err != nil {
		b.pool.discard(s)
		b.pool.close(0)
		return err
	}
	b.pool.put(s)
	return nil
}

// poolSize bounds the configured size by what the token allows.
func poolSize(want int, ti pkcs11.TokenInfo) int {
	for _, limit := range []uint{ti.MaxSessionCount, ti.MaxRwSessionCount} {
		if limit != pkcs11.CK_EFFECTIVELY_INFINITE && limit != pkcs11.CK_UNAVAILABLE_INFORMATION && limit < uint(want) {
			want = max(int(limit), 1)
		}
	}
	return want
}

// findSlot returns the one slot whose token matches cfg.
func findSlot(p11 *pkcs11.Ctx, cfg *Config) (uint, pkcs11.TokenInfo, error) {
	slots, err := p11.GetSlotList(true)
	if err != nil {
		return 0, pkcs11.TokenInfo{}, fmt.Errorf("C_GetSlotList: %w", err)
	}
	var (
		found []uint
		info  pkcs11.TokenInfo
		seen  []string
	)
	for _, slot := range slots {
		ti, err := p11.GetTokenInfo(slot)
		if err != nil {
			continue // a slot whose token went away between the calls
		}
		if ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED != 0 {
			seen = append(seen, fmt.Sprintf("%q", tokenString(ti.Label)))
		}
		if cfg.HasSlotID && slot != cfg.SlotID ||
			cfg.Token != "" && tokenString(ti.Label) != cfg.Token ||
			cfg.Serial != "" && tokenString(ti.SerialNumber) != cfg.Serial ||
			cfg.Manufacturer != "" && tokenString(ti.ManufacturerID) != cfg.Manufacturer ||
			cfg.Model != "" && tokenString(ti.Model) != cfg.Model {
			continue
		}
		found = append(found, slot)
		info = ti
	}
	switch len(found) {
	case 1:
		return found[0], info, nil
	case 0:
		return 0, info, fmt.Errorf("%w: no token matches (tokens present: %s): %w", ErrTokenNotFound, listOrNone(seen), backend.ErrInvalidInput)
	default:
		return 0, info, fmt.Errorf("%w: %d tokens match; add serial= or slot-id= to choose one: %w", ErrTokenNotFound, len(found), backend.ErrInvalidInput)
	}
}

// tokenString trims a C_GetTokenInfo text field: PKCS #11 pads them with
// blanks, some tokens (tpm2-pkcs11 1.9) with NUL bytes.
func tokenString(s string) string { return strings.TrimRight(s, " \x00") }

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// Info describes the token: Manufacturer, Model and Firmware come from
// C_GetTokenInfo. It never fails, also after Close.
func (b *Backend) Info() backend.Info { return b.info }

// Capabilities reports what the token's mechanism list allows (see the
// package documentation). The map is a fresh copy.
func (b *Backend) Capabilities() backend.Capabilities {
	out := make(backend.Capabilities, len(b.caps))
	for a, o := range b.caps {
		out[a] = o
	}
	return out
}

// Close closes the backend's sessions, waiting for operations in flight
// at most the URI's timeout (a call the token does not answer closes its
// session when it returns), stops the recovery of an outage, and drops its
// reference to the module, which stays loaded and initialised for the
// next Open. It never logs the user out, since login state is shared with
// other users of the same token in the process. It is idempotent and
// always returns nil.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.loop.Close()
		b.pool.close(b.cfg.Timeout)
		b.mod.Release()
	})
	return nil
}

// check fails with ErrClosed after Close and with the context's error.
func (b *Backend) check(ctx context.Context, op, key string) error {
	if err := b.usable(); err != nil {
		return backend.Errorf(op, b.name, key, err)
	}
	return backend.ContextErr(ctx, op, b.name, key)
}

// usable fails with ErrClosed after Close.
func (b *Backend) usable() error {
	if b.pool.closed.Load() {
		return backend.ErrClosed
	}
	return nil
}

// openSessions reports how many sessions the backend holds open. For tests.
func (b *Backend) openSessions() int { return int(b.pool.open.Load()) }
