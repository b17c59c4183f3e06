//lint:file-ignore SA1019 the decrypt test covers PKCS #1 v1.5 too, which the backend contract requires
package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
)

// TestWireDecryptPlaintextEncrypted records the bytes between the backend
// and swtpm while it decrypts: the plaintext must not be among them. A raw
// TPM2_RSA_Decrypt without session encryption through the same recorder
// shows that the check would see it.
func TestWireDecryptPlaintextEncrypted(t *testing.T) {
	sw := swtpmtest.Start(t)
	wire := sw.Record(t)
	ctx := testContext(t)
	b, err := Open(ctx, "tpm:swtpm="+wire.Socket+";dir="+t.TempDir())
	require.NoError(t, err)
	defer b.Close()
	k := generate(t, b, backend.RSA2048, "decrypt", backend.UsageDecrypt)
	pub := k.Public().(*rsa.PublicKey)
	d, err := k.Decrypter()
	require.NoError(t, err)

	for _, tc := range []struct {
		name    string
		encrypt func(msg []byte) ([]byte, error)
		opts    crypto.DecrypterOpts
	}{
		{"OAEP", func(msg []byte) ([]byte, error) {
			return rsa.EncryptOAEP(crypto.SHA256.New(), rand.Reader, pub, msg, nil)
		}, &rsa.OAEPOptions{Hash: crypto.SHA256}},
		{"PKCS1v15", func(msg []byte) ([]byte, error) { return rsa.EncryptPKCS1v15(rand.Reader, pub, msg) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			secret := make([]byte, 32)
			_, _ = rand.Read(secret)
			c, err := tc.encrypt(secret)
			require.NoError(t, err)
			wire.Reset()
			got, err := d.DecryptContext(ctx, rand.Reader, c, tc.opts)
			require.NoError(t, err)
			require.Equal(t, secret, got)
			sniffed := wire.Bytes()
			require.True(t, bytes.Contains(sniffed, c), "the recorder saw the decryption (its ciphertext)")
			require.False(t, bytes.Contains(sniffed, secret), "the plaintext crossed the bus in the clear")
		})
	}

	t.Run("detector", func(t *testing.T) {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		c, err := rsa.EncryptOAEP(crypto.SHA256.New(), rand.Reader, pub, secret, nil)
		require.NoError(t, err)
		tpm, h, unlock := rawTPM(t, b, k)
		defer unlock()
		wire.Reset()
		rsp, err := tpm2.RSADecrypt{
			KeyHandle:  h, // password session: no parameter encryption
			CipherText: tpm2.TPM2BPublicKeyRSA{Buffer: c},
			InScheme: tpm2.TPMTRSADecrypt{Scheme: tpm2.TPMAlgOAEP,
				Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgOAEP, &tpm2.TPMSEncSchemeOAEP{HashAlg: tpm2.TPMAlgSHA256})},
		}.Execute(tpm)
		require.NoError(t, err)
		require.Equal(t, secret, rsp.Message.Buffer)
		require.True(t, bytes.Contains(wire.Bytes(), secret), "without session encryption the recorder sees the plaintext")
	})
}

// TestWireImportKeyEncrypted records the bytes of an import: neither the
// ECDSA private scalar nor the RSA primes may appear. A cleartext
// TPM2_Import through the same recorder shows that the check would see
// them.
func TestWireImportKeyEncrypted(t *testing.T) {
	sw := swtpmtest.Start(t)
	wire := sw.Record(t)
	ctx := testContext(t)
	b, err := Open(ctx, "tpm:swtpm="+wire.Socket+";dir="+t.TempDir())
	require.NoError(t, err)
	defer b.Close()

	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	scalar, err := ecKey.Bytes()
	require.NoError(t, err)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)

	wire.Reset()
	_, err = b.ImportKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "ec"}, ecKey)
	require.NoError(t, err)
	_, err = b.ImportKey(ctx, backend.KeySpec{Algorithm: backend.RSA2048, Label: "rsa"}, rsaKey)
	require.NoError(t, err)
	sniffed := wire.Bytes()
	require.True(t, bytes.Contains(sniffed, rsaKey.N.Bytes()), "the recorder saw the imports (the RSA modulus)")
	for name, secret := range map[string][]byte{
		"ECDSA scalar": scalar,
		"RSA prime p":  rsaKey.Primes[0].Bytes(),
		"RSA prime q":  rsaKey.Primes[1].Bytes(),
		"RSA exponent": rsaKey.D.Bytes(),
	} {
		require.False(t, bytes.Contains(sniffed, secret), "%s crossed the bus in the clear", name)
	}

	t.Run("detector", func(t *testing.T) {
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		d, err := other.Bytes()
		require.NoError(t, err)
		pub, sens, err := importAreas(backend.ECDSAP256, tpm2.TPMAObject{UserWithAuth: true, SignEncrypt: true}, other, nil)
		require.NoError(t, err)
		require.True(t, bytes.Contains(sens, d), "sens holds the scalar")
		tpm, _, unlock := rawTPM(t, b, nil)
		defer unlock()
		wire.Reset()
		// No outer wrapper: the duplicate is the bare TPM2B_SENSITIVE.
		_, err = tpm2.Import{
			ParentHandle: b.dev.srk,
			ObjectPublic: tpm2.New2B(pub),
			Duplicate:    tpm2.TPM2BPrivate{Buffer: tpm2.Marshal(tpm2.TPM2BPrivate{Buffer: sens})},
			Symmetric:    tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
		}.Execute(tpm)
		require.NoError(t, err)
		require.True(t, bytes.Contains(wire.Bytes(), d), "a cleartext import shows the scalar to the recorder")
	})
}

// TestWireAuthValueNeverSent records the bytes of creating and using keys
// with an auth value (alone and with a PCR binding): neither the auth
// value nor a decrypted plaintext may appear. A raw command authorized by
// the password itself shows that the check would see it.
func TestWireAuthValueNeverSent(t *testing.T) {
	sw := swtpmtest.Start(t)
	wire := sw.Record(t)
	ctx := testContext(t)
	b, err := Open(ctx, "tpm:swtpm="+wire.Socket+";dir="+t.TempDir())
	require.NoError(t, err)
	defer b.Close()

	for _, tc := range []struct {
		name string
		pcrs *backend.PCRPolicy
	}{
		{"auth value", nil},
		{"auth value and PCRs", &backend.PCRPolicy{Indexes: []int{16}}},
		{"PCRs", &backend.PCRPolicy{Indexes: []int{7}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth := randomAuthValue()
			policy := &backend.KeyPolicy{AuthValue: auth, PCRs: tc.pcrs}
			if tc.name == "PCRs" {
				policy.AuthValue = nil
			}
			wire.Reset()
			k, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.RSA2048, Label: tc.name, Usage: backend.UsageSign | backend.UsageDecrypt, Policy: policy})
			require.NoError(t, err)
			k = k.(backend.AuthValueKey).WithAuthValue(auth)
			s, err := k.Signer()
			require.NoError(t, err)
			_, err = s.Sign(rand.Reader, digestOf(crypto.SHA256), crypto.SHA256)
			require.NoError(t, err)
			secret := make([]byte, 32)
			_, _ = rand.Read(secret)
			c, err := rsa.EncryptOAEP(crypto.SHA256.New(), rand.Reader, k.Public().(*rsa.PublicKey), secret, nil)
			require.NoError(t, err)
			d, err := k.Decrypter()
			require.NoError(t, err)
			got, err := d.Decrypt(rand.Reader, c, &rsa.OAEPOptions{Hash: crypto.SHA256})
			require.NoError(t, err)
			require.Equal(t, secret, got)

			sniffed := wire.Bytes()
			require.True(t, bytes.Contains(sniffed, c), "the recorder saw the decryption")
			require.False(t, bytes.Contains(sniffed, secret), "the plaintext crossed the bus in the clear")
			if len(policy.AuthValue) > 0 {
				require.False(t, bytes.Contains(sniffed, auth), "the auth value crossed the bus")
			}
		})
	}

	t.Run("detector", func(t *testing.T) {
		auth := randomAuthValue()
		k, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "detector", Policy: &backend.KeyPolicy{AuthValue: auth}})
		require.NoError(t, err)
		tpm, h, unlock := rawTPM(t, b, k)
		defer unlock()
		wire.Reset()
		h.Auth = tpm2.PasswordAuth(auth) // the password itself, in the clear
		_, err = tpm2.Sign{
			KeyHandle:  h,
			Digest:     tpm2.TPM2BDigest{Buffer: digestOf(crypto.SHA256)},
			InScheme:   tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgECDSA, Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256})},
			Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
		}.Execute(tpm)
		require.NoError(t, err)
		require.True(t, bytes.Contains(wire.Bytes(), auth), "a password session shows the auth value to the recorder")
	})
}

// randomAuthValue is 20 random bytes without a zero byte (see
// checkAuthValue).
func randomAuthValue() backend.Secret {
	auth := make(backend.Secret, 20)
	_, _ = rand.Read(auth)
	for i := range auth {
		auth[i] |= 1
	}
	return auth
}
