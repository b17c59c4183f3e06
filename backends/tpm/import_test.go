package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	keyfile "github.com/foxboron/go-tpm-keyfiles"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

// TestImport imports an RSA and an ECDSA key, uses them, and checks that
// they are marked as imported and outlive a reopen.
func TestImport(t *testing.T) {
	dir := t.TempDir()
	ctx := testContext(t)
	b := openSim(t, dir)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)

	ecBefore, err := ecKey.Bytes()
	require.NoError(t, err)
	ecBefore = bytes.Clone(ecBefore)
	rsaBefore := new(big.Int).Set(rsaKey.Primes[0])

	rk, err := b.ImportKey(ctx, backend.KeySpec{Algorithm: backend.RSA2048, Label: "rsa", Usage: backend.UsageSign | backend.UsageDecrypt}, rsaKey)
	require.NoError(t, err)
	require.True(t, rsaKey.PublicKey.Equal(rk.Public()))
	ek, err := b.ImportKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP384, Label: "ec"}, ecKey)
	require.NoError(t, err)
	require.True(t, ecKey.PublicKey.Equal(ek.Public()))

	use := func(rk, ek backend.Key) {
		t.Helper()
		d := digestOf(crypto.SHA256)
		s, err := rk.Signer()
		require.NoError(t, err)
		sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(&rsaKey.PublicKey, crypto.SHA256, d, sig))
		dec, err := rk.Decrypter()
		require.NoError(t, err)
		c, err := rsa.EncryptOAEP(crypto.SHA256.New(), rand.Reader, &rsaKey.PublicKey, []byte("imported"), nil)
		require.NoError(t, err)
		pt, err := dec.Decrypt(rand.Reader, c, &rsa.OAEPOptions{Hash: crypto.SHA256})
		require.NoError(t, err)
		require.Equal(t, []byte("imported"), pt)

		es, err := ek.Signer()
		require.NoError(t, err)
		d = digestOf(crypto.SHA384)
		sig, err = es.Sign(rand.Reader, d, crypto.SHA384)
		require.NoError(t, err)
		require.True(t, ecdsa.VerifyASN1(&ecKey.PublicKey, d, sig))
	}
	use(rk, ek)
	ecAfter, err := ecKey.Bytes()
	require.NoError(t, err)
	require.Equal(t, ecBefore, ecAfter, "the caller's key is left as it was")
	require.Zero(t, rsaBefore.Cmp(rsaKey.Primes[0]), "the caller's key is left as it was")

	for _, k := range []backend.Key{rk, ek} {
		data, err := os.ReadFile(filepath.Join(dir, k.ID().String()+".tss2.pem"))
		require.NoError(t, err)
		tk, err := keyfile.Decode(data)
		require.NoError(t, err)
		pub, err := tk.Pubkey.Contents()
		require.NoError(t, err)
		a := pub.ObjectAttributes
		require.False(t, a.SensitiveDataOrigin, "an imported key is not marked as made in the TPM")
		require.False(t, a.FixedTPM || a.FixedParent)
		require.True(t, k.(*key).obj.imported(), "the backend knows the key was imported")
	}

	require.NoError(t, b.Close())
	b2 := openSim(t, dir)
	rk2, err := b2.Key(ctx, backend.ByLabel("rsa"))
	require.NoError(t, err)
	ek2, err := b2.Key(ctx, backend.ByLabel("ec"))
	require.NoError(t, err)
	use(rk2, ek2)
}

func TestImportRefusals(t *testing.T) {
	ctx := testContext(t)
	b := openSim(t, "")
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, err = b.ImportKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "one"}, ecKey)
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		spec backend.KeySpec
		priv crypto.PrivateKey
		want error
	}{
		{"type mismatch", backend.KeySpec{Algorithm: backend.RSA2048, Label: "a"}, ecKey, backend.ErrInvalidInput},
		{"curve mismatch", backend.KeySpec{Algorithm: backend.ECDSAP384, Label: "b"}, ecKey, backend.ErrInvalidInput},
		{"no EdDSA in TPMs", backend.KeySpec{Algorithm: backend.Ed25519, Label: "c"}, edKey, backend.ErrUnsupported},
		{"nil key", backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "d"}, nil, backend.ErrInvalidInput},
		{"label taken", backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "one"}, ecKey, backend.ErrKeyExists},
		{"no label", backend.KeySpec{Algorithm: backend.ECDSAP256}, ecKey, backend.ErrInvalidInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := b.ImportKey(ctx, tc.spec, tc.priv)
			require.ErrorIs(t, err, tc.want)
		})
	}
}
