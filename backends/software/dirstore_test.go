package software_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/software"
)

// fillDir puts one key of every algorithm into b: RSA keys imported from the
// shared pool (generating them again would be slow), the rest generated.
func fillDir(t *testing.T, b backend.Backend) map[string]backend.Key {
	t.Helper()
	ctx := context.Background()
	keys := map[string]backend.Key{}
	for _, alg := range backend.Algorithms() {
		spec := backend.KeySpec{Algorithm: alg, Label: "key " + string(alg), Usage: usageFor(alg)}
		var (
			k   backend.Key
			err error
		)
		if alg.Family() == backend.FamilyRSA {
			k, err = b.(backend.Importer).ImportKey(ctx, spec, rawKeys()[alg])
		} else {
			k, err = b.GenerateKey(ctx, spec)
		}
		require.NoError(t, err)
		keys[k.Label()] = k
	}
	return keys
}

func TestDirRestart(t *testing.T) {
	uri, dir := newDirURI(t)
	b := openDir(t, uri)
	require.Equal(t, "directory", b.Info().Kind)
	require.True(t, b.Info().Persistent)
	before := fillDir(t, b)
	require.NoError(t, b.Close())

	b = openDir(t, uri)
	keys, err := b.Keys(context.Background())
	require.NoError(t, err)
	require.Len(t, keys, len(before))
	for _, k := range keys {
		t.Run(k.Label(), func(t *testing.T) {
			old := before[k.Label()]
			require.NotNil(t, old)
			require.Equal(t, old.ID(), k.ID())
			require.Equal(t, old.Algorithm(), k.Algorithm())
			require.True(t, publicEqual(old.Public(), k.Public()))
			exercise(t, k)
			if k.Algorithm().Decrypts() {
				d, err := k.Decrypter()
				require.NoError(t, err, "usage survives a restart")
				ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public().(*rsa.PublicKey), []byte("x"), nil)
				require.NoError(t, err)
				pt, err := d.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
				require.NoError(t, err)
				require.Equal(t, []byte("x"), pt)
			}
		})
	}

	// A deletion is durable too.
	require.NoError(t, b.DeleteKey(context.Background(), backend.ByLabel("key Ed25519")))
	require.NoError(t, b.Close())
	b = openDir(t, uri)
	_, err = b.Key(context.Background(), backend.ByLabel("key Ed25519"))
	requireErr(t, err, backend.ErrKeyNotFound)
	keys, err = b.Keys(context.Background())
	require.NoError(t, err)
	require.Len(t, keys, len(before)-1)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".key") {
			n++
		}
	}
	require.Equal(t, len(before)-1, n, "one file per key")
}

func TestDirPassphrase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	b := openDir(t, dirURI(t, dir, testPassphrase))
	_, err := b.GenerateKey(context.Background(), backend.KeySpec{Algorithm: backend.Ed25519, Label: "k"})
	require.NoError(t, err)
	require.NoError(t, b.Close())

	t.Run("wrong passphrase", func(t *testing.T) {
		_, err := backend.Open(context.Background(), dirURI(t, dir, "Tr0ub4dor&3"))
		requireErr(t, err, backend.ErrAuth)
		require.NotContains(t, err.Error(), "Tr0ub4dor")
		require.NotContains(t, err.Error(), testPassphrase)
		require.Contains(t, err.Error(), dir)
	})
	t.Run("wrong passphrase in the URI is redacted", func(t *testing.T) {
		_, err := backend.Open(context.Background(), "software:dir="+dir+"?pin-value=hunter2")
		requireErr(t, err, backend.ErrAuth)
		require.NotContains(t, err.Error(), "hunter2")
		require.Contains(t, err.Error(), "REDACTED")
	})
	t.Run("env", func(t *testing.T) {
		t.Setenv("CRYPTOPLUG_TEST_PASSPHRASE", testPassphrase)
		b := openDir(t, "software:dir="+dir+"?pin-source=env:CRYPTOPLUG_TEST_PASSPHRASE")
		_, err := b.Key(context.Background(), backend.ByLabel("k"))
		require.NoError(t, err)
	})
	t.Run("pin-value", func(t *testing.T) {
		b := openDir(t, "software:dir="+dir+";pin-value="+strings.ReplaceAll(testPassphrase, " ", "%20"))
		require.Equal(t, "software:dir="+dir+";pin-value=REDACTED", b.Info().URI)
		k, err := b.Key(context.Background(), backend.ByLabel("k"))
		require.NoError(t, err)
		signAndVerify(t, k)
	})
}

func TestDirWorkFactorIsRecorded(t *testing.T) {
	uri, dir := newDirURI(t)
	openDir(t, uri)
	data, err := os.ReadFile(filepath.Join(dir, "keystore.age"))
	require.NoError(t, err)
	header, _, _ := strings.Cut(string(data), "\n---")
	require.Regexp(t, `(?m)^-> scrypt \S+ 10$`, header, "the identity is passphrase-encrypted at the work factor set for tests")
}

// corruption damages the key file at path; it may rename it and returns the
// path of the file Open will meet.
type corruption func(t *testing.T, path string) string

func TestDirCorruptKeyFile(t *testing.T) {
	other, otherDir := newDirURI(t)
	foreignStore := openDir(t, other)
	_, err := foreignStore.GenerateKey(context.Background(), backend.KeySpec{Algorithm: backend.Ed25519, Label: "foreign", ID: backend.KeyID{0xf0}})
	require.NoError(t, err)
	foreignFile := filepath.Join(otherDir, "f0.key")

	tests := []struct {
		name   string
		damage corruption
		byID   bool // the damaged file's name is still the victim's ID
	}{
		{"flipped byte", func(t *testing.T, p string) string { flipByte(t, p, 0.6); return p }, true},
		{"flipped header byte", func(t *testing.T, p string) string { flipByte(t, p, 0.05); return p }, true},
		{"flipped payload byte", func(t *testing.T, p string) string { flipByte(t, p, 0.97); return p }, true},
		{"truncated", func(t *testing.T, p string) string { truncate(t, p, 0.5); return p }, true},
		{"empty", func(t *testing.T, p string) string { truncate(t, p, 0); return p }, true},
		{"foreign store's file", func(t *testing.T, p string) string {
			data, err := os.ReadFile(foreignFile)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, data, 0o600))
			return p
		}, true},
		{"renamed", func(t *testing.T, p string) string {
			to := filepath.Join(filepath.Dir(p), "00ff.key")
			require.NoError(t, os.Rename(p, to))
			return to
		}, false},
		{"not hex", func(t *testing.T, p string) string {
			to := filepath.Join(filepath.Dir(p), "not-an-id.key")
			require.NoError(t, os.Rename(p, to))
			return to
		}, false},
		{"a directory", func(t *testing.T, p string) string {
			require.NoError(t, os.Remove(p))
			require.NoError(t, os.Mkdir(p, 0o700))
			return p
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uri, dir := newDirURI(t)
			b := openDir(t, uri)
			ctx := context.Background()
			victim, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "victim", ID: backend.KeyID{0xba, 0xd0}})
			require.NoError(t, err)
			_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: "survivor"})
			require.NoError(t, err)
			_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.MLKEM768, Label: "survivor 2"})
			require.NoError(t, err)
			require.NoError(t, b.Close())
			bad := tt.damage(t, filepath.Join(dir, victim.ID().String()+".key"))

			b = openDir(t, uri) // Open succeeds
			keys, err := b.Keys(ctx)
			requireErr(t, err, backend.ErrCorrupt)
			require.Contains(t, err.Error(), bad, "the error names the file")
			t.Log(err)
			require.Len(t, keys, 2, "the other keys are there")
			for _, k := range keys {
				exercise(t, k)
			}
			_, err = b.Key(ctx, backend.ByLabel("victim"))
			requireErr(t, err, backend.ErrKeyNotFound)
			if !tt.byID {
				return
			}
			_, err = b.Key(ctx, backend.ByID(victim.ID()))
			requireErr(t, err, backend.ErrCorrupt)
			require.Contains(t, err.Error(), bad)

			// The file's ID stays taken: nothing overwrites a damaged key.
			_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: "squatter", ID: victim.ID()})
			requireErr(t, err, backend.ErrKeyExists)
			_, err = os.Stat(bad)
			require.NoError(t, err)

			// Deleting by ID removes it.
			require.NoError(t, b.DeleteKey(ctx, backend.ByID(victim.ID())))
			require.NoFileExists(t, bad)
			keys, err = b.Keys(ctx)
			require.NoError(t, err)
			require.Len(t, keys, 2)
		})
	}
}

func flipByte(t *testing.T, path string, at float64) {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[int(float64(len(data))*at)] ^= 0x20
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

func truncate(t *testing.T, path string, keep float64) {
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(path, int64(float64(fi.Size())*keep)))
}

func TestDirCorruptIdentity(t *testing.T) {
	setup := func(t *testing.T) (uri, dir string) {
		uri, dir = newDirURI(t)
		b := openDir(t, uri)
		_, err := b.GenerateKey(context.Background(), backend.KeySpec{Algorithm: backend.Ed25519, Label: "k"})
		require.NoError(t, err)
		require.NoError(t, b.Close())
		return uri, dir
	}
	t.Run("truncated", func(t *testing.T) {
		uri, dir := setup(t)
		truncate(t, filepath.Join(dir, "keystore.age"), 0.5)
		_, err := backend.Open(context.Background(), uri)
		requireErr(t, err, backend.ErrCorrupt)
		require.Contains(t, err.Error(), filepath.Join(dir, "keystore.age"))
	})
	t.Run("payload damaged", func(t *testing.T) {
		uri, dir := setup(t)
		flipByte(t, filepath.Join(dir, "keystore.age"), 0.95)
		_, err := backend.Open(context.Background(), uri)
		requireErr(t, err, backend.ErrCorrupt)
	})
	t.Run("missing with key files present", func(t *testing.T) {
		uri, dir := setup(t)
		require.NoError(t, os.Remove(filepath.Join(dir, "keystore.age")))
		_, err := backend.Open(context.Background(), uri)
		requireErr(t, err, backend.ErrCorrupt)
		require.ErrorContains(t, err, "keystore.age")
		_, err = os.Stat(filepath.Join(dir, "keystore.age"))
		require.ErrorIs(t, err, fs.ErrNotExist, "no new store was made over the old keys")
	})
}

// TestDirNoPlaintext scans every file the store writes for the private keys'
// bytes in every form they exist in, for the labels and the passphrase.
func TestDirNoPlaintext(t *testing.T) {
	uri, dir := newDirURI(t)
	b := openDir(t, uri)
	needles := importNeedles(t, b, true)
	require.NoError(t, b.Close())

	files := 0
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() {
			return nil
		}
		files++
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		for _, n := range needles {
			require.False(t, bytes.Contains(data, []byte(n.bytes)), "%s found in %s", n.what, path)
			require.NotContains(t, filepath.Base(path), n.bytes)
		}
		return nil
	}))
	require.Equal(t, len(backend.Algorithms())+2, files, "keystore.age, .lock and one file per key")
}

type needle struct{ what, bytes string }

// importNeedles imports one key of every algorithm into b and returns the
// byte strings that must never appear in the store's storage: the private
// keys in every encoding we know, the passphrase and, when labelSecret, the
// labels (the directory store hides them; the PostgreSQL store keeps them
// in the clear so that the database can keep them unique).
func importNeedles(t *testing.T, b backend.Backend, labelSecret bool) []needle {
	var needles []needle
	add := func(what string, b []byte) {
		require.GreaterOrEqual(t, len(b), 16, what)
		needles = append(needles, needle{what, string(b)})
	}
	for _, alg := range backend.Algorithms() {
		raw := rawKeys()[alg]
		label := "secret-label-" + string(alg)
		_, err := b.(backend.Importer).ImportKey(context.Background(), backend.KeySpec{Algorithm: alg, Label: label}, raw)
		require.NoError(t, err)
		if labelSecret {
			add(string(alg)+" label", []byte(label))
		}
		switch k := raw.(type) {
		case *rsa.PrivateKey:
			der, err := x509.MarshalPKCS8PrivateKey(k)
			require.NoError(t, err)
			add(string(alg)+" PKCS#8", der)
			add(string(alg)+" D", k.D.Bytes())
			add(string(alg)+" P", k.Primes[0].Bytes())
			add(string(alg)+" Q", k.Primes[1].Bytes())
		case *ecdsa.PrivateKey:
			der, err := x509.MarshalPKCS8PrivateKey(k)
			require.NoError(t, err)
			add(string(alg)+" PKCS#8", der)
			d, err := k.Bytes()
			require.NoError(t, err)
			add(string(alg)+" scalar", d)
		case ed25519.PrivateKey:
			der, err := x509.MarshalPKCS8PrivateKey(k)
			require.NoError(t, err)
			add(string(alg)+" PKCS#8", der)
			add(string(alg)+" seed", k.Seed())
		case ed448.PrivateKey:
			add(string(alg)+" seed", k.Seed())
		case *mldsa44.PrivateKey:
			add(string(alg)+" seed", k.Seed())
			add(string(alg)+" packed", k.Bytes()[32:])
		case *mldsa65.PrivateKey:
			add(string(alg)+" seed", k.Seed())
			add(string(alg)+" packed", k.Bytes()[32:])
		case *mldsa87.PrivateKey:
			add(string(alg)+" seed", k.Seed())
			add(string(alg)+" packed", k.Bytes()[32:])
		case *mlkem.DecapsulationKey768:
			add(string(alg)+" seed", k.Bytes())
		case *mlkem.DecapsulationKey1024:
			add(string(alg)+" seed", k.Bytes())
		default:
			t.Fatalf("no needles for %T", raw)
		}
	}
	add("passphrase", []byte(testPassphrase))
	return needles
}

func TestDirFileModes(t *testing.T) {
	uri, dir := newDirURI(t)
	b := openDir(t, uri)
	_, err := b.GenerateKey(context.Background(), backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "k"})
	require.NoError(t, err)
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, fs.ModeDir|0o700, fi.Mode(), "the store creates its directory 0700")
	require.NoError(t, filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if path == dir {
			return nil
		}
		fi, err := d.Info()
		require.NoError(t, err)
		require.Equal(t, fs.FileMode(0o600), fi.Mode(), path)
		return nil
	}))
}

func TestDirRefusesGroupWritableDir(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o770))
	_, err := backend.Open(context.Background(), dirURI(t, dir, testPassphrase))
	requireErr(t, err, backend.ErrInvalidInput)
	require.ErrorContains(t, err, "chmod 700")
}

func TestDirRemovesStaleTempFiles(t *testing.T) {
	uri, dir := newDirURI(t)
	require.NoError(t, openDir(t, uri).Close())
	stale := filepath.Join(dir, ".tmp-123456")
	require.NoError(t, os.WriteFile(stale, []byte("half a key"), 0o600))
	b := openDir(t, uri)
	require.NoFileExists(t, stale)
	keys, err := b.Keys(context.Background())
	require.NoError(t, err)
	require.Empty(t, keys)
}

func TestDirLock(t *testing.T) {
	uri, _ := newDirURI(t)
	b := openDir(t, uri)
	_, err := backend.Open(context.Background(), uri)
	requireErr(t, err, software.ErrLocked)
	require.NoError(t, b.Close())
	b2 := openDir(t, uri) // Close released the lock
	require.NoError(t, b2.Close())
}

// TestDirLockAcrossProcesses runs itself as a child process that tries to
// open a store the parent holds.
func TestDirLockAcrossProcesses(t *testing.T) {
	const env = "CRYPTOPLUG_SOFTWARE_LOCK_CHILD_URI"
	if uri := os.Getenv(env); uri != "" {
		b, err := backend.Open(context.Background(), uri)
		switch {
		case err == nil:
			fmt.Println("child: opened")
			_ = b.Close()
		case errors.Is(err, software.ErrLocked):
			fmt.Println("child: locked")
		default:
			fmt.Println("child: error:", err)
		}
		return
	}
	uri, _ := newDirURI(t)
	child := func() string {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDirLockAcrossProcesses$", "-test.count=1")
		cmd.Env = append(os.Environ(), env+"="+uri)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		return string(out)
	}
	b := openDir(t, uri)
	require.Contains(t, child(), "child: locked")
	require.NoError(t, b.Close())
	require.Contains(t, child(), "child: opened")
}
