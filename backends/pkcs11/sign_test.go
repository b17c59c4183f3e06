//lint:file-ignore SA1019 the backend contract requires PKCS #1 v1.5 decryption, deprecated in Go 1.26
//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"strings"
	"testing"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/stretchr/testify/require"
)

func TestSignInputValidation(t *testing.T) {
	b, _ := newToken(t, "")
	ecKey := generate(t, b, backend.ECDSAP256, "ec", 0)
	rsaKey := generate(t, b, backend.RSA2048, "rsa", 0)
	ec, err := ecKey.Signer()
	require.NoError(t, err)
	rs, err := rsaKey.Signer()
	require.NoError(t, err)
	d := sha256.Sum256([]byte("m"))

	tests := []struct {
		name   string
		signer backend.Signer
		digest []byte
		opts   crypto.SignerOpts
		want   error
	}{
		{"ecdsa short digest", ec, d[:31], crypto.SHA256, backend.ErrInvalidInput},
		{"ecdsa long digest", ec, append(d[:], 0), crypto.SHA256, backend.ErrInvalidInput},
		{"ecdsa SHA-1", ec, make([]byte, 20), crypto.SHA1, backend.ErrUnsupported},
		{"ecdsa no hash", ec, d[:], crypto.Hash(0), backend.ErrInvalidInput},
		{"ecdsa nil opts", ec, d[:], nil, backend.ErrInvalidInput},
		{"rsa MD5", rs, make([]byte, 16), crypto.MD5, backend.ErrUnsupported},
		{"rsa SHA-384 size mismatch", rs, d[:], crypto.SHA384, backend.ErrInvalidInput},
		{"rsa no hash (bare digest)", rs, d[:], crypto.Hash(0), backend.ErrInvalidInput},
		{"pss salt too long", rs, d[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 256}, backend.ErrInvalidInput},
		{"pss negative salt", rs, d[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: -3}, backend.ErrInvalidInput},
		{"pss SHA-1", rs, make([]byte, 20), &rsa.PSSOptions{Hash: crypto.SHA1}, backend.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.signer.Sign(rand.Reader, tt.digest, tt.opts)
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestRSASchemes(t *testing.T) {
	b, _ := newToken(t, "")
	k := generate(t, b, backend.RSA2048, "rsa", 0)
	s, err := k.Signer()
	require.NoError(t, err)
	pub := k.Public().(*rsa.PublicKey)
	d := sha256.Sum256([]byte("m"))

	for _, tt := range []struct {
		name   string
		sign   *rsa.PSSOptions
		verify *rsa.PSSOptions
	}{
		{"auto signs with the largest salt", &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthAuto},
			&rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: backend.PSSMaxSaltLength(pub, crypto.SHA256)}},
		{"zero means auto", &rsa.PSSOptions{Hash: crypto.SHA256}, &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthAuto}},
		{"equals hash is exact", &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash},
			&rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}},
		{"explicit salt", &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 7}, &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 7}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := s.Sign(rand.Reader, d[:], tt.sign)
			require.NoError(t, err)
			require.NoError(t, rsa.VerifyPSS(pub, crypto.SHA256, d[:], sig, tt.verify))
		})
	}

	// PKCS #1 v1.5 with SHA3-256 gets its own DigestInfo (crypto11 would
	// sign the bare digest).
	d3 := sha3.Sum256([]byte("m"))
	sig, err := s.Sign(rand.Reader, d3[:], crypto.SHA3_256)
	require.NoError(t, err)
	require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA3_256, d3[:], sig))

	// SoftHSM2 has no SHA-3 PSS: unsupported, not a raw CKR.
	_, err = s.Sign(rand.Reader, d3[:], &rsa.PSSOptions{Hash: crypto.SHA3_256})
	require.ErrorIs(t, err, backend.ErrUnsupported)

	// ECDSA over a SHA-512 digest on P-256, as crypto/ecdsa allows.
	ecKey := generate(t, b, backend.ECDSAP256, "ec", 0)
	es, err := ecKey.Signer()
	require.NoError(t, err)
	d512 := sha512.Sum512([]byte("m"))
	sig, err = es.Sign(rand.Reader, d512[:], crypto.SHA512)
	require.NoError(t, err)
	require.True(t, ecdsa.VerifyASN1(ecKey.Public().(*ecdsa.PublicKey), d512[:], sig))
}

func TestEdDSA(t *testing.T) {
	b, _ := newToken(t, "")
	msg := []byte("an EdDSA message")

	k := generate(t, b, backend.Ed25519, "ed", 0)
	s, err := k.Signer()
	require.NoError(t, err)
	ms, ok := s.(backend.MessageSigner)
	require.True(t, ok, "Ed25519 signers are MessageSigners")
	pub := k.Public().(ed25519.PublicKey)
	for _, opts := range []crypto.SignerOpts{crypto.Hash(0), &ed25519.Options{}} {
		sig, err := ms.SignMessage(rand.Reader, msg, opts)
		require.NoError(t, err)
		require.True(t, ed25519.Verify(pub, msg, sig))
		sig, err = ms.SignMessageContext(context.Background(), rand.Reader, msg, opts)
		require.NoError(t, err)
		require.True(t, ed25519.Verify(pub, msg, sig))
	}
	sig, err := s.Sign(rand.Reader, msg, crypto.Hash(0)) // as ed25519.PrivateKey.Sign
	require.NoError(t, err)
	require.True(t, ed25519.Verify(pub, msg, sig))

	_, err = s.Sign(rand.Reader, msg, crypto.SHA256)
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	_, err = s.Sign(rand.Reader, msg, crypto.SHA512) // Ed25519ph needs a 64-byte digest
	require.ErrorIs(t, err, backend.ErrInvalidInput)

	// SoftHSM2 2.6 ignores CK_EDDSA_PARAMS: the signature is checked and the
	// variant reported unsupported, never returned wrong.
	digest := sha512.Sum512(msg)
	_, err = s.Sign(rand.Reader, digest[:], crypto.SHA512)
	require.ErrorIs(t, err, backend.ErrUnsupported)
	require.True(t, b.edParamsIgnored.Load())
	_, err = ms.SignMessage(rand.Reader, msg, &ed25519.Options{Context: "ctx"})
	require.ErrorIs(t, err, backend.ErrUnsupported)

	k448 := generate(t, b, backend.Ed448, "ed448", 0)
	s448, err := k448.Signer()
	require.NoError(t, err)
	sig, err = s448.(backend.MessageSigner).SignMessage(rand.Reader, msg, crypto.Hash(0))
	require.NoError(t, err)
	require.True(t, ed448.Verify(k448.Public().(ed448.PublicKey), msg, sig, ""))
	_, err = s448.Sign(rand.Reader, msg, crypto.SHA256)
	require.ErrorIs(t, err, backend.ErrInvalidInput)

	// circl's Ed448 options are a value type: both forms select the
	// variant, which this token cannot do; never a pure signature instead.
	for _, opts := range []crypto.SignerOpts{
		ed448.SignerOptions{Scheme: ed448.ED448, Context: "ctx"},
		&ed448.SignerOptions{Scheme: ed448.ED448, Context: "ctx"},
		ed448.SignerOptions{Scheme: ed448.ED448Ph},
		&ed448.SignerOptions{Scheme: ed448.ED448Ph},
	} {
		sig, err := s448.Sign(rand.Reader, msg, opts)
		require.ErrorIs(t, err, backend.ErrUnsupported, "%#v", opts)
		require.Nil(t, sig)
	}
	_, err = s448.Sign(rand.Reader, msg, (*ed448.SignerOptions)(nil))
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	_, err = s448.Sign(rand.Reader, msg, ed448.SignerOptions{Context: strings.Repeat("c", 256)})
	require.ErrorIs(t, err, backend.ErrInvalidInput)
}

// A nil context or typed nil options are the caller's mistake: a quick
// error, never a hang or a panic.
func TestNilContextAndTypedNilOptions(t *testing.T) {
	b, _ := newToken(t, "")
	k := generate(t, b, backend.RSA2048, "rsa", backend.UsageSign|backend.UsageDecrypt)
	s, err := k.Signer()
	require.NoError(t, err)
	d, err := k.Decrypter()
	require.NoError(t, err)
	digest := make([]byte, 32)
	//lint:ignore SA1012 a nil context is what is tested
	_, err = s.SignContext(nil, rand.Reader, digest, crypto.SHA256)
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	//lint:ignore SA1012 a nil context is what is tested
	_, err = d.DecryptContext(nil, rand.Reader, make([]byte, 256), nil)
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	_, err = s.Sign(rand.Reader, digest, (*rsa.PSSOptions)(nil))
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	_, err = d.Decrypt(rand.Reader, make([]byte, 256), (*rsa.PKCS1v15DecryptOptions)(nil))
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	_, err = d.Decrypt(rand.Reader, make([]byte, 256), (*rsa.OAEPOptions)(nil))
	require.ErrorIs(t, err, backend.ErrInvalidInput)
}

func TestDecrypt(t *testing.T) {
	b, _ := newToken(t, "")
	k := generate(t, b, backend.RSA2048, "rsa", backend.UsageDecrypt)
	d, err := k.Decrypter()
	require.NoError(t, err)
	pub := k.Public().(*rsa.PublicKey)
	secret := []byte("0123456789abcdef0123456789abcdef")

	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, secret)
	require.NoError(t, err)
	for _, opts := range []crypto.DecrypterOpts{nil, &rsa.PKCS1v15DecryptOptions{}} {
		pt, err := d.Decrypt(rand.Reader, ct, opts)
		require.NoError(t, err)
		require.Equal(t, secret, pt)
	}
	// A ciphertext one byte short is still the same integer.
	if ct[0] == 0 {
		pt, err := d.Decrypt(rand.Reader, ct[1:], nil)
		require.NoError(t, err)
		require.Equal(t, secret, pt)
	}

	// SessionKeyLen: the key on success; random bytes, never an error, on
	// bad padding or a plaintext of another length.
	pt, err := d.Decrypt(rand.Reader, ct, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 32})
	require.NoError(t, err)
	require.Equal(t, secret, pt)
	bad := append([]byte(nil), ct...)
	bad[len(bad)-1] ^= 0x55
	for _, c := range [][]byte{bad, ct} {
		pt, err := d.Decrypt(rand.Reader, c, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 16})
		require.NoError(t, err)
		require.Len(t, pt, 16)
		require.NotEqual(t, secret[:16], pt)
	}
	_, err = d.Decrypt(rand.Reader, bad, nil)
	require.ErrorIs(t, err, rsa.ErrDecryption)
	_, err = d.Decrypt(rand.Reader, append(ct, 0), nil)
	require.ErrorIs(t, err, rsa.ErrDecryption)

	ct, err = rsa.EncryptOAEP(sha1New(), rand.Reader, pub, secret, nil)
	require.NoError(t, err)
	pt, err = d.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA1})
	require.NoError(t, err)
	require.Equal(t, secret, pt)
	ct[10] ^= 1
	_, err = d.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA1})
	require.ErrorIs(t, err, rsa.ErrDecryption)

	// SoftHSM2 does not check OAEP labels (it decrypts as if the label were
	// empty): the backend finds out on the first labelled decryption and
	// refuses every one, whatever label the ciphertext was made with.
	for _, label := range [][]byte{nil, []byte("l")} {
		ct, err = rsa.EncryptOAEP(sha1New(), rand.Reader, pub, secret, label)
		require.NoError(t, err)
		_, err = d.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA1, Label: []byte("l")})
		require.ErrorIs(t, err, backend.ErrUnsupported)
		require.ErrorContains(t, err, "a label")
	}

	for name, opts := range map[string]crypto.DecrypterOpts{
		"OAEP SHA-256":          &rsa.OAEPOptions{Hash: crypto.SHA256},
		"OAEP MGF1 SHA-256":     &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA256},
		"OAEP MD5 (not listed)": &rsa.OAEPOptions{Hash: crypto.MD5},
	} {
		_, err := d.Decrypt(rand.Reader, make([]byte, pub.Size()), opts)
		require.ErrorIs(t, err, backend.ErrUnsupported, name)
	}
	_, err = d.Decrypt(rand.Reader, ct, crypto.SHA256)
	require.ErrorIs(t, err, backend.ErrInvalidInput)

	// A signing key is no decryption key.
	signOnly := generate(t, b, backend.RSA2048, "sign-only", 0)
	_, err = signOnly.Decrypter()
	require.ErrorIs(t, err, backend.ErrUnsupported)
}
