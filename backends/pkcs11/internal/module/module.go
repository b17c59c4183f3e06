//go:build cgo

// Package module is the process-wide cache of loaded PKCS #11 modules.
//
// A PKCS #11 module is per process: a second dlopen of the same library
// shares its state, C_Initialize then returns CKR_CRYPTOKI_ALREADY_INITIALIZED
// and C_Finalize ends every user's sessions. So every user of a module in
// this process goes through [Open] and [Module.Release], which count
// references per library path, initialise the library once, tolerate a
// library some other code already initialised, and finalise it only when
// this cache initialised it and the last reference is released.
package module

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

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

	// Guarded by cache.Mutex.
	refs     int
	ownsInit bool
}

var cache = struct {
	sync.Mutex
	m map[string]*Module
}{m: map[string]*Module{}}

// Open loads and initialises the library at path, or returns the module
// already loaded from it with one more reference. Errors wrap [ErrLoad] and
// name the path.
func Open(path string) (*Module, error) {
	key := filepath.Clean(path)
	cache.Lock()
	defer cache.Unlock()
	if m, ok := cache.m[key]; ok {
		m.refs++
		return m, nil
	}
	if _, err := os.Stat(key); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrLoad, key, unwrapPathError(err))
	}
	ctx := pkcs11.New(key)
	if ctx == nil {
		return nil, fmt.Errorf("%w: %s: dlopen failed or the library has no C_GetFunctionList (is it a PKCS #11 module for this architecture?)", ErrLoad, key)
	}
	m := &Module{Path: key, Ctx: ctx, refs: 1}
	switch err := ctx.Initialize(); {
	case err == nil:
		m.ownsInit = true
	case errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)):
		// Another user in this process (crypto11, a test's second handle)
		// initialised it; it stays theirs to finalise.
	default:
		ctx.Destroy()
		return nil, fmt.Errorf("%w: %s: C_Initialize: %w", ErrLoad, key, err)
	}
	cache.m[key] = m
	return m, nil
}

// Reinitialize calls C_Initialize again after an operation found the
// library finalised (CKR_CRYPTOKI_NOT_INITIALIZED) by another user in the
// process. It is safe to call concurrently and when the library is already
// initialised.
func (m *Module) Reinitialize() error {
	cache.Lock()
	defer cache.Unlock()
	switch err := m.Ctx.Initialize(); {
	case err == nil:
		m.ownsInit = true
		return nil
	case errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)):
		return nil
	default:
		return fmt.Errorf("%s: C_Initialize: %w", m.Path, err)
	}
}

// Release drops one reference. The last one finalises the library if this
// cache initialised it, and unloads it. Using m after its last Release is a
// bug.
func (m *Module) Release() error {
	cache.Lock()
	defer cache.Unlock()
	m.refs--
	if m.refs > 0 {
		return nil
	}
	if m.refs < 0 {
		panic("pkcs11 module: Release called more often than Open")
	}
	delete(cache.m, m.Path)
	var err error
	if m.ownsInit {
		if ferr := m.Ctx.Finalize(); ferr != nil && !errors.Is(ferr, pkcs11.Error(pkcs11.CKR_CRYPTOKI_NOT_INITIALIZED)) {
			err = fmt.Errorf("%s: C_Finalize: %w", m.Path, ferr)
		}
	}
	m.Ctx.Destroy()
	return err
}

// Refs returns the number of references to the module loaded from path, 0
// when it is not loaded. For tests.
func Refs(path string) int {
	cache.Lock()
	defer cache.Unlock()
	if m, ok := cache.m[filepath.Clean(path)]; ok {
		return m.refs
	}
	return 0
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
