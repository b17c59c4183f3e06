//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract and is tested here

package software_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"hash"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestDecrypt(t *testing.T) {
	msg := []byte("a session key of sorts")
	for _, alg := range []backend.Algorithm{backend.RSA2048, backend.RSA3072, backend.RSA4096} {
		k := generatedKey(t, alg)
		d, err := k.Decrypter()
		require.NoError(t, err)
		pub := k.Public().(*rsa.PublicKey)
		require.Equal(t, pub, d.Public())
		tests := []struct {
			name    string
			encrypt func() ([]byte, error)
			opts    crypto.DecrypterOpts
		}{
			{"OAEP-SHA256", oaep(sha256.New(), sha256.New(), pub, msg, nil), &rsa.OAEPOptions{Hash: crypto.SHA256}},
			{"OAEP-SHA1", oaep(sha1.New(), sha1.New(), pub, msg, nil), &rsa.OAEPOptions{Hash: crypto.SHA1}},
			{"OAEP-SHA512-label", oaep(sha512.New(), sha512.New(), pub, msg, []byte("label")), &rsa.OAEPOptions{Hash: crypto.SHA512, Label: []byte("label")}},
			{"OAEP-SHA256-MGF1-SHA1", oaep(sha256.New(), sha1.New(), pub, msg, nil), &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1}},
			{"PKCS1v15-nil", pkcs1(pub, msg), nil},
			{"PKCS1v15-options", pkcs1(pub, msg), &rsa.PKCS1v15DecryptOptions{}},
			{"PKCS1v15-session-key", pkcs1(pub, msg), &rsa.PKCS1v15DecryptOptions{SessionKeyLen: len(msg)}},
		}
		for _, tt := range tests {
			t.Run(string(alg)+"/"+tt.name, func(t *testing.T) {
				ct, err := tt.encrypt()
				require.NoError(t, err)
				pt, err := d.Decrypt(rand.Reader, ct, tt.opts)
				require.NoError(t, err)
				require.Equal(t, msg, pt)
				pt, err = d.DecryptContext(context.Background(), nil, ct, tt.opts)
				require.NoError(t, err)
				require.Equal(t, msg, pt)
			})
		}
	}
}

func oaep(h, mgf hash.Hash, pub *rsa.PublicKey, msg, label []byte) func() ([]byte, error) {
	return func() ([]byte, error) {
		opts := &rsa.OAEPOptions{Label: label}
		opts.Hash, opts.MGFHash = hashID(h), hashID(mgf)
		return rsa.EncryptOAEPWithOptions(rand.Reader, pub, msg, opts)
	}
}

func hashID(h hash.Hash) crypto.Hash {
	switch h.Size() {
	case 20:
		return crypto.SHA1
	case 32:
		return crypto.SHA256
	}
	return crypto.SHA512
}

func pkcs1(pub *rsa.PublicKey, msg []byte) func() ([]byte, error) {
	return func() ([]byte, error) { return rsa.EncryptPKCS1v15(rand.Reader, pub, msg) }
}

func TestDecryptFailures(t *testing.T) {
	b := openMemory(t)
	raw := rawKeys()[backend.RSA2048].(*rsa.PrivateKey)
	k, err := b.(backend.Importer).ImportKey(context.Background(),
		backend.KeySpec{Algorithm: backend.RSA2048, Label: "dec", Usage: backend.UsageDecrypt}, raw)
	require.NoError(t, err)
	d, err := k.Decrypter()
	require.NoError(t, err)
	pub := &raw.PublicKey

	good, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, []byte("secret"), nil)
	require.NoError(t, err)
	tampered := bytes.Clone(good)
	tampered[10] ^= 1
	goodPKCS1, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte("secret"))
	require.NoError(t, err)
	tamperedPKCS1 := bytes.Clone(goodPKCS1)
	tamperedPKCS1[5] ^= 0x80

	t.Run("ErrDecryption reveals nothing more", func(t *testing.T) {
		for _, c := range []struct {
			name string
			ct   []byte
			opts crypto.DecrypterOpts
		}{
			{"OAEP tampered", tampered, &rsa.OAEPOptions{Hash: crypto.SHA256}},
			{"OAEP wrong label", good, &rsa.OAEPOptions{Hash: crypto.SHA256, Label: []byte("x")}},
			{"OAEP wrong hash", good, &rsa.OAEPOptions{Hash: crypto.SHA384}},
			{"OAEP too long", append(bytes.Clone(good), 0), &rsa.OAEPOptions{Hash: crypto.SHA256}},
			{"OAEP empty", nil, &rsa.OAEPOptions{Hash: crypto.SHA256}},
			{"PKCS1v15 tampered", tamperedPKCS1, nil},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := d.Decrypt(rand.Reader, c.ct, c.opts)
				requireErr(t, err, rsa.ErrDecryption)
				_, want := raw.Decrypt(rand.Reader, c.ct, c.opts)
				require.Error(t, want, "the standard library fails too")
				require.Equal(t, "cryptoplug: software: decrypt key dec: crypto/rsa: decryption error", err.Error())
			})
		}
	})

	t.Run("session key hides bad padding like crypto/rsa", func(t *testing.T) {
		opts := &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 16}
		// Same random source for both: the "random" key is then the same.
		got, err := d.Decrypt(bytes.NewReader(bytes.Repeat([]byte{7}, 16)), tamperedPKCS1, opts)
		require.NoError(t, err)
		want, err := raw.Decrypt(bytes.NewReader(bytes.Repeat([]byte{7}, 16)), tamperedPKCS1, opts)
		require.NoError(t, err)
		require.Equal(t, want, got)
		got, err = d.Decrypt(nil, tamperedPKCS1, opts) // nil rand: crypto/rand
		require.NoError(t, err)
		require.Len(t, got, 16)
	})

	for _, c := range []struct {
		name string
		opts crypto.DecrypterOpts
		want error
	}{
		{"OAEP MD5", &rsa.OAEPOptions{Hash: crypto.MD5}, backend.ErrUnsupported},
		{"OAEP MGF1 MD5", &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.MD5}, backend.ErrUnsupported},
		{"OAEP SHA3", &rsa.OAEPOptions{Hash: crypto.SHA3_256}, backend.ErrUnsupported},
		{"nil OAEP options", (*rsa.OAEPOptions)(nil), backend.ErrInvalidInput},
		{"nil PKCS1v15 options", (*rsa.PKCS1v15DecryptOptions)(nil), backend.ErrInvalidInput},
		{"PSS options", &rsa.PSSOptions{}, backend.ErrInvalidInput},
		// crypto/rsa answers ErrDecryption after allocating the key; the
		// bound is checked first, and both sentinels match.
		{"PKCS1v15 session key too long for the key", &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 300}, backend.ErrInvalidInput},
		{"PKCS1v15 session key of 1.5 GB", &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 1_500_000_000}, rsa.ErrDecryption},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.Decrypt(rand.Reader, good, c.opts)
			requireErr(t, err, c.want)
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := d.DecryptContext(ctx, rand.Reader, good, &rsa.OAEPOptions{Hash: crypto.SHA256})
		requireErr(t, err, context.Canceled)
	})
}
