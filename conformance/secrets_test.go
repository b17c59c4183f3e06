package conformance

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The leak scanner must find a private key in every encoding an error is
// likely to carry it in, and never flag public material.
func TestSecretScanFindsKeyMaterial(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	_, edk, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	var idx secretIndex
	for _, priv := range []any{ec, rk, edk} {
		for name, b := range privateParts(priv) {
			idx.add(fmt.Sprintf("%T %s", priv, name), b)
		}
	}
	ecD, err := ec.Bytes()
	require.NoError(t, err)
	pkcs8, err := x509.MarshalPKCS8PrivateKey(rk)
	require.NoError(t, err)
	seed := edk.Seed()
	for _, tc := range []struct {
		name, text string
	}{
		{"lowercase hex", fmt.Sprintf("import failed (key %x)", ecD)},
		{"uppercase hex", "key " + strings.ToUpper(hex.EncodeToString(ecD))},
		{"hex of part of the key", "D=" + hex.EncodeToString(ecD[5:27])},
		{"base64", "seed " + base64.StdEncoding.EncodeToString(seed)},
		{"URL base64 without padding", "seed=" + base64.RawURLEncoding.EncodeToString(seed[1:])},
		{"base64 PEM of PKCS #8", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))},
		{"decimal %v of an *ecdsa.PrivateKey", fmt.Sprintf("cannot import %v", ec)},
		{"decimal %v of an *rsa.PrivateKey", fmt.Sprintf("bad key %v", rk)},
		{"%v of a []byte", fmt.Sprintf("dk %v", seed)},
		{"%#v of a []byte", fmt.Sprintf("dk %#v", seed)},
		{"raw bytes", "state: " + string(seed)},
	} {
		what, enc, found := idx.scan(tc.text)
		require.True(t, found, tc.name)
		t.Logf("%s: %s as %s", tc.name, what, enc)
	}
	pub, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	require.NoError(t, err)
	for _, tc := range []struct{ name, text string }{
		{"the RSA modulus in hex", fmt.Sprintf("key %x", rk.N.Bytes())},
		{"the public key in PKIX hex", fmt.Sprintf("public key %x", pub)},
		{"the Ed25519 public key", fmt.Sprintf("pub %x", edk.Public())},
		{"an ordinary error", "cryptoplug: software: sign key \"web-2024\": digest is 31 bytes, SHA-256 needs 32: invalid input"},
		{"a few bytes of the key (below the window)", fmt.Sprintf("D starts %x", ecD[:12])},
	} {
		_, _, found := idx.scan(tc.text)
		require.False(t, found, tc.name)
	}
}

// The scanner reads errors a backend wrote; nothing in them may make it
// panic or loop.
func FuzzSecretScan(f *testing.F) {
	var idx secretIndex
	idx.add("test secret", []byte("0123456789abcdef0123456789abcdef"))
	f.Add("0x30, 0x31, 0x32 1 2 3 255 256 ")
	f.Add(hex.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))
	f.Add("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
	f.Add("[48 49 50 51 52 53 54 55 56 57 97 98 99 100 101 102 48]")
	f.Fuzz(func(t *testing.T, text string) {
		idx.scan(text)
	})
}
