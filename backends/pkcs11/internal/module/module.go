//go:build cgo

// Package module is the process-wide cache of loaded PKCS #11 modules.
//
// A PKCS #11 module is per process: a second dlopen of the same library
// shares its state, C_Initialize then returns CKR_CRYPTOKI_ALREADY_INITIALIZED
// and C_Finalize ends every user's sessions. Many modules are also not safe
// to finalise, unload and load again in one process: opencryptoki 3.8 dies
// with SIGSEGV in the second C_Initialize. So a library is loaded once per
// process and never unloaded: [Open] loads it (or finds it loaded) and
// initialises it if needed, [Module.Release] only drops a reference.
// Nothing here ever calls dlclose.
//
// The one exception to "initialised until the process exits" is
// [Module.Reset], the cure for a module whose connection to its device
// broke (p11-kit's client module keeps a broken connection to its server
// until it is finalised and initialised again): C_Finalize and
// C_Initialize in the same loaded library, which SoftHSM2, opencryptoki
// 3.8, tpm2-pkcs11 1.9 and p11-kit's client survive (the package's tests
// prove it on each). Reset runs only on a library this process
// initialised itself ([Module.Owned]): one that another user in the
// process initialised stays theirs to finalise. A reset ends every
// session of every user of the module; [Module.Gen] tells them.
//
// On Linux a library is loaded with RTLD_DEEPBIND, so that its calls to its
// own functions stay its own even when another module has put functions
// of the same name in the process's global scope (opencryptoki 3.8 loads
// its token libraries RTLD_GLOBAL; its soft token's object_create would
// otherwise run in place of tpm2-pkcs11's).
package module

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/pkcs11"
)

var (
	// ErrLoad means the library could not be loaded or initialised.
	ErrLoad = errors.New("PKCS #11 module cannot be loaded")
	// ErrNotOwned means a reset was refused because another user in the
	// process initialised the module.
	ErrNotOwned = errors.New("another user in this process initialised the PKCS #11 module, so cryptoplug does not finalise it under them")
)

// Module is one loaded PKCS #11 library, shared by every user in the
// process. Ctx is safe for concurrent use (the library is initialised with
// CKF_OS_LOCKING_OK); every call through it must be bracketed by
// [Module.Enter] and [Module.Exit], so that [Module.Reset] never finalises
// the library under a call.
type Module struct {
	Path string
	Ctx  *pkcs11.Ctx

	// Sessions serialises the calls that change the library's table of
	// sessions: C_OpenSession, C_Login right after it, and C_CloseSession.
	// Not every library locks that table itself: tpm2-pkcs11 1.9 adds and
	// removes entries without its token lock, so two sessions opened at
	// once can be handed the same handle, and two goroutines then drive
	// one session (seen as CKR_OPERATION_ACTIVE and
	// CKR_OPERATION_NOT_INITIALIZED under concurrent load). Sessions are
	// pooled, so these calls are rare and the lock costs the hot path
	// nothing.
	Sessions sync.Mutex

	// Objects counts the objects this process created or destroyed on
	// the library's tokens. Tokens may give a destroyed object's handle
	// to the next object made (opencryptoki and tpm2-pkcs11 do), so a
	// key holding a handle from before the count moved checks it again
	// before use: otherwise a handle of a deleted key would sign with
	// the key created after it.
	Objects atomic.Uint64

	refs int // guarded by cache.Mutex

	gate gate
	gen  atomic.Uint64 // bumped by every C_Initialize that initialised the library

	// turn serialises C_Initialize and C_Finalize (Open, Reset); a
	// one-slot channel, so that a waiter can give up with its context.
	turn  chan struct{}
	owned atomic.Bool // written under turn: the last C_Initialize was ours and succeeded
	// initialized is false after Reset's C_Finalize until a C_Initialize
	// succeeds: a Reset whose C_Initialize failed (the server still down)
	// does not finalise again on its next try. Written under turn.
	initialized atomic.Bool
}

var cache = struct {
	sync.Mutex
	m map[string]*Module
}{m: map[string]*Module{}}

// Open returns the library at path, loaded and initialised, with one more
// reference. The first Open of a path loads it; every Open calls
// C_Initialize, which an initialised library answers with
// CKR_CRYPTOKI_ALREADY_INITIALIZED, so a library another user in the
// process finalised meanwhile (crypto11 does, on Close) is initialised
// again, and one whose C_Initialize failed stays loaded to be tried again:
// no library is ever unloaded. A C_Initialize that does not return (a
// module whose server hangs) holds Open only while ctx allows. Errors wrap
// [ErrLoad] and name the path, or are ctx's. Open is safe for concurrent
// use.
func Open(ctx context.Context, path string) (*Module, error) {
	m, err := load(filepath.Clean(path))
	if err != nil {
		return nil, err
	}
	if err := m.take(ctx); err != nil {
		return nil, fmt.Errorf("%s: waiting for another initialisation of the module: %w", m.Path, err)
	}
	done := make(chan error, 1)
	go func() {
		// The turn is held until C_Initialize returns, however long.
		defer m.give()
		done <- m.initialize()
	}()
	select {
	case err = <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: C_Initialize did not return: %w", m.Path, ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLoad, err)
	}
	cache.Lock()
	m.refs++
	cache.Unlock()
	return m, nil
}

// load returns the cached module for the cleaned path key, loading it.
func load(key string) (*Module, error) {
	cache.Lock()
	defer cache.Unlock()
	if m, ok := cache.m[key]; ok {
		return m, nil
	}
	if _, err := os.Stat(key); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrLoad, key, unwrapPathError(err))
	}
	if err := loadPrivately(key); err != nil {
		msg := err.Error() // dlerror, which names the file on glibc
		if !strings.Contains(msg, key) {
			msg = key + ": " + msg
		}
		return nil, fmt.Errorf("%w: %s (is it a PKCS #11 module for this architecture?)", ErrLoad, msg)
	}
	ctx := pkcs11.New(key)
	if ctx == nil {
		return nil, fmt.Errorf("%w: %s: dlopen failed or the library has no C_GetFunctionList (is it a PKCS #11 module for this architecture?)", ErrLoad, key)
	}
	m := &Module{Path: key, Ctx: ctx, gate: newGate(), turn: make(chan struct{}, 1)}
	cache.m[key] = m
	return m, nil
}

func (m *Module) take(ctx context.Context) error {
	select {
	case m.turn <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *Module) give() { <-m.turn }

// initialize calls C_Initialize; a library already initialised (by this
// cache, or by another user in the process such as crypto11) is success.
// A C_Initialize that initialised the library makes it ours and starts a
// generation: every session opened before is gone. The caller holds the
// turn.
func (m *Module) initialize() error {
	switch err := m.Ctx.Initialize(); {
	case err == nil:
		m.initialized.Store(true)
		m.owned.Store(true)
		m.gen.Add(1)
		return nil
	case errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)):
		m.initialized.Store(true)
		return nil
	default:
		return fmt.Errorf("%s: C_Initialize: %w", m.Path, err)
	}
}

// Enter admits one call into the library, or reports false while a
// [Module.Reset] is under way (the caller should then fail fast). Every
// true Enter is followed by one Exit, after the call returns.
func (m *Module) Enter() bool { return m.gate.enter() }

// Exit ends a call that Enter admitted.
func (m *Module) Exit() { m.gate.exit() }

// Gen returns the module's generation: it changes when the library is
// initialised again, after which every session and object handle obtained
// in an earlier generation is gone, and a handle number may be reused for
// another session: such handles must be forgotten, never closed. Read it
// between Enter and Exit, where it cannot change.
func (m *Module) Gen() uint64 { return m.gen.Load() }

// Owned reports whether this process's last C_Initialize of the library
// initialised it (rather than finding it initialised by another user).
func (m *Module) Owned() bool { return m.owned.Load() }

// Reset brings back a library whose connection to its device broke, for
// every user of the module at once: after waiting, while ctx allows, for
// the calls in flight to return (new ones are refused meanwhile), it calls
// C_Finalize (when finalize is true) and C_Initialize, which starts a new
// generation. seen is the generation in which the caller saw the failure:
// when the library was initialised again since, Reset does nothing and
// returns nil, so that users that failed together reset it once.
//
// finalize is false for a library that another user finalised
// (CKR_CRYPTOKI_NOT_INITIALIZED), which only needs C_Initialize; a
// finalising Reset of a library this process did not initialise fails
// with [ErrNotOwned]. Errors name the path. Reset never unloads the
// library. It is safe for concurrent use; resets run one at a time.
func (m *Module) Reset(ctx context.Context, seen uint64, finalize bool) error {
	if err := m.take(ctx); err != nil {
		return fmt.Errorf("%s: waiting for another reset: %w", m.Path, err)
	}
	defer m.give()
	if m.gen.Load() != seen {
		return nil
	}
	if finalize && !m.owned.Load() {
		return ErrNotOwned
	}
	if err := m.gate.close(ctx); err != nil {
		return fmt.Errorf("%s: waiting for %d calls in flight before resetting the module: %w", m.Path, m.gate.inFlight(), err)
	}
	defer m.gate.open()
	// No call is in flight now, so nobody holds Sessions; it is taken all
	// the same, so that C_Finalize and C_Initialize, which empty the
	// library's session table, are serialised with every other change to
	// it (see Sessions).
	m.Sessions.Lock()
	defer m.Sessions.Unlock()
	if finalize && m.initialized.Load() {
		m.initialized.Store(false)
		err := m.Ctx.Finalize()
		if err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)) {
			return fmt.Errorf("%s: C_Finalize: %w", m.Path, err)
		}
	}
	err := m.initialize()
	if err == nil && m.gen.Load() == seen {
		// Initialised meanwhile by someone else (ALREADY_INITIALIZED):
		// our sessions are gone all the same.
		m.gen.Add(1)
	}
	return err
}

// Release drops one reference. The library stays loaded and initialised
// (see the package documentation). Calling Release more often than Open is
// a bug and panics.
func (m *Module) Release() {
	cache.Lock()
	defer cache.Unlock()
	if m.refs == 0 {
		panic("pkcs11 module: Release called more often than Open")
	}
	m.refs--
}

// Users returns how many [Open]s of the module have not been released.
func (m *Module) Users() int {
	cache.Lock()
	defer cache.Unlock()
	return m.refs
}

// Refs returns the number of references to the module loaded from path
// (0 also when it is not loaded). For tests.
func Refs(path string) int {
	cache.Lock()
	defer cache.Unlock()
	if m, ok := cache.m[filepath.Clean(path)]; ok {
		return m.refs
	}
	return 0
}

// Loaded reports whether this process has loaded the library at path
// through [Open]. Once true it stays true. Test harnesses use it to refuse
// to change a library's environment (SOFTHSM2_CONF, TPM2_PKCS11_STORE)
// after the library has read it.
func Loaded(path string) bool {
	cache.Lock()
	defer cache.Unlock()
	_, ok := cache.m[filepath.Clean(path)]
	return ok
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
