//lint:file-ignore SA1019 the tests exercise PKCS #1 v1.5 decryption, deprecated in Go 1.26

package backend_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

// stdlibDecrypt is a store's decryption done with crypto/rsa: plain PKCS
// #1 v1.5 or OAEP, whatever SessionKeyLen says.
func stdlibDecrypt(priv *rsa.PrivateKey) backend.DecryptFunc {
	return func(_ context.Context, req backend.DecryptRequest) ([]byte, error) {
		if req.Scheme == backend.SchemeOAEP {
			return priv.Decrypt(nil, req.Ciphertext, req.Options())
		}
		return rsa.DecryptPKCS1v15(nil, priv, req.Ciphertext)
	}
}

func rsaStoreKey() backend.StoreKey {
	return backend.StoreKey{Backend: "test", Key: "k", Algorithm: backend.RSA2048, Public: &rsaKey.PublicKey}
}

func TestDecrypterSessionKeyFallback(t *testing.T) {
	d := backend.NewDecrypter(rsaStoreKey(), stdlibDecrypt(rsaKey))
	key := []byte("0123456789abcdef")
	good, err := rsa.EncryptPKCS1v15(rand.Reader, &rsaKey.PublicKey, key)
	require.NoError(t, err)
	opts := &rsa.PKCS1v15DecryptOptions{SessionKeyLen: len(key)}

	got, err := d.Decrypt(rand.Reader, good, opts)
	require.NoError(t, err)
	require.Equal(t, key, got)

	wrongLen, err := rsa.EncryptPKCS1v15(rand.Reader, &rsaKey.PublicKey, key[:15])
	require.NoError(t, err)
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	for name, c := range map[string][]byte{"bad padding": bad, "other length": wrongLen} {
		a, err := d.Decrypt(rand.Reader, c, opts)
		require.NoError(t, err, name)
		b, err := d.Decrypt(rand.Reader, c, opts)
		require.NoError(t, err, name)
		require.Len(t, a, len(key), name)
		require.NotEqual(t, a, b, "%s: the replacement key must be random, not constant", name)
		require.NotEqual(t, make([]byte, len(key)), a, name)
	}

	// The caller's rand is the source of the replacement key.
	fixed := bytes.Repeat([]byte{7}, len(key))
	got, err = d.Decrypt(bytes.NewReader(fixed), bad, opts)
	require.NoError(t, err)
	require.Equal(t, fixed, got)
}

func TestDecrypterFailuresLookAlike(t *testing.T) {
	// Every failure reason gives the same error text: a store that says
	// why must not become a padding oracle.
	chatty := func(_ context.Context, req backend.DecryptRequest) ([]byte, error) {
		_, err := stdlibDecrypt(rsaKey)(context.Background(), req)
		if err != nil {
			return nil, fmt.Errorf("token said CKR_ENCRYPTED_DATA_INVALID at byte %d: %w", req.Ciphertext[0], rsa.ErrDecryption)
		}
		return nil, nil
	}
	d := backend.NewDecrypter(rsaStoreKey(), chatty)
	var texts []string
	for i := range 5 {
		c := make([]byte, 256)
		c[0], c[255] = byte(i), 1
		_, err := d.Decrypt(rand.Reader, c, &rsa.OAEPOptions{Hash: crypto.SHA256})
		require.ErrorIs(t, err, rsa.ErrDecryption)
		var be *backend.Error
		require.ErrorAs(t, err, &be)
		texts = append(texts, err.Error())
	}
	tooLong := make([]byte, 257)
	_, err := d.Decrypt(rand.Reader, tooLong, nil)
	require.ErrorIs(t, err, rsa.ErrDecryption)
	notBelowN := rsaKey.N.FillBytes(make([]byte, 256))
	_, err2 := d.Decrypt(rand.Reader, notBelowN, nil)
	require.ErrorIs(t, err2, rsa.ErrDecryption)
	texts = append(texts, err.Error(), err2.Error())
	for _, s := range texts {
		require.Equal(t, texts[0], s)
	}
}

func TestDecrypterBoundsAndOptions(t *testing.T) {
	calls := 0
	d := backend.NewDecrypter(rsaStoreKey(), func(ctx context.Context, req backend.DecryptRequest) ([]byte, error) {
		calls++
		return stdlibDecrypt(rsaKey)(ctx, req)
	})
	c := make([]byte, 256)
	for name, opts := range map[string]crypto.DecrypterOpts{
		"typed nil PKCS1v15": (*rsa.PKCS1v15DecryptOptions)(nil),
		"typed nil OAEP":     (*rsa.OAEPOptions)(nil),
		"negative":           &rsa.PKCS1v15DecryptOptions{SessionKeyLen: -1},
		"huge":               &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 1_500_000_000},
		"foreign":            crypto.SHA256,
	} {
		_, err := d.Decrypt(rand.Reader, c, opts)
		require.ErrorIs(t, err, backend.ErrInvalidInput, name)
	}
	_, err := d.Decrypt(rand.Reader, c, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 246})
	require.ErrorIs(t, err, rsa.ErrDecryption, "crypto/rsa's answer for a key that cannot fit")
	require.Zero(t, calls, "refused before the store is asked")

	// A short ciphertext is the integer it encodes, as in crypto/rsa.
	for {
		ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, &rsaKey.PublicKey, []byte("hi"), nil)
		require.NoError(t, err)
		if ct[0] != 0 {
			continue
		}
		pt, err := d.Decrypt(rand.Reader, ct[1:], &rsa.OAEPOptions{Hash: crypto.SHA256})
		require.NoError(t, err)
		require.Equal(t, []byte("hi"), pt)
		break
	}
}

func TestSignerContextsAndTimeouts(t *testing.T) {
	blocked := make(chan struct{})
	k := backend.StoreKey{Backend: "test", Key: "k", Algorithm: backend.Ed25519, Public: ed25519.PublicKey(make([]byte, 32)), Timeout: 50 * time.Millisecond}
	s := backend.NewSigner(k, func(ctx context.Context, _ io.Reader, _ backend.SignRequest) ([]byte, error) {
		close(blocked)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	ms, ok := s.(backend.MessageSigner)
	require.True(t, ok, "Ed25519 signers sign messages")

	//lint:ignore SA1012 a nil context is what is tested
	_, err := s.SignContext(nil, rand.Reader, []byte("m"), crypto.Hash(0))
	require.ErrorIs(t, err, backend.ErrInvalidInput)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = ms.SignMessageContext(ctx, rand.Reader, []byte("m"), crypto.Hash(0))
	require.ErrorIs(t, err, context.Canceled)

	// Sign, without a context, is bounded by the key's timeout.
	_, err = s.Sign(rand.Reader, []byte("m"), crypto.Hash(0))
	<-blocked
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var be *backend.Error
	require.ErrorAs(t, err, &be)
	require.Equal(t, "sign", be.Op)
	require.Equal(t, "k", be.Key)
}

func TestAdaptersCheckTheKeyAndRecoverPanics(t *testing.T) {
	closed := errors.New("gone")
	k := backend.StoreKey{Backend: "test", Key: "k", Algorithm: backend.MLKEM768, Check: func() error { return fmt.Errorf("%w: %w", closed, backend.ErrClosed) }}
	dk, err := mlkem.GenerateKey768()
	require.NoError(t, err)
	k.Public = dk.EncapsulationKey()
	d := backend.NewDecapsulator(k, func(context.Context, []byte) ([]byte, error) { panic("boom") })
	_, err = d.Decapsulate(make([]byte, mlkem.CiphertextSize768))
	require.ErrorIs(t, err, backend.ErrClosed)

	k.Check = nil
	d = backend.NewDecapsulator(k, func(context.Context, []byte) ([]byte, error) { panic("boom") })
	_, err = d.Decapsulate(make([]byte, mlkem.CiphertextSize768))
	require.ErrorIs(t, err, backend.ErrInternal)
	_, err = d.Decapsulate(make([]byte, 10))
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	require.Equal(t, k.Public, d.Encapsulator())
}

func BenchmarkSignerOverhead(b *testing.B) {
	priv := ed25519.NewKeyFromSeed(make([]byte, 32))
	s := backend.NewSigner(backend.StoreKey{Algorithm: backend.Ed25519, Public: priv.Public()},
		func(_ context.Context, _ io.Reader, req backend.SignRequest) ([]byte, error) { return req.Input, nil })
	msg := make([]byte, 32)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(nil, msg, crypto.Hash(0)); err != nil {
			b.Fatal(err)
		}
	}
}
