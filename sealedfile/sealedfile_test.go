package sealedfile_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
	"github.com/cryptoplug/cryptoplug/internal/scryptcost"
	"github.com/cryptoplug/cryptoplug/seal"
	"github.com/cryptoplug/cryptoplug/sealedfile"
)

// newStore makes a software directory store (passphrase from an
// environment variable) holding a key of each algorithm given, by label,
// and returns its URI.
func newStore(t *testing.T, keys map[string]backend.Algorithm) string {
	t.Helper()
	t.Cleanup(scryptcost.SetForTests(scryptcost.Min))
	env := "CP_SEALEDFILE_" + randHex(t, 6)
	t.Setenv(env, "root passphrase "+randHex(t, 8))
	uri := "software:dir=" + t.TempDir() + "?pin-source=env:" + env
	generate(t, uri, keys)
	return uri
}

func generate(t *testing.T, uri string, keys map[string]backend.Algorithm) {
	t.Helper()
	b, err := backend.Open(t.Context(), uri)
	require.NoError(t, err)
	defer b.Close()
	for label, alg := range keys {
		usage := backend.Usage(0)
		if alg.Decrypts() {
			usage = backend.UsageDecrypt
		}
		_, err := b.GenerateKey(t.Context(), backend.KeySpec{Algorithm: alg, Label: label, Usage: usage})
		require.NoError(t, err)
	}
}

func randHex(t *testing.T, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func TestSealCheckRotate(t *testing.T) {
	store := newStore(t, map[string]backend.Algorithm{"kem": backend.MLKEM768, "rsa": backend.RSA3072, "ec": backend.ECDSAP256})
	secret := []byte("pepper " + randHex(t, 16))
	dir := t.TempDir()
	src := backend.SealedSource{Path: filepath.Join(dir, "pepper.sealed"), By: store, Key: "kem"}

	info, err := sealedfile.Seal(t.Context(), src, secret, sealedfile.Options{})
	require.NoError(t, err)
	require.Equal(t, 1, info.Scheme)
	st, err := os.Stat(src.Path)
	require.NoError(t, err)
	require.Equal(t, sealedfile.Mode, st.Mode().Perm())
	data, err := os.ReadFile(src.Path)
	require.NoError(t, err)
	require.NotContains(t, string(data), string(secret))
	require.True(t, strings.HasPrefix(string(data), "-----BEGIN CRYPTOPLUG SEALED SECRET-----"))

	got, err := backend.ReadSecret(t.Context(), src.String())
	require.NoError(t, err)
	require.Equal(t, secret, []byte(got))
	checked, err := sealedfile.Check(t.Context(), src)
	require.NoError(t, err)
	require.Equal(t, info, checked)
	inspected, err := sealedfile.Inspect(src.Path)
	require.NoError(t, err)
	require.Equal(t, info, inspected)

	_, err = sealedfile.Seal(t.Context(), src, []byte("other"), sealedfile.Options{})
	require.ErrorIs(t, err, sealedfile.ErrExists)
	_, err = sealedfile.Seal(t.Context(), backend.SealedSource{Path: filepath.Join(dir, "x"), By: store, Key: "ec"}, secret, sealedfile.Options{})
	require.ErrorIs(t, err, backend.ErrUnsupported, "an ECDSA key cannot unseal")
	require.NoFileExists(t, filepath.Join(dir, "x"))

	// Rotate in place to the RSA key, keeping the old file.
	to := src
	to.Key = "rsa"
	info, err = sealedfile.Rotate(t.Context(), src, to, sealedfile.Options{Replace: true, KeepOld: true})
	require.NoError(t, err)
	require.Equal(t, 3, info.Scheme)
	require.Contains(t, info.Algorithm, "RSA-OAEP-SHA-256", "a software key does SHA-256")
	got, err = backend.ReadSecret(t.Context(), to.String())
	require.NoError(t, err)
	require.Equal(t, secret, []byte(got))
	_, err = backend.ReadSecret(t.Context(), src.String())
	require.ErrorIs(t, err, seal.ErrUnsupportedKey, "the file is now sealed to the RSA key")
	old, err := os.ReadFile(src.Path + ".old")
	require.NoError(t, err)
	require.Equal(t, data, old, "the previous file is kept for a rollback")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "no temporary file is left behind")
}

// A file that does not open is never replaced, whatever is wrong with it.
func TestRotateRefusesAndWritesNothing(t *testing.T) {
	store := newStore(t, map[string]backend.Algorithm{"kem": backend.MLKEM768, "rsa": backend.RSA2048})
	other := newStore(t, map[string]backend.Algorithm{"kem": backend.MLKEM768})
	dir := t.TempDir()
	good := backend.SealedSource{Path: filepath.Join(dir, "good"), By: store, Key: "kem"}
	_, err := sealedfile.Seal(t.Context(), good, []byte("s3cret-value"), sealedfile.Options{})
	require.NoError(t, err)
	armored, err := os.ReadFile(good.Path)
	require.NoError(t, err)
	blob, err := seal.Dearmor(armored)
	require.NoError(t, err)
	tampered := append([]byte(nil), blob...)
	tampered[len(tampered)-5] ^= 0x80
	newer := append([]byte(nil), blob...)
	newer[3] = '2'

	for _, c := range []struct {
		name string
		data []byte
		by   string
		want error
	}{
		{"wrong key", armored, other, seal.ErrWrongKey},
		{"tampered", seal.Armor(tampered), store, seal.ErrCorrupt},
		{"truncated", armored[:len(armored)-40], store, seal.ErrTruncated},
		{"unknown format", seal.Armor(newer), store, seal.ErrUnknownFormat},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f.sealed")
			require.NoError(t, os.WriteFile(p, c.data, 0o600))
			from := backend.SealedSource{Path: p, By: c.by, Key: "kem"}
			to := backend.SealedSource{Path: p, By: store, Key: "rsa"}
			_, err := sealedfile.Rotate(t.Context(), from, to, sealedfile.Options{Replace: true, KeepOld: true})
			require.ErrorIs(t, err, c.want)
			require.NotContains(t, err.Error(), "s3cret")
			_, err = sealedfile.Check(t.Context(), from)
			require.ErrorIs(t, err, c.want)
			after, err := os.ReadFile(p)
			require.NoError(t, err)
			require.Equal(t, c.data, after, "nothing is overwritten")
			entries, err := os.ReadDir(filepath.Dir(p))
			require.NoError(t, err)
			require.Len(t, entries, 1, "no .old, no temporary file")
		})
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	require.NoError(t, sealedfile.WriteAtomic(p, []byte("one"), sealedfile.Options{}))
	require.ErrorIs(t, sealedfile.WriteAtomic(p, []byte("two"), sealedfile.Options{}), sealedfile.ErrExists)
	require.NoError(t, sealedfile.WriteAtomic(p, []byte("two"), sealedfile.Options{Replace: true, KeepOld: true}))
	require.NoError(t, sealedfile.WriteAtomic(p, []byte("three"), sealedfile.Options{Replace: true, KeepOld: true}))
	for name, want := range map[string]string{"f": "three", "f.old": "two"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, want, string(b))
		st, err := os.Stat(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, sealedfile.Mode, st.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2)
}
