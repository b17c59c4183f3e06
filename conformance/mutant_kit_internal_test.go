package conformance

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"
)

// The kit's own cryptography must be right, or a mutant would be caught for
// the kit's mistake rather than for its bug.
func TestMutantKitCryptography(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	digest := randomDigest(crypto.SHA384)
	k, _ := rand.Int(rand.Reader, ec.Curve.Params().N)
	sig, err := ecdsaSignWithNonce(ec, digest, k)
	require.NoError(t, err)
	require.True(t, ecdsa.VerifyASN1(&ec.PublicKey, digest, sig), "a signature with a chosen nonce verifies")
	sig2, err := ecdsaSignWithNonce(ec, randomDigest(crypto.SHA384), k)
	require.NoError(t, err)
	r1, _, _ := parseECDSA(sig)
	r2, _, _ := parseECDSA(sig2)
	require.Zero(t, r1.Cmp(r2), "the same nonce gives the same r")

	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	d := randomDigest(crypto.SHA256)
	salt := randomBytes(32)
	pss := pssSign(priv, crypto.SHA256, crypto.SHA256, d, salt)
	require.NoError(t, rsa.VerifyPSS(&priv.PublicKey, crypto.SHA256, d, pss, &rsa.PSSOptions{SaltLength: 32}))
	got, err := pssSalt(&priv.PublicKey, crypto.SHA256, d, pss)
	require.NoError(t, err)
	require.Equal(t, salt, got, "pssSalt recovers the salt")
	std, err := rsa.SignPSS(rand.Reader, priv, crypto.SHA256, d, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	require.NoError(t, err)
	got, err = pssSalt(&priv.PublicKey, crypto.SHA256, d, std)
	require.NoError(t, err)
	require.Len(t, got, 32)
	sha1pss := pssSign(priv, crypto.SHA256, crypto.SHA1, d, salt)
	require.Error(t, rsa.VerifyPSS(&priv.PublicKey, crypto.SHA256, d, sha1pss, nil), "MGF1-SHA1 is not PSS-SHA256")

	m := new(big.Int).SetBytes(randomBytes(100))
	c := new(big.Int).Exp(m, big.NewInt(int64(priv.E)), priv.N)
	require.Equal(t, m.FillBytes(make([]byte, 256)), rsaPrivateOp(priv, c.Bytes()))

	dk, err := mlkem.GenerateKey768()
	require.NoError(t, err)
	_, ct := dk.EncapsulationKey().Encapsulate()
	require.False(t, mlkem768Rejects(dk.Bytes(), ct), "a valid ciphertext is accepted")
	ct[10] ^= 1
	require.True(t, mlkem768Rejects(dk.Bytes(), ct), "a tampered one is rejected")
}
