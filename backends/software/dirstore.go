package software

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"filippo.io/age"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
	"github.com/cryptoplug/cryptoplug/internal/scryptcost"
)

// DefaultScryptWorkFactor is the scrypt work factor (log2 of N, as in age,
// whose default it is) that stretches the passphrase of a new directory
// store: N = 2^18 with r = 8, so 256 MiB of memory and on the order of a
// second of one core, once per Open. No URI attribute or option lowers it.
const DefaultScryptWorkFactor = scryptcost.Default

// maxScryptWorkFactor bounds the work factor an existing store's file may
// ask for, so that a tampered file cannot make Open spend minutes in scrypt.
const maxScryptWorkFactor = 22

// ErrLocked means a directory store is already open, in another process or
// through another Open in this one. Open fails with an error wrapping it
// rather than wait.
var ErrLocked = errors.New("key store is in use by another Open")

// Directory store file names. See the package documentation.
const (
	identityFileName = "keystore.age"
	lockFileName     = ".lock"
	keyFileSuffix    = ".key"
	tempFilePrefix   = ".tmp-"
)

// dirStore keeps a store's keys as age-encrypted files in one directory.
type dirStore struct {
	dir       string
	lock      *os.File
	identity  *age.HybridIdentity
	recipient *age.HybridRecipient
}

var _ persister = (*dirStore)(nil)

// openDir opens the directory store u names, creating it if needed.
func openDir(ctx context.Context, u *backend.URI) (backend.Backend, error) {
	name := u.Redacted()
	fail := func(err error) (backend.Backend, error) { return nil, backend.Errorf("open", name, "", err) }
	if err := u.CheckAttrs("dir", "pin-source", "pin-value"); err != nil {
		return fail(err)
	}
	for _, attr := range []string{"pin-source", "pin-value"} {
		if _, _, err := getValue(u, attr); err != nil {
			return fail(err)
		}
	}
	dir, _, err := u.FilePath("dir")
	if err != nil {
		return fail(err)
	}
	pass, ok, err := u.PIN()
	if err != nil {
		return fail(err)
	}
	defer pass.Wipe()
	if !ok {
		return fail(fmt.Errorf("a directory store needs its passphrase: add pin-source=file:/path or pin-source=env:NAME to the URI: %w",
			backend.ErrInvalidInput))
	}
	if len(pass) == 0 {
		return fail(fmt.Errorf("the passphrase is empty: %w", backend.ErrInvalidInput))
	}

	d, err := openDirStore(dir, pass, scryptcost.WorkFactor())
	if err != nil {
		return fail(err)
	}
	if err := ctx.Err(); err != nil { // scrypt may have taken a while
		d.close()
		return fail(err)
	}
	s := newStore(name, backend.Info{Name: Scheme, Kind: "directory", URI: name, Persistent: true}, d)
	if err := d.load(s); err != nil {
		d.close()
		return fail(err)
	}
	return s, nil
}

// openDirStore locks dir and unlocks its identity with pass, or creates a new
// store there.
func openDirStore(dir string, pass backend.Secret, workFactor int) (_ *dirStore, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key store directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	// Windows reports every directory as 0777: its ACLs are not modes.
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o022 != 0 {
		// Whoever can write the directory can delete keys or roll them back.
		return nil, fmt.Errorf("key store directory %s is writable by group or others (mode %v); chmod 700 it: %w",
			dir, fi.Mode().Perm(), backend.ErrInvalidInput)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return nil, fmt.Errorf("key store %s: %w", dir, err)
	}
	d := &dirStore{dir: dir, lock: lock}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	hasKeys := false
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Name(), tempFilePrefix):
			// Left by a crash between create and rename; we hold the lock,
			// so no writer owns it.
			_ = os.Remove(filepath.Join(dir, e.Name()))
		case isKeyFileName(e.Name()):
			hasKeys = true
		}
	}
	id, err := d.readIdentity(pass)
	if errors.Is(err, fs.ErrNotExist) {
		if hasKeys {
			return nil, d.corrupt(identityFileName, errors.New("missing, but the directory holds key files"))
		}
		id, err = d.createIdentity(pass, workFactor)
	}
	if err != nil {
		return nil, err
	}
	d.identity, d.recipient = id, id.Recipient()
	return d, nil
}

func isKeyFileName(name string) bool {
	return strings.HasSuffix(name, keyFileSuffix) && !strings.HasPrefix(name, ".")
}

// corrupt describes a damaged file: its path and what is wrong, wrapping
// [backend.ErrCorrupt]. cause is flattened so that its own sentinels (an
// fs.ErrNotExist, say) do not leak into errors.Is.
func (d *dirStore) corrupt(name string, cause error) error {
	return fmt.Errorf("%s: %v: %w", filepath.Join(d.dir, name), cause, backend.ErrCorrupt)
}

// readIdentity decrypts the store's identity with pass. A missing file is
// fs.ErrNotExist; a refused passphrase is [backend.ErrAuth].
func (d *dirStore) readIdentity(pass backend.Secret) (*age.HybridIdentity, error) {
	data, err := readFileLimited(filepath.Join(d.dir, identityFileName), maxIdentityFileSize)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, d.corrupt(identityFileName, err)
	}
	id, err := openIdentity(data, pass)
	switch {
	case errors.Is(err, errWrongPassphrase):
		return nil, fmt.Errorf("key store %s: wrong passphrase: %w", d.dir, backend.ErrAuth)
	case err != nil:
		return nil, d.corrupt(identityFileName, err)
	}
	return id, nil
}

// createIdentity makes a new store: a fresh hybrid identity, encrypted with
// pass at the given scrypt work factor.
func (d *dirStore) createIdentity(pass backend.Secret, workFactor int) (*age.HybridIdentity, error) {
	id, enc, err := newIdentity(pass, workFactor)
	if err != nil {
		return nil, err
	}
	if err := d.writeFile(identityFileName, enc); err != nil {
		return nil, fmt.Errorf("create key store: %w", err)
	}
	return id, nil
}

// load reads every key file into s. A file that cannot be read is recorded
// in s.unreadable and does not stop the others.
func (d *dirStore) load(s *store) error {
	entries, err := os.ReadDir(d.dir) // sorted by name: which of two duplicates wins is stable
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if !isKeyFileName(name) {
			continue
		}
		stem := strings.TrimSuffix(name, keyFileSuffix)
		k, err := d.loadKey(s, e, stem)
		if err != nil {
			s.unreadable[stem] = d.corrupt(name, err)
			continue
		}
		s.byID[stem] = k
		s.byLabel[k.label] = k
	}
	return nil
}

func (d *dirStore) loadKey(s *store, e fs.DirEntry, stem string) (*key, error) {
	if !e.Type().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := readFileLimited(filepath.Join(d.dir, e.Name()), maxEncryptedKeyFileSize)
	if err != nil {
		return nil, err
	}
	rec, priv, err := openKeyFile(data, d.identity)
	if err != nil {
		return nil, err
	}
	if got := rec.ID.String(); got != stem {
		privkey.Wipe(priv)
		return nil, fmt.Errorf("holds key ID %s, not the ID its name says", got)
	}
	if other, dup := s.byLabel[rec.Label]; dup {
		privkey.Wipe(priv)
		return nil, fmt.Errorf("has the label of key file %s%s", other.id, keyFileSuffix)
	}
	return s.newKey(rec, priv)
}

// readFileLimited reads a file of at most limit bytes.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// save encrypts plaintext to the store's recipient and writes it as the key
// file for stem.
func (d *dirStore) save(stem string, plaintext []byte) error {
	enc, err := encrypt(plaintext, d.recipient)
	if err != nil {
		return err
	}
	return d.writeFile(stem+keyFileSuffix, enc)
}

// remove deletes the key file for stem. A file already gone is not an error.
func (d *dirStore) remove(stem string) error {
	err := os.Remove(filepath.Join(d.dir, stem+keyFileSuffix))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return d.syncDir()
}

// close releases the lock.
func (d *dirStore) close() error { return d.lock.Close() }

// writeFile replaces name with data atomically and durably: a temporary file
// in the same directory, synced, renamed over name, then the directory
// synced. A crash leaves either the old file or the new one, and at most a
// stray temporary file, which the next Open removes.
func (d *dirStore) writeFile(name string, data []byte) (err error) {
	f, err := os.CreateTemp(d.dir, tempFilePrefix+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, filepath.Join(d.dir, name)); err != nil {
		return err
	}
	return d.syncDir()
}

// syncDir makes renames and removals in the directory durable. Windows
// cannot sync a directory handle; NTFS journals the rename itself.
func (d *dirStore) syncDir() error {
	if runtime.GOOS == "windows" {
		return nil
	}
	f, err := os.Open(d.dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
