package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	keyfile "github.com/foxboron/go-tpm-keyfiles"
	"github.com/google/go-tpm/tpm2"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestKeyFileFormat(t *testing.T) {
	dir := t.TempDir()
	b := openSim(t, dir)
	k := generate(t, b, backend.ECDSAP256, "web server", 0)

	path := filepath.Join(dir, k.ID().String()+".tss2.pem")
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	// The label is a line before the PEM block, where every PEM reader
	// skips text; the TSS2 structure has no optional field tpm2-openssl
	// would refuse.
	require.True(t, bytes.HasPrefix(data, []byte("Label: web server\n-----BEGIN TSS2 PRIVATE KEY-----\n")), "%s", data)

	tk, err := keyfile.Decode(data)
	require.NoError(t, err)
	require.True(t, tk.Keytype.Equal(keyfile.OIDLoadableKey))
	require.Equal(t, tpm2.TPMRHOwner, tk.Parent)
	require.True(t, tk.EmptyAuth)
	require.Empty(t, tk.Description)
	require.Empty(t, tk.Policy)
	require.Empty(t, tk.AuthPolicy)
	pub, err := tk.PublicKey()
	require.NoError(t, err)
	require.True(t, pub.(*ecdsa.PublicKey).Equal(k.Public()))

	tpub, err := tk.Pubkey.Contents()
	require.NoError(t, err)
	a := tpub.ObjectAttributes
	require.True(t, a.FixedTPM && a.FixedParent && a.SensitiveDataOrigin && a.UserWithAuth && a.SignEncrypt)
	require.False(t, a.Decrypt || a.Restricted)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary files left behind")
}

// TestKeyFileLoadsWithKeyfiles checks interoperability: go-tpm-keyfiles
// loads our file under the SRK it derives itself (the TSS2 convention for
// parent 0x40000001) and signs with it.
func TestKeyFileLoadsWithKeyfiles(t *testing.T) {
	dir := t.TempDir()
	b := openSim(t, dir)
	k := generate(t, b, backend.ECDSAP256, "interop", 0)
	data, err := os.ReadFile(filepath.Join(dir, k.ID().String()+".tss2.pem"))
	require.NoError(t, err)
	tk, err := keyfile.Decode(data)
	require.NoError(t, err)

	tpm, _, unlock := rawTPM(t, b, nil)
	defer unlock()
	digest := digestOf(crypto.SHA256)
	sess := keyfile.NewTPMSession(nopCloser{tpm})
	sig, err := keyfile.SignASN1(sess, tk, nil, nil, digest, tpm2.TPMAlgSHA256, tpm2.TPMAlgECC)
	require.NoError(t, err)
	require.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest, sig))
	flushTransients(tpm) // keyfiles leaves its SRK and key loaded
	b.dev.stale = true   // and so did we lose ours: reconnect next time
}

type nopCloser struct{ tpm2Transport }

func (nopCloser) Close() error { return nil }

func TestCorruptKeyFile(t *testing.T) {
	dir := t.TempDir()
	b := openSim(t, dir)
	good := generate(t, b, backend.ECDSAP256, "good", 0)
	id := backend.KeyID{0xba, 0xd0}
	require.NoError(t, os.WriteFile(filepath.Join(dir, id.String()+".tss2.pem"), []byte("-----BEGIN TSS2 PRIVATE KEY-----\nAAAA\n-----END TSS2 PRIVATE KEY-----\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a key"), 0o600))

	keys, err := b.Keys(testContext(t))
	require.ErrorIs(t, err, backend.ErrCorrupt, "the damaged file is reported, not hidden")
	require.Contains(t, err.Error(), id.String()+".tss2.pem", "the error names the file")
	require.NotContains(t, err.Error(), "notes.txt", "files that are not key files are not keys")
	require.Len(t, keys, 1, "the usable keys come with the error")
	require.Equal(t, good.ID(), keys[0].ID())

	_, err = b.Key(testContext(t), backend.ByID(id))
	require.ErrorIs(t, err, backend.ErrCorrupt)
	_, err = b.GenerateKey(testContext(t), backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "shadow", ID: id})
	require.ErrorIs(t, err, backend.ErrKeyExists)

	s, err := good.Signer()
	require.NoError(t, err)
	_, err = s.Sign(rand.Reader, digestOf(crypto.SHA256), crypto.SHA256)
	require.NoError(t, err)
}
