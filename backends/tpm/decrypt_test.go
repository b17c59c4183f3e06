//lint:file-ignore SA1019 the backend contract requires PKCS #1 v1.5 decryption, deprecated in Go 1.26
package tpm

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestDecryptRSA(t *testing.T) {
	b := openSim(t, "")
	k := generate(t, b, backend.RSA2048, "rsa-decrypt", backend.UsageDecrypt)
	d, err := k.Decrypter()
	require.NoError(t, err)
	_, err = k.Signer()
	require.ErrorIs(t, err, backend.ErrUnsupported, "a decrypt-only key must not sign")
	pub := k.Public().(*rsa.PublicKey)
	msg := []byte("a 32-byte session key 0123456789")

	oaep := func(h crypto.Hash, label []byte) []byte {
		c, err := rsa.EncryptOAEP(h.New(), rand.Reader, pub, msg, label)
		require.NoError(t, err)
		return c
	}
	pkcs1, err := rsa.EncryptPKCS1v15(rand.Reader, pub, msg)
	require.NoError(t, err)
	tests := []struct {
		name       string
		ciphertext []byte
		opts       crypto.DecrypterOpts
		wantErr    error
	}{
		{"oaep-sha256", oaep(crypto.SHA256, nil), &rsa.OAEPOptions{Hash: crypto.SHA256}, nil},
		{"oaep-sha1", oaep(crypto.SHA1, nil), &rsa.OAEPOptions{Hash: crypto.SHA1}, nil},
		{"oaep-sha384-explicit-mgf", oaep(crypto.SHA384, nil), &rsa.OAEPOptions{Hash: crypto.SHA384, MGFHash: crypto.SHA384}, nil},
		{"oaep-label-nul-terminated", oaep(crypto.SHA256, []byte("label\x00")), &rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("label\x00")}, nil},
		{"oaep-label-plain", oaep(crypto.SHA256, []byte("label")), &rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("label")}, backend.ErrUnsupported},
		{"oaep-wrong-label", oaep(crypto.SHA256, []byte("label\x00")), &rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("other\x00")}, rsa.ErrDecryption},
		{"oaep-other-mgf", oaep(crypto.SHA256, nil), &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1}, backend.ErrUnsupported},
		{"oaep-wrong-hash", oaep(crypto.SHA256, nil), &rsa.OAEPOptions{Hash: crypto.SHA384}, rsa.ErrDecryption},
		{"oaep-md5", oaep(crypto.SHA256, nil), &rsa.OAEPOptions{Hash: crypto.MD5}, backend.ErrUnsupported},
		{"pkcs1v15-nil-opts", pkcs1, nil, nil},
		{"pkcs1v15-opts", pkcs1, &rsa.PKCS1v15DecryptOptions{}, nil},
		{"pkcs1v15-session-key", pkcs1, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: len(msg)}, nil},
		{"pkcs1v15-given-oaep", oaep(crypto.SHA256, nil), nil, rsa.ErrDecryption},
		{"too-long", make([]byte, 257), nil, rsa.ErrDecryption},
		{"not-below-modulus", bytes.Repeat([]byte{0xff}, 256), &rsa.OAEPOptions{Hash: crypto.SHA256}, rsa.ErrDecryption},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := d.Decrypt(rand.Reader, tt.ciphertext, tt.opts)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, msg, got)
		})
	}

	t.Run("pkcs1v15-session-key-bad-padding", func(t *testing.T) {
		c := oaep(crypto.SHA256, nil) // not PKCS #1 v1.5 padded
		got1, err := d.Decrypt(rand.Reader, c, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 16})
		require.NoError(t, err)
		require.Len(t, got1, 16)
		got2, err := d.Decrypt(rand.Reader, c, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 16})
		require.NoError(t, err)
		require.NotEqual(t, got1, got2, "the replacement key must be random")
	})
	t.Run("pkcs1v15-session-key-wrong-length", func(t *testing.T) {
		got, err := d.Decrypt(rand.Reader, pkcs1, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 16})
		require.NoError(t, err)
		require.Len(t, got, 16)
		require.NotEqual(t, msg[:16], got)
	})
}
