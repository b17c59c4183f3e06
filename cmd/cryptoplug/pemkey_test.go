package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha3"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"testing"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
)

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// pkcs8 wraps a private key encoding as PKCS #8 with oid.
func pkcs8(t *testing.T, oid asn1.ObjectIdentifier, key []byte) []byte {
	t.Helper()
	der, err := asn1.Marshal(privateKeyInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oid}, PrivateKey: key})
	require.NoError(t, err)
	return der
}

// choice builds the seed / expandedKey / both CHOICE of RFC 9881.
func choice(seed, expanded []byte) []byte {
	var b cryptobyte.Builder
	switch {
	case seed != nil && expanded != nil:
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1OctetString(seed)
			b.AddASN1OctetString(expanded)
		})
	case seed != nil:
		b.AddASN1(cbasn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(seed) })
	default:
		b.AddASN1OctetString(expanded)
	}
	return b.BytesOrPanic()
}

func TestParsePrivateKey(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	mustPKCS8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		require.NoError(t, err)
		return der
	}
	sec1, err := x509.MarshalECPrivateKey(ecKey)
	require.NoError(t, err)
	cert := pemBlock("CERTIFICATE", []byte("not parsed"))

	seed := make([]byte, 32)
	_, _ = rand.Read(seed)
	mldsaPub, mldsaPriv := mldsa65.NewKeyFromSeed((*[32]byte)(seed))
	packed, err := mldsaPriv.MarshalBinary()
	require.NoError(t, err)
	kemSeed := make([]byte, 64)
	_, _ = rand.Read(kemSeed)
	kem, err := mlkem.NewDecapsulationKey768(kemSeed)
	require.NoError(t, err)
	ek := kem.EncapsulationKey().Bytes()
	h := sha3.Sum256(ek)
	expandedKEM := append(append(append(make([]byte, 384*3), ek...), h[:]...), kemSeed[32:]...) // dk_PKE is not checked
	mldsaOID := asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}
	ed448Seed, _ := asn1.Marshal(bytes.Repeat([]byte{7}, 57))

	for _, tc := range []struct {
		name string
		in   []byte
		alg  backend.Algorithm
		pub  crypto.PublicKey
		err  error
	}{
		{"RSA PKCS #8", pemBlock("PRIVATE KEY", mustPKCS8(rsaKey)), backend.RSA2048, &rsaKey.PublicKey, nil},
		{"RSA PKCS #1", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), backend.RSA2048, &rsaKey.PublicKey, nil},
		{"EC SEC 1 after a certificate", append(cert, pemBlock("EC PRIVATE KEY", sec1)...), backend.ECDSAP384, &ecKey.PublicKey, nil},
		{"EC bare DER PKCS #8", mustPKCS8(ecKey), backend.ECDSAP384, &ecKey.PublicKey, nil},
		{"Ed25519", pemBlock("PRIVATE KEY", mustPKCS8(edKey)), backend.Ed25519, edKey.Public(), nil},
		{"Ed448", pemBlock("PRIVATE KEY", pkcs8(t, oidEd448, ed448Seed)), backend.Ed448, nil, nil},
		{"ML-DSA seed", pemBlock("PRIVATE KEY", pkcs8(t, mldsaOID, choice(seed, nil))), backend.MLDSA65, mldsaPub, nil},
		{"ML-DSA expanded", pemBlock("PRIVATE KEY", pkcs8(t, mldsaOID, choice(nil, packed))), backend.MLDSA65, mldsaPub, nil},
		{"ML-DSA both", pemBlock("PRIVATE KEY", pkcs8(t, mldsaOID, choice(seed, packed))), backend.MLDSA65, mldsaPub, nil},
		{"ML-KEM seed", pemBlock("PRIVATE KEY", pkcs8(t, oidMLKEM768, choice(kemSeed, nil))), backend.MLKEM768, kem.EncapsulationKey(), nil},
		{"ML-KEM both", pemBlock("PRIVATE KEY", pkcs8(t, oidMLKEM768, choice(kemSeed, expandedKEM))), backend.MLKEM768, kem.EncapsulationKey(), nil},

		{"ML-DSA seed and a different expanded key", pemBlock("PRIVATE KEY", pkcs8(t, mldsaOID, choice(bytes.Repeat([]byte{1}, 32), packed))), "", nil, backend.ErrInvalidInput},
		{"ML-KEM expanded only", pemBlock("PRIVATE KEY", pkcs8(t, oidMLKEM768, choice(nil, expandedKEM))), "", nil, backend.ErrUnsupported},
		{"ML-KEM seed and a different expanded key", pemBlock("PRIVATE KEY", pkcs8(t, oidMLKEM768, choice(bytes.Repeat([]byte{2}, 64), expandedKEM))), "", nil, backend.ErrInvalidInput},
		{"ML-DSA short seed", pemBlock("PRIVATE KEY", pkcs8(t, mldsaOID, choice(seed[:31], nil))), "", nil, backend.ErrInvalidInput},
		{"unknown OID", pemBlock("PRIVATE KEY", pkcs8(t, asn1.ObjectIdentifier{1, 2, 3}, []byte{4, 0})), "", nil, backend.ErrUnsupported},
		{"encrypted PKCS #8", pemBlock("ENCRYPTED PRIVATE KEY", []byte{0x30, 0}), "", nil, backend.ErrUnsupported},
		{"encrypted legacy PEM", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: []byte{1}}), "", nil, backend.ErrUnsupported},
		{"two keys", append(pemBlock("PRIVATE KEY", mustPKCS8(edKey)), pemBlock("PRIVATE KEY", mustPKCS8(edKey))...), "", nil, backend.ErrInvalidInput},
		{"no key", cert, "", nil, backend.ErrInvalidInput},
		{"garbage in a PEM block", pemBlock("PRIVATE KEY", []byte("c2VjcmV0LWtleS1tYXRlcmlhbA")), "", nil, backend.ErrInvalidInput},
		{"RSA-1024", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(mustRSA(t, 1024))), "", nil, backend.ErrUnsupported},
		{"P-224", pemBlock("PRIVATE KEY", mustPKCS8(mustEC(t, elliptic.P224()))), "", nil, backend.ErrUnsupported},
		{"too long", bytes.Repeat([]byte{'A'}, maxKeyFileLen+1), "", nil, backend.ErrInvalidInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alg, priv, err := parsePrivateKey(tc.in)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				require.NotContains(t, err.Error(), "secret-key-material")
				require.NotContains(t, err.Error(), "c2VjcmV0")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.alg, alg)
			// The key is one the software keystore (and so every backend)
			// takes for that algorithm.
			_, err = privkey.Marshal(alg, priv)
			require.NoError(t, err)
			if k, ok := priv.(*mlkem.DecapsulationKey768); ok {
				require.Equal(t, tc.pub.(*mlkem.EncapsulationKey768).Bytes(), k.EncapsulationKey().Bytes())
			} else if tc.pub != nil {
				got := priv.(crypto.Signer).Public()
				require.True(t, got.(interface{ Equal(crypto.PublicKey) bool }).Equal(tc.pub))
			}
		})
	}
}

func mustRSA(t *testing.T, bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	require.NoError(t, err)
	return k
}

func mustEC(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	require.NoError(t, err)
	return k
}

// The key file parser takes untrusted input: it never panics, refuses
// what it cannot use with an error, and returns only keys every backend
// can take.
func FuzzParsePrivateKey(f *testing.F) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ed)
	f.Add(pemBlock("PRIVATE KEY", der))
	f.Add(der)
	seed := bytes.Repeat([]byte{3}, 32)
	f.Add(pemBlock("PRIVATE KEY", must(asn1.Marshal(privateKeyInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 17}}, PrivateKey: choice(seed, nil)}))))
	f.Add(pemBlock("PRIVATE KEY", must(asn1.Marshal(privateKeyInfo{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidMLKEM1024}, PrivateKey: choice(bytes.Repeat([]byte{3}, 64), bytes.Repeat([]byte{4}, 3168))}))))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		alg, priv, err := parsePrivateKey(data)
		if err != nil {
			require.Nil(t, priv)
			return
		}
		_, err = privkey.Marshal(alg, priv)
		require.NoError(t, err, "parsed a %s key no backend would take", alg)
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
