package refserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/sealedfile"
)

// MigrateOptions say what [SealMigrate] does.
type MigrateOptions struct {
	// Rollback turns sealed files back into plaintext ones: the way back
	// from a migration, while the sealing key still exists.
	Rollback bool
	// KeepPlaintext seals and verifies but leaves the plaintext files in
	// place, so that the server can be tried with seal_to before they go;
	// run SealMigrate again without it to remove them.
	KeepPlaintext bool
	// CredentialFiles are more secret files to seal with the server's own
	// (init's credential file).
	CredentialFiles []string
	// Out receives a line per file; default standard output.
	Out io.Writer
}

// SealMigrate seals, in place, the secret files of a data directory that
// init made without seal_to: the keystore passphrase (with the default
// keystore), the pepper file, the TLS private key and opts.CredentialFiles.
// c.SealTo names the sealing backend; the key c.SealKey is generated there
// if missing.
//
// It is safe to interrupt and to run again. First every file is sealed to
// <name>.sealed, each written atomically and proved to open; an existing
// .sealed file must unseal to the plaintext beside it, else SealMigrate
// stops and changes nothing. Then the sealed set is verified as a whole —
// the keystore opens with the unsealed passphrase, the peppers parse, the
// TLS key matches its certificate — and only then are the plaintext files
// overwritten with zeros and removed (unless opts.KeepPlaintext). Until
// that moment the server starts either way: without seal_to from the
// plaintext files, with it from the sealed ones.
//
// With opts.Rollback it does the reverse: every .sealed file is unsealed to
// its plaintext name (0600, atomically, never replacing a file that differs),
// the plaintext set is verified the same way, and the .sealed files are
// removed. Errors name the file and wrap the sentinels of
// backend.ReadSecret; no error holds a secret.
func SealMigrate(ctx context.Context, c Config, o MigrateOptions) error {
	if err := c.Resolve(); err != nil {
		return err
	}
	if c.SealTo == "" {
		return errors.New("seal-migrate: give -seal-to (REFSERVER_SEAL_TO, seal_to): the backend whose key seals the secret files")
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	files, err := c.secretFiles(o.CredentialFiles)
	if err != nil {
		return err
	}
	if o.Rollback {
		return rollback(ctx, &c, files, o.Out)
	}
	if _, err := ensureSealKey(ctx, &c); err != nil {
		return err
	}
	// Sealed files a run before this one left must hold what their
	// plaintext holds; checked for all before anything is written.
	for _, p := range files {
		if err := checkSealedTwin(ctx, &c, p); err != nil {
			return err
		}
	}
	for _, p := range files {
		if err := sealOne(ctx, &c, p, o.Out); err != nil {
			return err
		}
	}
	if err := verifySecrets(ctx, c); err != nil {
		return fmt.Errorf("seal-migrate: the sealed files do not work together, so the plaintext files stay: %w", err)
	}
	if o.KeepPlaintext {
		fmt.Fprintf(o.Out, "sealed and verified; the plaintext files stay until seal-migrate runs without -keep-plaintext\n")
		return nil
	}
	for _, p := range files {
		if err := removeWiped(p); err != nil {
			return err
		}
		fmt.Fprintf(o.Out, "removed %s\n", p)
	}
	return syncDirs(files)
}

// secretFiles lists the plaintext names of the secret files this
// configuration reads: the keystore passphrase only with the default
// keystore, the pepper file unless REFSERVER_PEPPERS holds the set.
func (c *Config) secretFiles(extra []string) ([]string, error) {
	var files []string
	if c.Backend == c.defaultBackendURI(false) || c.Backend == c.defaultBackendURI(true) {
		files = append(files, c.keystorePassFile())
	}
	if os.Getenv("REFSERVER_PEPPERS") == "" {
		files = append(files, c.PepperFile)
	}
	files = append(files, c.TLSKey)
	for _, f := range extra {
		abs, err := filepath.Abs(f)
		if err != nil {
			return nil, err
		}
		files = append(files, abs)
	}
	return files, nil
}

// checkSealedTwin checks an existing sealed twin of p: it must open, and
// hold p's secret when p still exists.
func checkSealedTwin(ctx context.Context, c *Config, p string) error {
	src := c.sealedSource(p)
	if !exists(src.Path) {
		return nil
	}
	got, err := src.Open(ctx)
	if err != nil {
		return fmt.Errorf("seal-migrate: %s exists and does not open; nothing was changed: %w", src.Path, err)
	}
	defer got.Wipe()
	plain, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil // removed by an earlier run, after verification
	}
	if err != nil {
		return fmt.Errorf("seal-migrate: %w", err)
	}
	defer clear(plain)
	if subtle.ConstantTimeCompare(got, plain) != 1 {
		return fmt.Errorf("seal-migrate: %s exists and holds another secret than %s; nothing was changed: %w", src.Path, p, sealedfile.ErrExists)
	}
	return nil
}

// sealOne seals the plaintext file p to its sealed twin unless
// checkSealedTwin found the twin already there.
func sealOne(ctx context.Context, c *Config, p string, out io.Writer) error {
	src := c.sealedSource(p)
	if exists(src.Path) {
		fmt.Fprintf(out, "%s: already sealed\n", src.Path)
		return nil
	}
	plain, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("seal-migrate: %w", err)
	}
	defer clear(plain)
	info, err := sealedfile.Seal(ctx, src, plain, sealedfile.Options{})
	if err != nil {
		return fmt.Errorf("seal-migrate: %w", err)
	}
	fmt.Fprintf(out, "%s: sealed (%s)\n", src.Path, info.Algorithm)
	return nil
}

// verifySecrets proves that c's secret files (sealed or not, as c says)
// work: the keystore opens, the peppers parse, the TLS key fits.
func verifySecrets(ctx context.Context, c Config) error {
	if c.secretFileExists(c.keystorePassFile()) {
		b, err := backend.Open(ctx, c.defaultBackendURI(c.SealTo != ""))
		if err != nil {
			return fmt.Errorf("open the keystore: %w", err)
		}
		if err := b.Close(); err != nil {
			return err
		}
	}
	if os.Getenv("REFSERVER_PEPPERS") == "" {
		if _, err := c.loadPeppers(ctx); err != nil {
			return fmt.Errorf("peppers: %w", err)
		}
	}
	if _, err := c.loadKeyPair(ctx); err != nil {
		return fmt.Errorf("TLS key: %w", err)
	}
	return nil
}

// rollback unseals every sealed twin back to its plaintext name. All are
// opened before any is written, so that one that does not open (tampered,
// another key, a refused policy) leaves the directory as it was.
func rollback(ctx context.Context, c *Config, files []string, out io.Writer) error {
	secrets := map[string]backend.Secret{}
	defer func() {
		for _, s := range secrets {
			s.Wipe()
		}
	}()
	var restored []string
	for _, p := range files {
		src := c.sealedSource(p)
		if !exists(src.Path) {
			continue
		}
		secret, err := src.Open(ctx)
		if err != nil {
			return fmt.Errorf("seal-migrate -rollback: nothing was changed: %w", err)
		}
		secrets[p] = secret
		if err := checkRestorable(p, secret); err != nil {
			return err
		}
		restored = append(restored, p)
	}
	for _, p := range restored {
		if err := restore(p, secrets[p]); err != nil {
			return err
		}
		fmt.Fprintf(out, "%s: restored\n", p)
	}
	plain := *c
	plain.SealTo, plain.SealKey = "", ""
	if err := verifySecrets(ctx, plain); err != nil {
		return fmt.Errorf("seal-migrate -rollback: the plaintext files do not work together, so the sealed files stay: %w", err)
	}
	for _, p := range restored {
		if err := os.Remove(sealedPath(p)); err != nil {
			return err
		}
		fmt.Fprintf(out, "removed %s\n", sealedPath(p))
	}
	return syncDirs(files)
}

// checkRestorable refuses a plaintext file that exists and holds another
// secret than its sealed twin.
func checkRestorable(p string, secret []byte) error {
	have, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer clear(have)
	if subtle.ConstantTimeCompare(have, secret) != 1 {
		return fmt.Errorf("seal-migrate -rollback: %s exists and holds another secret than %s; nothing was changed: %w", p, sealedPath(p), sealedfile.ErrExists)
	}
	return nil
}

// restore writes secret to p (0600, atomically) unless p exists (then
// checkRestorable found it holds the same secret).
func restore(p string, secret []byte) error {
	if exists(p) {
		return nil
	}
	return sealedfile.WriteAtomic(p, secret, sealedfile.Options{})
}

// removeWiped overwrites a plaintext secret file with zeros, syncs it and
// removes it. On copy-on-write file systems and flash the old blocks may
// survive; see docs/sealing.md.
func removeWiped(p string) error {
	f, err := os.OpenFile(p, os.O_WRONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil {
		_, err = f.Write(make([]byte, st.Size()))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("wipe %s: %w", p, err)
	}
	return os.Remove(p)
}

func syncDirs(files []string) error {
	seen := map[string]bool{}
	for _, p := range files {
		d := filepath.Dir(p)
		if seen[d] {
			continue
		}
		seen[d] = true
		f, err := os.Open(d)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("sync %s: %w", d, err)
		}
	}
	return nil
}
