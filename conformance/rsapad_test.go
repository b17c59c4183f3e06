//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract, so the suite must exercise it

package conformance

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/stretchr/testify/require"
)

// The padding the decryption checks build by hand must be exactly what
// crypto/rsa accepts when left intact, and what it refuses when broken;
// otherwise the checks would blame backends for the suite's mistakes.
func TestHandmadePaddingAgreesWithCryptoRSA(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	pub := &priv.PublicKey
	k := pub.Size()
	msg := []byte("handmade padding")

	pt, err := rsa.DecryptPKCS1v15(nil, priv, rawEncrypt(pub, pkcs1EM(k, msg, 0)))
	require.NoError(t, err)
	require.Equal(t, msg, pt)

	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA512} {
		label := []byte("label")
		pt, err = rsa.DecryptOAEP(h.New(), nil, priv, rawEncrypt(pub, oaepEM(k, h, label, msg, nil, 0)), label)
		require.NoError(t, err, "%v", h)
		require.Equal(t, msg, pt)
	}

	for name, em := range map[string][]byte{
		"block type 01":  badBlockType(pkcs1EM(k, msg, 0)),
		"no separator":   noSeparator(pkcs1EM(k, msg, 0)),
		"7-byte padding": pkcs1EM(k, bytes.Repeat([]byte{1}, k-3-7), 7),
		"first byte 01":  func() []byte { em := pkcs1EM(k, msg, 0); em[0] = 1; return em }(),
		"empty padding":  append([]byte{0, 2, 0}, bytes.Repeat([]byte{1}, k-3)...),
		"block type 00":  func() []byte { em := pkcs1EM(k, msg, 0); em[1] = 0; return em }(),
	} {
		_, err := rsa.DecryptPKCS1v15(nil, priv, rawEncrypt(pub, em))
		require.ErrorIs(t, err, rsa.ErrDecryption, name)
	}
	for name, em := range map[string][]byte{
		"leading byte 01": oaepEM(k, crypto.SHA1, nil, msg, nil, 1),
		"wrong lHash":     oaepEM(k, crypto.SHA1, nil, msg, func(db []byte) { db[0] ^= 0x80 }, 0),
		"no 0x01":         oaepEM(k, crypto.SHA1, nil, msg, func(db []byte) { db[len(db)-len(msg)-1] = 0 }, 0),
		"separator 0x02":  oaepEM(k, crypto.SHA1, nil, msg, func(db []byte) { db[len(db)-len(msg)-1] = 2 }, 0),
	} {
		_, err := rsa.DecryptOAEP(crypto.SHA1.New(), nil, priv, rawEncrypt(pub, em), nil)
		require.ErrorIs(t, err, rsa.ErrDecryption, name)
	}
}
