package software_test

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"strings"
	"testing"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestSignEveryAlgorithm(t *testing.T) {
	for _, alg := range backend.Algorithms() {
		if !alg.Signs() {
			continue
		}
		t.Run(string(alg), func(t *testing.T) {
			k := generatedKey(t, alg)
			signAndVerify(t, k)

			s, err := k.Signer()
			require.NoError(t, err)
			require.Equal(t, k.Public(), s.Public())
			_, isMessageSigner := s.(backend.MessageSigner)
			require.Equal(t, alg.SignsMessages(), isMessageSigner)
		})
	}
}

// TestSignLikeStdlib imports standard-library keys and checks that every
// deterministic scheme gives exactly the signature the stdlib (or circl) key
// gives for the same input, and that randomized ones verify.
func TestSignLikeStdlib(t *testing.T) {
	b := openMemory(t)
	imported := map[backend.Algorithm]backend.Signer{}
	for _, alg := range backend.Algorithms() {
		if !alg.Signs() {
			continue
		}
		k, err := b.(backend.Importer).ImportKey(context.Background(), backend.KeySpec{Algorithm: alg, Label: string(alg)}, rawKeys()[alg])
		require.NoError(t, err)
		s, err := k.Signer()
		require.NoError(t, err)
		imported[alg] = s
	}
	sha := func(h crypto.Hash, msg []byte) []byte {
		d := h.New()
		d.Write(msg)
		return d.Sum(nil)
	}
	msg := testMessage
	tests := []struct {
		name          string
		alg           backend.Algorithm
		input         []byte
		opts          crypto.SignerOpts
		rand          bool // signature is randomized: compare by verifying
		deterministic bool // backend and stdlib signatures must be equal
	}{
		{"RSA-2048/PKCS1v15-SHA256", backend.RSA2048, sha(crypto.SHA256, msg), crypto.SHA256, false, true},
		{"RSA-3072/PKCS1v15-SHA384", backend.RSA3072, sha(crypto.SHA384, msg), crypto.SHA384, false, true},
		{"RSA-4096/PKCS1v15-SHA512", backend.RSA4096, sha(crypto.SHA512, msg), crypto.SHA512, false, true},
		{"RSA-2048/PKCS1v15-SHA3-256", backend.RSA2048, sha(crypto.SHA3_256, msg), crypto.SHA3_256, false, true},
		{"RSA-2048/PSS-auto", backend.RSA2048, sha(crypto.SHA256, msg), &rsa.PSSOptions{Hash: crypto.SHA256}, true, false},
		{"RSA-2048/PSS-equals-hash", backend.RSA2048, sha(crypto.SHA256, msg), &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}, true, false},
		{"RSA-3072/PSS-salt-20", backend.RSA3072, sha(crypto.SHA384, msg), &rsa.PSSOptions{Hash: crypto.SHA384, SaltLength: 20}, true, false},
		{"RSA-4096/PSS-SHA3-512", backend.RSA4096, sha(crypto.SHA3_512, msg), &rsa.PSSOptions{Hash: crypto.SHA3_512}, true, false},
		{"ECDSA-P256/random", backend.ECDSAP256, sha(crypto.SHA256, msg), crypto.SHA256, true, false},
		{"ECDSA-P256/RFC6979", backend.ECDSAP256, sha(crypto.SHA256, msg), crypto.SHA256, false, true},
		{"ECDSA-P384/RFC6979", backend.ECDSAP384, sha(crypto.SHA384, msg), crypto.SHA384, false, true},
		{"ECDSA-P521/RFC6979-SHA3-512", backend.ECDSAP521, sha(crypto.SHA3_512, msg), crypto.SHA3_512, false, true},
		{"Ed25519", backend.Ed25519, msg, crypto.Hash(0), false, true},
		{"Ed25519ctx", backend.Ed25519, msg, &ed25519.Options{Context: "cryptoplug"}, false, true},
		{"Ed25519ph", backend.Ed25519, sha(crypto.SHA512, msg), &ed25519.Options{Hash: crypto.SHA512, Context: "ph"}, false, true},
		{"Ed448", backend.Ed448, msg, crypto.Hash(0), false, true},
		{"Ed448-context", backend.Ed448, msg, ed448.SignerOptions{Context: "cryptoplug"}, false, true},
		{"Ed448ph", backend.Ed448, msg, ed448.SignerOptions{Scheme: ed448.ED448Ph}, false, true},
		{"ML-DSA-44", backend.MLDSA44, msg, crypto.Hash(0), false, true},
		{"ML-DSA-65", backend.MLDSA65, msg, crypto.Hash(0), false, true},
		{"ML-DSA-87", backend.MLDSA87, msg, crypto.Hash(0), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := imported[tt.alg]
			var r = rand.Reader
			if tt.deterministic {
				r = nil // crypto/ecdsa signs RFC 6979 with a nil rand; the others ignore rand
			}
			sig, err := s.Sign(r, tt.input, tt.opts)
			require.NoError(t, err)
			require.NoError(t, verify(s.Public(), tt.input, sig, tt.opts))
			if tt.deterministic {
				want, err := rawKeys()[tt.alg].(crypto.Signer).Sign(nil, tt.input, tt.opts)
				require.NoError(t, err)
				require.Equal(t, want, sig, "same signature as the standard library's key")
			}
			if pss, ok := tt.opts.(*rsa.PSSOptions); ok && pss.SaltLength != rsa.PSSSaltLengthAuto {
				// The salt length asked for is the one used: verification
				// with that exact length passes.
				require.NoError(t, rsa.VerifyPSS(s.Public().(*rsa.PublicKey), pss.Hash, tt.input, sig, pss))
			}
		})
	}
}

func TestSignMessage(t *testing.T) {
	for _, alg := range []backend.Algorithm{backend.Ed25519, backend.Ed448, backend.MLDSA44, backend.MLDSA65, backend.MLDSA87} {
		t.Run(string(alg), func(t *testing.T) {
			k := generatedKey(t, alg)
			s, err := k.Signer()
			require.NoError(t, err)
			ms := s.(backend.MessageSigner)
			sig, err := ms.SignMessage(rand.Reader, testMessage, crypto.Hash(0))
			require.NoError(t, err)
			require.NoError(t, verify(k.Public(), testMessage, sig, crypto.Hash(0)))

			sig, err = ms.SignMessageContext(context.Background(), nil, testMessage, crypto.Hash(0))
			require.NoError(t, err)
			require.NoError(t, verify(k.Public(), testMessage, sig, crypto.Hash(0)))

			// crypto.SignMessage finds the MessageSigner.
			sig, err = crypto.SignMessage(s, rand.Reader, testMessage, crypto.Hash(0))
			require.NoError(t, err)
			require.NoError(t, verify(k.Public(), testMessage, sig, crypto.Hash(0)))
		})
	}
	t.Run("Ed25519ph hashes the message", func(t *testing.T) {
		k := generatedKey(t, backend.Ed25519)
		s, _ := k.Signer()
		opts := &ed25519.Options{Hash: crypto.SHA512}
		sig, err := s.(backend.MessageSigner).SignMessage(nil, testMessage, opts)
		require.NoError(t, err)
		digest := sha512.Sum512(testMessage)
		require.NoError(t, ed25519.VerifyWithOptions(k.Public().(ed25519.PublicKey), digest[:], sig, opts))
	})
}

func TestSignRejects(t *testing.T) {
	d256 := sha256.Sum256(testMessage)
	d512 := sha512.Sum512(testMessage)
	long := strings.Repeat("c", 256)
	tests := []struct {
		name  string
		alg   backend.Algorithm
		input []byte
		opts  crypto.SignerOpts
		want  error
	}{
		{"RSA short digest", backend.RSA2048, d256[:31], crypto.SHA256, backend.ErrInvalidInput},
		{"RSA SHA-1", backend.RSA2048, make([]byte, 20), crypto.SHA1, backend.ErrUnsupported},
		{"RSA MD5", backend.RSA2048, make([]byte, 16), crypto.MD5, backend.ErrUnsupported},
		{"RSA no hash", backend.RSA2048, d256[:], crypto.Hash(0), backend.ErrInvalidInput},
		{"RSA nil opts", backend.RSA2048, d256[:], nil, backend.ErrInvalidInput},
		{"RSA nil PSS options", backend.RSA2048, d256[:], (*rsa.PSSOptions)(nil), backend.ErrInvalidInput},
		{"RSA PSS salt too long", backend.RSA2048, d256[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 1000}, backend.ErrInvalidInput},
		{"RSA PSS negative salt", backend.RSA2048, d256[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: -7}, backend.ErrInvalidInput},
		{"RSA PSS no hash", backend.RSA2048, d256[:], &rsa.PSSOptions{}, backend.ErrInvalidInput},
		{"ECDSA long digest", backend.ECDSAP256, d512[:], crypto.SHA256, backend.ErrInvalidInput},
		{"ECDSA digest shorter than hash", backend.ECDSAP384, d256[:], crypto.SHA384, backend.ErrInvalidInput},
		{"ECDSA SHA-1", backend.ECDSAP256, make([]byte, 20), crypto.SHA1, backend.ErrUnsupported},
		{"ECDSA typed nil opts", backend.ECDSAP256, d256[:], (*ed25519.Options)(nil), backend.ErrInvalidInput},
		{"Ed25519 SHA-256", backend.Ed25519, d256[:], crypto.SHA256, backend.ErrInvalidInput},
		{"Ed25519ph short digest", backend.Ed25519, d256[:], &ed25519.Options{Hash: crypto.SHA512}, backend.ErrInvalidInput},
		{"Ed25519 long context", backend.Ed25519, testMessage, &ed25519.Options{Context: long}, backend.ErrInvalidInput},
		{"Ed25519 nil opts", backend.Ed25519, testMessage, nil, backend.ErrInvalidInput},
		{"Ed25519 nil options", backend.Ed25519, testMessage, (*ed25519.Options)(nil), backend.ErrInvalidInput},
		{"Ed448 SHA-512", backend.Ed448, d512[:], crypto.SHA512, backend.ErrInvalidInput},
		{"Ed448 long context", backend.Ed448, testMessage, ed448.SignerOptions{Context: long}, backend.ErrInvalidInput},
		{"Ed448 nil opts", backend.Ed448, testMessage, nil, backend.ErrInvalidInput},
		{"Ed448 Ed25519 options", backend.Ed448, testMessage, &ed25519.Options{Context: "x"}, backend.ErrInvalidInput},
		{"Ed448 unknown scheme", backend.Ed448, testMessage, ed448.SignerOptions{Scheme: 7}, backend.ErrInvalidInput},
		{"ML-DSA SHA-256", backend.MLDSA65, d256[:], crypto.SHA256, backend.ErrInvalidInput},
		{"ML-DSA Ed25519 context", backend.MLDSA44, testMessage, &ed25519.Options{Context: "x"}, backend.ErrInvalidInput},
		{"ML-DSA Ed448 context", backend.MLDSA87, testMessage, ed448.SignerOptions{Context: "x"}, backend.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := generatedKey(t, tt.alg)
			s, err := k.Signer()
			require.NoError(t, err)
			sig, err := s.Sign(rand.Reader, tt.input, tt.opts)
			requireErr(t, err, tt.want)
			require.Nil(t, sig)
			require.Contains(t, err.Error(), k.Label(), "the error names the key")
			_, err = s.SignContext(context.Background(), rand.Reader, tt.input, tt.opts)
			requireErr(t, err, tt.want)
		})
	}
}

func TestSignerUnsupported(t *testing.T) {
	b := openMemory(t)
	ctx := context.Background()
	decryptOnly, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.RSA2048, Label: "decrypt-only", Usage: backend.UsageDecrypt})
	require.NoError(t, err)
	signOnly, err := b.(backend.Importer).ImportKey(ctx, backend.KeySpec{Algorithm: backend.RSA2048, Label: "sign-only"}, rawKeys()[backend.RSA2048])
	require.NoError(t, err)

	tests := []struct {
		name string
		key  backend.Key
		get  func(backend.Key) error
	}{
		{"Signer on decrypt-only RSA", decryptOnly, signerErr},
		{"Decrypter on sign-only RSA", signOnly, decrypterErr},
		{"Decapsulator on RSA", signOnly, decapsulatorErr},
		{"Signer on ML-KEM-768", generatedKey(t, backend.MLKEM768), signerErr},
		{"Decrypter on ML-KEM-1024", generatedKey(t, backend.MLKEM1024), decrypterErr},
		{"Decrypter on ECDSA", generatedKey(t, backend.ECDSAP256), decrypterErr},
		{"Decapsulator on Ed25519", generatedKey(t, backend.Ed25519), decapsulatorErr},
		{"Decrypter on ML-DSA", generatedKey(t, backend.MLDSA44), decrypterErr},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.get(tt.key)
			requireErr(t, err, backend.ErrUnsupported)
			require.ErrorIs(t, err, errors.ErrUnsupported)
			require.Contains(t, err.Error(), tt.key.Label())
		})
	}

	// The usages that were asked for work.
	d, err := decryptOnly.Decrypter()
	require.NoError(t, err)
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, d.Public().(*rsa.PublicKey), []byte("hi"), nil)
	require.NoError(t, err)
	pt, err := d.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
	require.NoError(t, err)
	require.Equal(t, []byte("hi"), pt)
	signAndVerify(t, signOnly)
}

func signerErr(k backend.Key) error {
	s, err := k.Signer()
	if s != nil {
		return errors.New("got a Signer")
	}
	return err
}

func decrypterErr(k backend.Key) error {
	d, err := k.Decrypter()
	if d != nil {
		return errors.New("got a Decrypter")
	}
	return err
}

func decapsulatorErr(k backend.Key) error {
	d, err := k.Decapsulator()
	if d != nil {
		return errors.New("got a Decapsulator")
	}
	return err
}

func TestSignContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, alg := range backend.Algorithms() {
		if !alg.Signs() {
			continue
		}
		t.Run(string(alg), func(t *testing.T) {
			k := generatedKey(t, alg)
			s, err := k.Signer()
			require.NoError(t, err)
			msg, opts := testMessage, crypto.SignerOpts(crypto.Hash(0))
			if h := hashFor(alg); h != 0 {
				msg, opts = make([]byte, h.Size()), h
			}
			_, err = s.SignContext(ctx, rand.Reader, msg, opts)
			requireErr(t, err, context.Canceled)
			if ms, ok := s.(backend.MessageSigner); ok {
				_, err = ms.SignMessageContext(ctx, rand.Reader, msg, opts)
				requireErr(t, err, context.Canceled)
			}
		})
	}
}

// TestSignNilRand: a nil rand is allowed wherever the standard library
// allows it, and where crypto/rsa would panic (PSS) the backend signs with
// crypto/rand instead.
func TestSignNilRand(t *testing.T) {
	for _, alg := range backend.Algorithms() {
		if !alg.Signs() {
			continue
		}
		t.Run(string(alg), func(t *testing.T) {
			k := generatedKey(t, alg)
			s, err := k.Signer()
			require.NoError(t, err)
			msg, opts := testMessage, crypto.SignerOpts(crypto.Hash(0))
			if h := hashFor(alg); h != 0 {
				d := h.New()
				d.Write(testMessage)
				msg, opts = d.Sum(nil), h
			}
			if alg.Family() == backend.FamilyRSA {
				opts = &rsa.PSSOptions{Hash: crypto.SHA256}
			}
			sig, err := s.Sign(nil, msg, opts)
			require.NoError(t, err)
			require.NoError(t, verify(k.Public(), msg, sig, opts))
		})
	}
}

// A nil context or typed nil options are the caller's mistake: an error,
// never a panic.
func TestNilContextAndTypedNilOptions(t *testing.T) {
	b := openMemory(t)
	k, err := b.GenerateKey(context.Background(), backend.KeySpec{Algorithm: backend.RSA2048, Label: "nil", Usage: backend.UsageSign | backend.UsageDecrypt})
	require.NoError(t, err)
	s, err := k.Signer()
	require.NoError(t, err)
	d, err := k.Decrypter()
	require.NoError(t, err)
	//lint:ignore SA1012 a nil context is what is tested
	_, err = s.SignContext(nil, nil, make([]byte, 32), crypto.SHA256)
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	//lint:ignore SA1012 a nil context is what is tested
	_, err = d.DecryptContext(nil, nil, make([]byte, 256), nil)
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	_, err = s.Sign(nil, make([]byte, 32), (*rsa.PSSOptions)(nil))
	require.ErrorIs(t, err, backend.ErrInvalidInput)
}
