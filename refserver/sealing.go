package refserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/sealedfile"
)

// DefaultSealKey is the label of the sealing key when seal_key is not set.
const DefaultSealKey = "refserver-seal"

// sealedSuffix names a sealed file after the plaintext file it replaces:
// pepper → pepper.sealed.
const sealedSuffix = ".sealed"

// ErrSealedDataDir means a data directory holds sealed secrets but the
// configuration names no sealing backend (seal_to) to open them with.
var ErrSealedDataDir = errors.New("the data directory's secrets are sealed: give -seal-to (REFSERVER_SEAL_TO, seal_to) naming the backend that holds the sealing key")

func sealedPath(p string) string {
	if strings.HasSuffix(p, sealedSuffix) {
		return p
	}
	return p + sealedSuffix
}

// resolveSealing checks SealTo and SealKey and fills SealKey's default.
func (c *Config) resolveSealing() error {
	if c.SealTo == "" {
		if c.SealKey != "" {
			return errors.New("seal_key is set but seal_to is not")
		}
		return nil
	}
	if c.SealKey == "" {
		c.SealKey = DefaultSealKey
	}
	// The whole chain of the sealing backend's own secrets is checked
	// now, before init writes or serve opens anything.
	if _, err := backend.ParseSealedSource(c.sealedSource("/check").String()); err != nil {
		return fmt.Errorf("seal_to: %w", err)
	}
	return nil
}

// sealedSource is the sealed: source of the sealed twin of path.
func (c *Config) sealedSource(path string) backend.SealedSource {
	return backend.SealedSource{Path: sealedPath(path), By: c.SealTo, Key: c.SealKey}
}

func (c *Config) keystorePassFile() string { return filepath.Join(c.DataDir, "keystore.pass") }

// defaultBackendURI is the software keystore under the data directory,
// its passphrase read from keystore.pass, or unsealed from
// keystore.pass.sealed with seal_to.
func (c *Config) defaultBackendURI(sealed bool) string {
	keys := "software:dir=" + filepath.Join(c.DataDir, "keys")
	if !sealed {
		return keys + "?pin-source=file:" + c.keystorePassFile()
	}
	return keys + "?pin-source=" + c.sealedSource(c.keystorePassFile()).AttrValue()
}

// readSecretFile reads one of the server's secret files: with seal_to its
// sealed twin, unsealed through the sealing key; otherwise the file itself.
// A sealed twin found without seal_to fails with ErrSealedDataDir, so that
// a forgotten flag is named as such rather than as a missing file.
func (c *Config) readSecretFile(ctx context.Context, path string) ([]byte, error) {
	if c.SealTo != "" {
		s, err := c.sealedSource(path).Open(ctx)
		return s, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && exists(sealedPath(path)) {
		return nil, fmt.Errorf("read %s: %w", path, ErrSealedDataDir)
	}
	return b, err
}

// secretFileExists reports whether the secret file (its sealed twin with
// seal_to) exists.
func (c *Config) secretFileExists(path string) bool {
	if c.SealTo != "" {
		return exists(sealedPath(path))
	}
	return exists(path)
}

// writeSecretFile creates one of the server's secret files and returns
// the path written: with seal_to its sealed twin, sealed to the sealing
// key and proved to open, otherwise the plaintext; mode 0600 either way,
// never replacing a file.
func (c *Config) writeSecretFile(ctx context.Context, path string, data []byte) (string, error) {
	if c.SealTo == "" {
		return path, writeNewFile(path, data, 0o600)
	}
	src := c.sealedSource(path)
	_, err := sealedfile.Seal(ctx, src, data, sealedfile.Options{})
	return src.Path, err
}

// loadPeppers reads the pepper set: REFSERVER_PEPPERS, or the pepper file
// (sealed with seal_to).
func (c *Config) loadPeppers(ctx context.Context) (*authn.PepperSet, error) {
	if os.Getenv("REFSERVER_PEPPERS") != "" {
		return authn.PeppersFromEnv("REFSERVER_PEPPERS")
	}
	if c.SealTo == "" {
		if _, err := os.Stat(c.PepperFile); errors.Is(err, fs.ErrNotExist) && exists(sealedPath(c.PepperFile)) {
			return nil, fmt.Errorf("read %s: %w", c.PepperFile, ErrSealedDataDir)
		}
		return authn.LoadPepperFile(c.PepperFile)
	}
	text, err := c.readSecretFile(ctx, c.PepperFile)
	if err != nil {
		return nil, err
	}
	defer clear(text)
	return authn.ParsePeppers(string(text))
}

// loadKeyPair reads the TLS certificate and its key (sealed with seal_to).
func (c *Config) loadKeyPair(ctx context.Context) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(c.TLSCert)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := c.readSecretFile(ctx, c.TLSKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	defer clear(keyPEM)
	return tls.X509KeyPair(certPEM, keyPEM)
}

// ensureSealKey finds the sealing key in seal_to, or generates it: ML-KEM-768
// where the backend can generate and decapsulate with it (a software
// keystore), else RSA-3072 or RSA-2048 for decryption (a TPM, a PKCS #11
// token). It reports whether it generated the key.
func ensureSealKey(ctx context.Context, c *Config) (bool, error) {
	b, err := backend.Open(ctx, c.SealTo)
	if err != nil {
		return false, fmt.Errorf("open the sealing backend: %w", err)
	}
	defer b.Close()
	_, err = b.Key(ctx, backend.ByLabel(c.SealKey))
	if !errors.Is(err, backend.ErrKeyNotFound) {
		if err != nil {
			return false, fmt.Errorf("find the sealing key: %w", err)
		}
		return false, nil
	}
	caps := b.Capabilities()
	for _, spec := range []backend.KeySpec{
		{Algorithm: backend.MLKEM768, Usage: backend.UsageDecapsulate},
		{Algorithm: backend.RSA3072, Usage: backend.UsageDecrypt},
		{Algorithm: backend.RSA2048, Usage: backend.UsageDecrypt},
	} {
		op := backend.OpDecrypt
		if spec.Algorithm.Decapsulates() {
			op = backend.OpDecapsulate
		}
		if !caps.Supports(spec.Algorithm, backend.OpGenerate|op) {
			continue
		}
		spec.Label = c.SealKey
		if _, err := b.GenerateKey(ctx, spec); err != nil {
			return false, fmt.Errorf("generate the sealing key: %w", err)
		}
		return true, nil
	}
	return false, fmt.Errorf("the sealing backend can generate neither an ML-KEM nor an RSA decryption key: %w", backend.ErrUnsupported)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
