//go:build cgo

// Package module is the process-wide cache of loaded PKCS #11 modules.
//
// A PKCS #11 module is per process: a second dlopen of the same library
// shares its state, C_Initialize then returns CKR_CRYPTOKI_ALREADY_INITIALIZED
// and C_Finalize ends every user's sessions. Many modules are also not safe
// to finalise, unload and load again in one process: opencryptoki 3.8 dies
// with SIGSEGV in the second C_Initialize. So a library is loaded once per
// process and, once initialised, stays loaded and initialised until the
// process exits: [Open] loads it (or finds it loaded) and initialises it if
// needed, [Module.Release] only drops a reference. Nothing here ever calls
// C_Finalize or dlclose. A library some other code in the process
// initialised is used as it is, and stays theirs to finalise.
//
// On Linux a library is loaded with RTLD_DEEPBIND, so that its calls to its
// own functions stay its own even when another module has put functions
// of the same name in the process's global scope (opencryptoki 3.8 loads
// its token libraries RTLD_GLOBAL; its soft token's object_create would
// otherwise run in place of tpm2-pkcs11's).
package module

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/miekg/pkcs11"
)

// ErrLoad means the library could not be loaded or initialised.
var ErrLoad = errors.New("PKCS #11 module cannot be loaded")

// Module is one loaded PKCS #11 library, shared by every user in the
// process. Ctx is safe for concurrent use (the library is initialised with
// CKF_OS_LOCKING_OK).
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
// no library is ever unloaded. Errors wrap [ErrLoad] and name the path.
// Open is safe for concurrent use.
func Open(path string) (*Module, error) {
	key := filepath.Clean(path)
	cache.Lock()
	defer cache.Unlock()
	m, ok := cache.m[key]
	if !ok {
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
		m = &Module{Path: key, Ctx: ctx}
		cache.m[key] = m
	}
	if err := m.initialize(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLoad, err)
	}
	m.refs++
	return m, nil
}

// initialize calls C_Initialize; a library already initialised (by this
// cache, or by another user in the process such as crypto11) is success.
// The caller holds cache.Mutex.
func (m *Module) initialize() error {
	switch err := m.Ctx.Initialize(); {
	case err == nil, errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)):
		return nil
	default:
		return fmt.Errorf("%s: C_Initialize: %w", m.Path, err)
	}
}

// Reinitialize calls C_Initialize again after an operation found the
// library finalised (CKR_CRYPTOKI_NOT_INITIALIZED) by another user in the
// process. It is safe to call concurrently and when the library is already
// initialised.
func (m *Module) Reinitialize() error {
	cache.Lock()
	defer cache.Unlock()
	return m.initialize()
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
