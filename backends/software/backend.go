package software

import (
	"cmp"
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
)

// Scheme is the URI scheme this package registers with [backend.Register].
const Scheme = "software"

func init() { backend.Register(Scheme, open) }

// open is the [backend.OpenFunc] for "software:" URIs: a PostgreSQL store
// for "software:postgres?…", a directory store when the URI names a dir, an
// in-memory store otherwise.
func open(ctx context.Context, uri string) (backend.Backend, error) {
	u, err := backend.ParseURI(uri)
	if err != nil {
		return nil, backend.Errorf("open", backend.RedactURI(uri), "", err)
	}
	if u.Scheme != Scheme {
		return nil, backend.Errorf("open", u.Redacted(), "", fmt.Errorf("scheme %q is not %q: %w", u.Scheme, Scheme, backend.ErrInvalidInput))
	}
	if err := ctx.Err(); err != nil {
		return nil, backend.Errorf("open", u.Redacted(), "", err)
	}
	switch {
	case u.Has("postgres"):
		return openPostgres(ctx, u)
	case u.Has("dir"):
		return openDir(ctx, u)
	}
	return openMemory(u)
}

// store is a [backend.Backend] and [backend.Importer] whose keys live in
// memory, optionally mirrored to files by a persister. The PostgreSQL store
// (pgStore) wraps one as its index: a cache of the table.
type store struct {
	name    string // the store in errors: "software" or the redacted URI
	info    backend.Info
	persist persister // nil for the in-memory and PostgreSQL stores

	// confirm, when set, runs as every operation starts, after the key's
	// gate admitted it: the shared store's check that the key has not been
	// deleted elsewhere. nil for stores whose memory is the truth.
	confirm func(ctx context.Context, k *key) error
	// opTimeout bounds the context-free operation methods; zero (no bound)
	// unless confirm can block.
	opTimeout time.Duration

	closed atomic.Bool

	mu      sync.RWMutex
	byID    map[string]*key // by hex ID
	byLabel map[string]*key
	// unreadable holds, by file stem (the hex ID the file name claims), why
	// each key file that could not be read was refused: an error naming the
	// file and wrapping ErrCorrupt. Those IDs stay taken.
	unreadable map[string]error
}

// persister stores key files. Its methods are called with store.mu held.
type persister interface {
	// save writes a new key file for stem (the key's hex ID).
	save(stem string, plaintext []byte) error
	// remove deletes the key file for stem.
	remove(stem string) error
	// close releases the persister's resources.
	close() error
}

var (
	_ backend.Backend  = (*store)(nil)
	_ backend.Importer = (*store)(nil)
)

func newStore(name string, info backend.Info, p persister) *store {
	return &store{
		name:       name,
		info:       info,
		persist:    p,
		byID:       map[string]*key{},
		byLabel:    map[string]*key{},
		unreadable: map[string]error{},
	}
}

// Info describes the store. It never fails.
func (s *store) Info() backend.Info { return s.info }

// check fails when the store is closed or ctx is done.
func (s *store) check(ctx context.Context, op, label string) error {
	if s.closed.Load() {
		return backend.Errorf(op, s.name, label, backend.ErrClosed)
	}
	return backend.ContextErr(ctx, op, s.name, label)
}

// prepare validates spec, resolves its usage, picks an ID when it has none
// and checks that label and ID are free.
func (s *store) prepare(op string, spec backend.KeySpec) (backend.KeySpec, error) {
	spec, err := normalize(op, s.name, spec)
	if err != nil {
		return spec, err
	}
	s.mu.RLock()
	err = s.taken(spec)
	s.mu.RUnlock()
	if err != nil {
		return spec, backend.Errorf(op, s.name, spec.Label, err)
	}
	return spec, nil
}

// normalize validates spec, resolves its usage and picks an ID when it has
// none.
func normalize(op, name string, spec backend.KeySpec) (backend.KeySpec, error) {
	if err := spec.Validate(); err != nil {
		return spec, backend.Errorf(op, name, spec.Label, err)
	}
	spec.Usage = spec.Usage.Resolve(spec.Algorithm)
	if len(spec.ID) == 0 {
		spec.ID = make(backend.KeyID, 16)
		_, _ = rand.Read(spec.ID) // crypto/rand.Read never fails
	} else {
		spec.ID = slices.Clone(spec.ID)
	}
	return spec, nil
}

// taken reports whether spec's label or ID is in use. s.mu must be held.
func (s *store) taken(spec backend.KeySpec) error {
	if _, ok := s.byLabel[spec.Label]; ok {
		return fmt.Errorf("label is in use: %w", backend.ErrKeyExists)
	}
	id := spec.ID.String()
	if _, ok := s.byID[id]; ok {
		return fmt.Errorf("ID %s is in use: %w", id, backend.ErrKeyExists)
	}
	if _, ok := s.unreadable[id]; ok {
		return fmt.Errorf("ID %s belongs to an unreadable key file: %w", id, backend.ErrKeyExists)
	}
	return nil
}

// add builds the key (see build), persists it and indexes it.
func (s *store) add(op string, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
	k, rec, err := s.build(op, spec, priv)
	if err != nil {
		return nil, err
	}
	defer clear(rec.Private)
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.taken(spec)
	if err == nil && s.closed.Load() {
		err = backend.ErrClosed
	}
	if err == nil && s.persist != nil {
		plaintext := rec.marshal()
		err = s.persist.save(spec.ID.String(), plaintext)
		clear(plaintext)
	}
	if err != nil {
		k.retire()
		return nil, backend.Errorf(op, s.name, spec.Label, err)
	}
	s.byID[spec.ID.String()] = k
	s.byLabel[spec.Label] = k
	return k, nil
}

// build encodes priv and reads the encoding back into the key the store
// will use, so the store never holds a key it could not load again, nor the
// caller's own value. It returns the key and its record, whose Private
// field (the encoding) the caller must clear.
func (s *store) build(op string, spec backend.KeySpec, priv crypto.PrivateKey) (*key, *keyFile, error) {
	enc, err := privkey.Marshal(spec.Algorithm, priv)
	if err != nil {
		return nil, nil, backend.Errorf(op, s.name, spec.Label, err)
	}
	own, err := privkey.Parse(spec.Algorithm, enc)
	if err != nil {
		clear(enc)
		return nil, nil, backend.Errorf(op, s.name, spec.Label, fmt.Errorf("%w: %w", err, backend.ErrInvalidInput))
	}
	rec := &keyFile{Algorithm: spec.Algorithm, Usage: spec.Usage, Label: spec.Label, ID: spec.ID, Private: enc}
	k, err := s.newKey(rec, own)
	if err == nil && !samePublic(priv, k.pub) {
		k.retire()
		err = fmt.Errorf("%s key's public half does not match its private key: %w", spec.Algorithm, backend.ErrInvalidInput)
	}
	if err != nil {
		clear(enc)
		return nil, nil, backend.Errorf(op, s.name, spec.Label, err)
	}
	return k, rec, nil
}

// Key finds the key ref names. It fails with [backend.ErrKeyNotFound] when no
// key matches, and with an error wrapping [backend.ErrCorrupt] when ref's ID
// names a key file that could not be read.
func (s *store) Key(ctx context.Context, ref backend.KeyRef) (backend.Key, error) {
	const op = "find key"
	if err := s.check(ctx, op, ref.String()); err != nil {
		return nil, err
	}
	if err := ref.Validate(); err != nil {
		return nil, backend.Errorf(op, s.name, "", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if k := s.findKey(ref); k != nil {
		return k, nil
	}
	if len(ref.ID) > 0 {
		if err, ok := s.unreadable[ref.ID.String()]; ok {
			return nil, backend.Errorf(op, s.name, ref.String(), err)
		}
	}
	err := backend.ErrKeyNotFound
	if n := len(s.unreadable); n > 0 {
		err = fmt.Errorf("%w (%d key files could not be read; Keys lists them)", err, n)
	}
	return nil, backend.Errorf(op, s.name, ref.String(), err)
}

// findKey returns the key ref names, or nil. s.mu must be held.
func (s *store) findKey(ref backend.KeyRef) *key {
	var k *key
	if len(ref.ID) > 0 {
		k = s.byID[ref.ID.String()]
	} else {
		k = s.byLabel[ref.Label]
	}
	if k == nil || !ref.Matches(k.id, k.label) {
		return nil
	}
	return k
}

// Keys returns every readable key, sorted by label. When some key files
// could not be read, it returns those keys together with a non-nil error
// (a [*backend.Error]) joining one error per file, each naming the file and
// wrapping [backend.ErrCorrupt]; the returned keys are usable all the same.
func (s *store) Keys(ctx context.Context) ([]backend.Key, error) {
	const op = "list keys"
	if err := s.check(ctx, op, ""); err != nil {
		return nil, err
	}
	s.mu.RLock()
	keys := make([]backend.Key, 0, len(s.byID))
	for _, k := range s.byID {
		keys = append(keys, k)
	}
	errs := make([]error, 0, len(s.unreadable))
	stems := make([]string, 0, len(s.unreadable))
	for stem := range s.unreadable {
		stems = append(stems, stem)
	}
	slices.Sort(stems)
	for _, stem := range stems {
		errs = append(errs, s.unreadable[stem])
	}
	s.mu.RUnlock()
	slices.SortFunc(keys, func(a, b backend.Key) int { return cmp.Compare(a.Label(), b.Label()) })
	if len(errs) > 0 {
		return keys, backend.Errorf(op, s.name, "", errors.Join(errs...))
	}
	return keys, nil
}

// DeleteKey removes the key ref names from the store (and its file from a
// directory store), waits for operations in flight on it to finish and wipes
// it. Key, Signer, Decrypter and Decapsulator values obtained earlier then
// fail with [backend.ErrKeyNotFound]. A ref by ID that names an unreadable
// key file removes that file.
func (s *store) DeleteKey(ctx context.Context, ref backend.KeyRef) error {
	const op = "delete key"
	if err := s.check(ctx, op, ref.String()); err != nil {
		return err
	}
	if err := ref.Validate(); err != nil {
		return backend.Errorf(op, s.name, "", err)
	}
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return backend.Errorf(op, s.name, ref.String(), backend.ErrClosed)
	}
	k := s.findKey(ref)
	if k == nil {
		err := s.deleteUnreadable(ref)
		s.mu.Unlock()
		if err != nil {
			return backend.Errorf(op, s.name, ref.String(), err)
		}
		return nil
	}
	stem := k.id.String()
	if s.persist != nil {
		if err := s.persist.remove(stem); err != nil {
			s.mu.Unlock()
			return backend.Errorf(op, s.name, k.label, err)
		}
	}
	delete(s.byID, stem)
	delete(s.byLabel, k.label)
	s.mu.Unlock()
	k.retire()
	return nil
}

// deleteUnreadable removes the unreadable key file ref's ID names, or
// returns ErrKeyNotFound. s.mu must be held.
func (s *store) deleteUnreadable(ref backend.KeyRef) error {
	if len(ref.ID) == 0 || ref.Label != "" {
		return backend.ErrKeyNotFound
	}
	stem := ref.ID.String()
	if _, ok := s.unreadable[stem]; !ok || s.persist == nil {
		return backend.ErrKeyNotFound
	}
	if err := s.persist.remove(stem); err != nil {
		return err
	}
	delete(s.unreadable, stem)
	return nil
}

// Close wipes every key after its in-flight operations finish and releases
// the directory lock. Later calls return nil. Every operation afterwards,
// including those of Signer and other values obtained earlier, fails with
// [backend.ErrClosed].
func (s *store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range s.byID {
		k.retire()
	}
	clear(s.byID)
	clear(s.byLabel)
	clear(s.unreadable)
	if s.persist != nil {
		return backend.Errorf("close", s.name, "", s.persist.close())
	}
	return nil
}

// getValue returns attribute name, refusing a bare flag where a value is
// needed. (ParseURI already refuses an attribute given twice.)
func getValue(u *backend.URI, name string) (string, bool, error) {
	v, ok := u.Get(name)
	for _, list := range [][]backend.Attr{u.Path, u.Query} {
		for _, a := range list {
			if a.Name == name && !a.HasValue {
				return "", false, fmt.Errorf("%s URI: attribute %q needs a value: %w", u.Scheme, name, backend.ErrInvalidInput)
			}
		}
	}
	return v, ok, nil
}
