//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"testing"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/stretchr/testify/require"
)

// newToken creates a SoftHSM2 token and opens it; query, when not empty,
// replaces the default max-sessions (such as "&max-sessions=2").
func newToken(t *testing.T, query string) (*Backend, *softhsmtest.Token) {
	t.Helper()
	tok := softhsmtest.Create(t)
	uri := tok.URI
	if query != "" {
		uri = tok.URIWith(query)
	}
	return openURI(t, uri), tok
}

func openURI(t *testing.T, uri string) *Backend {
	t.Helper()
	b, err := Open(context.Background(), uri)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

func generate(t *testing.T, b backend.Backend, a backend.Algorithm, label string, usage backend.Usage) backend.Key {
	t.Helper()
	k, err := b.GenerateKey(context.Background(), backend.KeySpec{Algorithm: a, Label: label, Usage: usage})
	require.NoError(t, err)
	return k
}

// signAndVerify makes one signature with k and verifies it in software.
func signAndVerify(t *testing.T, k backend.Key) {
	t.Helper()
	s, err := k.Signer()
	require.NoError(t, err)
	msg := []byte("cryptoplug pkcs11 test message")
	d := sha256.Sum256(msg)
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		require.NoError(t, err)
		require.True(t, ecdsa.VerifyASN1(pub, d[:], sig), "ECDSA signature does not verify")
	case *rsa.PublicKey:
		sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		require.NoError(t, err)
		require.NoError(t, rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig))
	case ed25519.PublicKey:
		sig, err := s.Sign(rand.Reader, msg, crypto.Hash(0))
		require.NoError(t, err)
		require.True(t, ed25519.Verify(pub, msg, sig), "Ed25519 signature does not verify")
	default:
		t.Fatalf("unexpected public key %T", pub)
	}
}

// signVerified makes one signature with k and verifies it, reporting what
// went wrong as an error: for goroutines other than the test's.
func signVerified(k backend.Key) error {
	s, err := k.Signer()
	if err != nil {
		return err
	}
	msg := []byte("cryptoplug pkcs11 test message")
	d := sha256.Sum256(msg)
	switch pub := k.Public().(type) {
	case *ecdsa.PublicKey:
		sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			return err
		}
		if !ecdsa.VerifyASN1(pub, d[:], sig) {
			return errors.New("ECDSA signature does not verify")
		}
	case *rsa.PublicKey:
		sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			return err
		}
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig)
	case ed25519.PublicKey:
		sig, err := s.Sign(rand.Reader, msg, crypto.Hash(0))
		if err != nil {
			return err
		}
		if !ed25519.Verify(pub, msg, sig) {
			return errors.New("Ed25519 signature does not verify")
		}
	default:
		return fmt.Errorf("unexpected public key %T", pub)
	}
	return nil
}

const cryptoSHA256 = crypto.SHA256

func sha1New() hash.Hash { return crypto.SHA1.New() }
