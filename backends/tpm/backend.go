package tpm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
)

func init() {
	backend.Register(Scheme, func(ctx context.Context, uri string) (backend.Backend, error) {
		return Open(ctx, uri)
	})
}

// Backend is a store of keys bound to one TPM, their blobs kept as files
// in a directory. It implements [backend.Backend]; every method is safe for
// concurrent use, and the TPM runs one command at a time.
type Backend struct {
	cfg  config
	name string // redacted URI, for errors and Info
	dev  *device

	genMu sync.Mutex // serialises GenerateKey: label check, TPM2_Create, file write

	mu   sync.Mutex            // guards keys
	keys map[string]*keyObject // by file name

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ backend.Backend = (*Backend)(nil)

// Open connects to the TPM that uri names (see the package documentation
// for the URI forms) and returns a backend over the key files in its dir=,
// creating the directory (mode 0700) if it does not exist.
//
// It fails with an error wrapping [backend.ErrInvalidInput] for a
// malformed URI or unreadable pin-source, [backend.ErrAuth] when the TPM
// refuses the owner auth, [backend.ErrUnsupported] for tpm:simulator in a
// build without cgo, and the transport's error when the TPM cannot be
// reached. A key directory used before with another TPM (or the same TPM
// after it was cleared) fails with [ErrSRKMismatch].
func Open(ctx context.Context, uri string) (*Backend, error) {
	cfg, err := parseURI(uri)
	if err != nil {
		return nil, backend.Errorf("open", backend.RedactURI(uri), "", err)
	}
	name := cfg.uri.Redacted()
	if err := backend.ContextErr(ctx, "open", name, ""); err != nil {
		return nil, err
	}
	auth, err := cfg.ownerAuth()
	if err != nil {
		return nil, backend.Errorf("open", name, "", err)
	}
	if err := os.MkdirAll(cfg.dir, 0o700); err != nil {
		return nil, backend.Errorf("open", name, "", fmt.Errorf("key directory: %w", err))
	}
	dev, err := acquireDevice(ctx, cfg, auth)
	if err != nil {
		return nil, backend.Errorf("open", name, "", err)
	}
	if err := dev.checkPin(ctx, cfg.dir); err != nil {
		_ = dev.release()
		return nil, backend.Errorf("open", name, "", err)
	}
	return &Backend{cfg: cfg, name: name, dev: dev, keys: map[string]*keyObject{}}, nil
}

// Info describes the backend and the TPM: its manufacturer ID, vendor
// string and firmware version.
func (b *Backend) Info() backend.Info {
	kind := "tpm"
	return backend.Info{
		Name:         Scheme,
		Kind:         kind,
		URI:          b.name,
		Manufacturer: b.dev.caps.manufacturer,
		Model:        b.dev.caps.model,
		Firmware:     b.dev.caps.firmware,
		Persistent:   true,
	}
}

// Capabilities reports what the TPM implements, as queried when it was
// first connected: ECDSA on the curves it lists, RSA-2048 and RSA-3072
// where TPM2_TestParms accepts them; import for each of those where the
// TPM implements TPM2_Import (see [Backend.ImportKey]).
func (b *Backend) Capabilities() backend.Capabilities {
	return b.dev.caps.capabilities()
}

// Key finds a key by ID or label among the files in dir. It fails with
// [backend.ErrKeyNotFound] when nothing matches, [backend.ErrInvalidInput]
// when several files do, [backend.ErrCorrupt] when the file for the ID
// asked for is damaged, and [backend.ErrUnsupported] when it holds a TPM
// key of a kind this backend does not offer.
func (b *Backend) Key(ctx context.Context, ref backend.KeyRef) (backend.Key, error) {
	const op = "get key"
	if err := b.check(ctx, op, ref.String()); err != nil {
		return nil, err
	}
	if err := ref.Validate(); err != nil {
		return nil, backend.Errorf(op, b.name, "", err)
	}
	obj, err := b.findKey(ref)
	if err != nil {
		return nil, backend.Errorf(op, b.name, ref.String(), err)
	}
	return &key{b: b, obj: obj}, nil
}

// Keys lists the keys in dir: the files this backend wrote and any other
// NAME.pem holding a TSS2 key it can use, such as those tpm2-openssl and
// tpm2-tools write (see the package documentation for their IDs and
// labels). TPM keys of a kind this backend does not offer are left out.
// Damaged key files are left out and named in the error, which then wraps
// [backend.ErrCorrupt] and comes with the usable keys, as the contract
// requires.
func (b *Backend) Keys(ctx context.Context) ([]backend.Key, error) {
	const op = "list keys"
	if err := b.check(ctx, op, ""); err != nil {
		return nil, err
	}
	objs, unreadable, err := b.scan()
	if err != nil {
		return nil, backend.Errorf(op, b.name, "", err)
	}
	out := make([]backend.Key, 0, len(objs))
	for _, o := range objs {
		out = append(out, &key{b: b, obj: o})
	}
	return out, backend.Errorf(op, b.name, "", unreadable)
}

// DeleteKey removes the key's file and flushes it from the TPM. The key
// is gone for good: the TPM keeps no copy. Key values obtained earlier fail
// their operations with [backend.ErrKeyNotFound].
func (b *Backend) DeleteKey(ctx context.Context, ref backend.KeyRef) error {
	const op = "delete key"
	if err := b.check(ctx, op, ref.String()); err != nil {
		return err
	}
	if err := ref.Validate(); err != nil {
		return backend.Errorf(op, b.name, "", err)
	}
	b.genMu.Lock()
	defer b.genMu.Unlock()
	obj, err := b.findKey(ref)
	if err != nil {
		return backend.Errorf(op, b.name, ref.String(), err)
	}
	if err := removeKeyFile(obj.path); err != nil {
		return b.errorf(op, obj, err)
	}
	b.forget(obj)
	return nil
}

// Close flushes this backend's keys from the TPM and, when no other
// backend in the process uses the same TPM, disconnects from it (and stops
// the simulator). Later calls return nil; operations after Close fail with
// [backend.ErrClosed].
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.closed.Store(true)
		b.mu.Lock()
		objs := make([]*keyObject, 0, len(b.keys))
		for _, o := range b.keys {
			objs = append(objs, o)
		}
		b.mu.Unlock()
		b.dev.sem <- struct{}{}
		for _, o := range objs {
			b.dev.unload(o)
		}
		b.dev.unlock()
		if err := b.dev.release(); err != nil {
			b.closeErr = backend.Errorf("close", b.name, "", err)
		}
	})
	return b.closeErr
}

// check fails when the backend is closed or ctx is done.
func (b *Backend) check(ctx context.Context, op, keyName string) error {
	if b.closed.Load() {
		return backend.Errorf(op, b.name, keyName, backend.ErrClosed)
	}
	return backend.ContextErr(ctx, op, b.name, keyName)
}

func (b *Backend) errorf(op string, obj *keyObject, err error) error {
	return backend.Errorf(op, b.name, keyName(obj), err)
}

// withKey runs fn on the TPM with obj loaded, reloading it and retrying
// after a TPM restart (see [device.doLocked]).
func (b *Backend) withKey(ctx context.Context, obj *keyObject, fn func(t transport.TPM, h tpm2.AuthHandle) error) error {
	if err := b.dev.lock(ctx); err != nil {
		return err
	}
	defer b.dev.unlock()
	// Checked under the lock, which Close and DeleteKey also take to
	// flush keys: a key flushed there is never loaded again here.
	if b.closed.Load() {
		return backend.ErrClosed
	}
	if obj.deleted.Load() {
		return fmt.Errorf("key was deleted: %w", backend.ErrKeyNotFound)
	}
	return b.dev.doLocked(ctx, func(t transport.TPM) error {
		h, err := b.dev.loaded(t, obj)
		if err != nil {
			return err
		}
		return fn(t, h)
	})
}

// findKey returns the key ref names, reading dir. A key asked for by ID is
// looked for first in the file this backend would have written for it.
// Several keys matching fail with backend.ErrInvalidInput.
func (b *Backend) findKey(ref backend.KeyRef) (*keyObject, error) {
	if len(ref.ID) > 0 {
		obj, err := b.load(keyFileName(ref.ID))
		switch {
		case err == nil && ref.Matches(obj.id, obj.label):
			return obj, nil
		case err == nil:
			return nil, backend.ErrKeyNotFound
		case !errors.Is(err, backend.ErrKeyNotFound):
			return nil, err
		}
	}
	objs, _, err := b.scan()
	if err != nil {
		return nil, err
	}
	var match []*keyObject
	for _, o := range objs {
		if ref.Matches(o.id, o.label) {
			match = append(match, o)
		}
	}
	switch len(match) {
	case 0:
		return nil, backend.ErrKeyNotFound
	case 1:
		return match[0], nil
	}
	names := make([]string, len(match))
	for i, o := range match {
		names[i] = filepath.Base(o.path)
	}
	return nil, fmt.Errorf("%d key files match (%s); address the key by ID or rename one: %w", len(match), strings.Join(names, ", "), backend.ErrInvalidInput)
}

// load returns the keyObject for one file, reusing the cached one while
// the file is unchanged so that its loaded TPM handle is reused too. A key
// file written before labels moved out of the TSS2 description is
// rewritten (see migrateKeyFile).
func (b *Backend) load(name string) (*keyObject, error) {
	path := filepath.Join(b.cfg.dir, name)
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			b.dropCached(name)
			return nil, backend.ErrKeyNotFound
		}
		return nil, err
	}
	b.mu.Lock()
	obj := b.keys[name]
	b.mu.Unlock()
	if obj != nil && obj.modTime.Equal(st.ModTime()) && obj.size == st.Size() {
		return obj, nil
	}
	fresh, err := readKeyFile(path)
	if err != nil {
		return nil, err
	}
	if fresh.legacy && strings.HasSuffix(name, keyFileExt) {
		// Best effort: a read-only directory keeps the old file, which
		// this backend still reads.
		if mt, size, err := migrateKeyFile(fresh); err == nil {
			fresh.modTime, fresh.size, fresh.legacy = mt, size, false
		}
	}
	b.mu.Lock()
	old := b.keys[name]
	if old != nil && old.modTime.Equal(fresh.modTime) && old.size == fresh.size {
		// Another goroutine read the same file first: keep its object, so
		// that Key values handed out for it stay valid.
		b.mu.Unlock()
		return old, nil
	}
	b.keys[name] = fresh
	b.mu.Unlock()
	if old != nil {
		b.forget(old)
	}
	return fresh, nil
}

// scan loads every key file in dir. Files that are not key files, and
// keys of a kind this backend does not offer (see readKeyFile), are left
// out; unreadable joins the errors of damaged ones, each wrapping
// backend.ErrCorrupt. err is set only when the directory itself cannot be
// read.
func (b *Backend) scan() (out []*keyObject, unreadable, err error) {
	entries, err := os.ReadDir(b.cfg.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("read key directory: %w", err)
	}
	seen := map[string]bool{}
	var bad []error
	for _, e := range entries {
		if !isKeyFileName(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		seen[e.Name()] = true
		obj, err := b.load(e.Name())
		switch {
		case err == nil:
			out = append(out, obj)
		case errors.Is(err, errNotKeyFile), errors.Is(err, backend.ErrUnsupported):
		case errors.Is(err, backend.ErrKeyNotFound):
			// Removed since ReadDir.
		default:
			bad = append(bad, err)
		}
	}
	b.mu.Lock()
	var gone []*keyObject
	for name, o := range b.keys {
		if !seen[name] {
			gone = append(gone, o)
			delete(b.keys, name)
		}
	}
	b.mu.Unlock()
	for _, o := range gone {
		b.forget(o)
	}
	return out, errors.Join(bad...), nil
}

func (b *Backend) dropCached(name string) {
	b.mu.Lock()
	o := b.keys[name]
	delete(b.keys, name)
	b.mu.Unlock()
	if o != nil {
		b.forget(o)
	}
}

// forget marks obj deleted and flushes it from the TPM.
func (b *Backend) forget(obj *keyObject) {
	obj.deleted.Store(true)
	b.mu.Lock()
	if b.keys[filepath.Base(obj.path)] == obj {
		delete(b.keys, filepath.Base(obj.path))
	}
	b.mu.Unlock()
	b.dev.sem <- struct{}{}
	b.dev.unload(obj)
	b.dev.unlock()
}
