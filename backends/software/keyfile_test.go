package software

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/cryptobyte"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
)

// sampleKeyFiles holds a valid key file plaintext per algorithm, RSA-3072
// and RSA-4096 left out for speed (their encoding is RSA-2048's).
var sampleKeyFiles = sync.OnceValue(func() map[backend.Algorithm][]byte {
	out := map[backend.Algorithm][]byte{}
	for i, alg := range backend.Algorithms() {
		if alg == backend.RSA3072 || alg == backend.RSA4096 {
			continue
		}
		priv, err := privkey.Generate(alg)
		if err != nil {
			panic(err)
		}
		enc, err := privkey.Marshal(alg, priv)
		if err != nil {
			panic(err)
		}
		f := &keyFile{Algorithm: alg, Usage: backend.Usage(0).Resolve(alg), Label: "sample " + string(alg), ID: backend.KeyID{byte(i), 0xee}, Private: enc}
		out[alg] = f.marshal()
	}
	return out
})

func TestKeyFileRoundTrip(t *testing.T) {
	for alg, data := range sampleKeyFiles() {
		t.Run(string(alg), func(t *testing.T) {
			f, priv, err := readKeyFile(data)
			require.NoError(t, err)
			require.Equal(t, alg, f.Algorithm)
			require.Equal(t, "sample "+string(alg), f.Label)
			require.Equal(t, data, f.marshal(), "one encoding per key")
			_, err = publicKey(priv)
			require.NoError(t, err)
		})
	}
}

// build writes a key file field by field, so tests can break any one of them.
func build(magic string, version uint8, alg string, usage uint8, label string, id []byte, priv []byte) []byte {
	var b cryptobyte.Builder
	b.AddBytes([]byte(magic))
	b.AddUint8(version)
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(alg)) })
	b.AddUint8(usage)
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(label)) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(id) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(priv) })
	return b.BytesOrPanic()
}

func TestReadKeyFileRejects(t *testing.T) {
	files := sampleKeyFiles()
	ec, _, err := readKeyFile(files[backend.ECDSAP256])
	require.NoError(t, err)
	ed, _, err := readKeyFile(files[backend.Ed25519])
	require.NoError(t, err)
	mlkemFile, _, err := readKeyFile(files[backend.MLKEM768])
	require.NoError(t, err)
	mldsaFile, _, err := readKeyFile(files[backend.MLDSA44])
	require.NoError(t, err)
	rsaFile, _, err := readKeyFile(files[backend.RSA2048])
	require.NoError(t, err)

	// PKCS #8 for the same P-256 key, but without the optional public key:
	// x509 parses it, the writer never produces it.
	ecKey, err := x509.ParsePKCS8PrivateKey(ec.Private)
	require.NoError(t, err)
	scalar, err := ecKey.(*ecdsa.PrivateKey).Bytes()
	require.NoError(t, err)
	noPublic := pkcs8P256WithoutPublicKey(scalar)
	_, err = x509.ParsePKCS8PrivateKey(noPublic)
	require.NoError(t, err, "x509 accepts the variant")

	ok := func(alg backend.Algorithm, f *keyFile) []byte {
		return build(keyFileMagic, keyFileVersion, string(alg), uint8(f.Usage), f.Label, f.ID, f.Private)
	}
	require.Equal(t, files[backend.ECDSAP256], ok(backend.ECDSAP256, ec), "build matches marshal")

	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"wrong magic", build("CPKG", 1, "ECDSA-P256", 1, "l", []byte{1}, ec.Private)},
		{"version 0", build(keyFileMagic, 0, "ECDSA-P256", 1, "l", []byte{1}, ec.Private)},
		{"version 2", build(keyFileMagic, 2, "ECDSA-P256", 1, "l", []byte{1}, ec.Private)},
		{"unknown algorithm", build(keyFileMagic, 1, "ECDSA-P257", 1, "l", []byte{1}, ec.Private)},
		{"algorithm in lower case", build(keyFileMagic, 1, "ecdsa-p256", 1, "l", []byte{1}, ec.Private)},
		{"no usage", build(keyFileMagic, 1, "ECDSA-P256", 0, "l", []byte{1}, ec.Private)},
		{"ECDSA for decryption", build(keyFileMagic, 1, "ECDSA-P256", uint8(backend.UsageDecrypt), "l", []byte{1}, ec.Private)},
		{"unknown usage bit", build(keyFileMagic, 1, "ECDSA-P256", 1|8, "l", []byte{1}, ec.Private)},
		{"empty label", build(keyFileMagic, 1, "ECDSA-P256", 1, "", []byte{1}, ec.Private)},
		{"control character in label", build(keyFileMagic, 1, "ECDSA-P256", 1, "a\x00b", []byte{1}, ec.Private)},
		{"label not UTF-8", build(keyFileMagic, 1, "ECDSA-P256", 1, "\xff", []byte{1}, ec.Private)},
		{"empty ID", build(keyFileMagic, 1, "ECDSA-P256", 1, "l", nil, ec.Private)},
		{"ID too long", build(keyFileMagic, 1, "ECDSA-P256", 1, "l", make([]byte, 65), ec.Private)},
		{"trailing byte", append(bytes.Clone(files[backend.ECDSAP256]), 0)},
		{"Ed25519 key under ECDSA", build(keyFileMagic, 1, "ECDSA-P256", 1, "l", []byte{1}, ed.Private)},
		{"P-256 key under P-384", build(keyFileMagic, 1, "ECDSA-P384", 1, "l", []byte{1}, ec.Private)},
		{"RSA-2048 key under RSA-3072", build(keyFileMagic, 1, "RSA-3072", 1, "l", []byte{1}, rsaFile.Private)},
		{"PKCS#8 without public key", build(keyFileMagic, 1, "ECDSA-P256", 1, "l", []byte{1}, noPublic)},
		{"RSA DER too long", build(keyFileMagic, 1, "RSA-2048", 1, "l", []byte{1}, append(bytes.Clone(rsaFile.Private), make([]byte, 2000)...))},
		{"ML-KEM seed short", build(keyFileMagic, 1, "ML-KEM-768", uint8(backend.UsageDecapsulate), "l", []byte{1}, mlkemFile.Private[:63])},
		{"ML-KEM-768 seed under ML-DSA", build(keyFileMagic, 1, "ML-DSA-44", 1, "l", []byte{1}, mlkemFile.Private)},
		{"ML-DSA seed long", build(keyFileMagic, 1, "ML-DSA-44", 1, "l", []byte{1}, append(bytes.Clone(mldsaFile.Private), 0))},
		{"Ed448 seed short", build(keyFileMagic, 1, "Ed448", 1, "l", []byte{1}, make([]byte, 56))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, priv, err := readKeyFile(tt.data)
			require.Error(t, err)
			require.Nil(t, f)
			require.Nil(t, priv)
		})
	}
	t.Run("every truncation", func(t *testing.T) {
		for _, data := range files {
			for n := range len(data) {
				_, _, err := readKeyFile(data[:n])
				require.Error(t, err, "truncated to %d of %d bytes", n, len(data))
			}
		}
	})
	t.Run("errors do not quote the data", func(t *testing.T) {
		_, _, err := readKeyFile(build(keyFileMagic, 1, "ECDSA-P256", 1, "secret-label", []byte{1}, ed.Private))
		require.Error(t, err)
		require.NotContains(t, err.Error(), "secret-label")
	})
}

// pkcs8P256WithoutPublicKey encodes a P-256 scalar as PKCS #8 with an
// ECPrivateKey that omits the optional public key.
func pkcs8P256WithoutPublicKey(scalar []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(0x30, func(b *cryptobyte.Builder) { // PrivateKeyInfo
		b.AddASN1Int64(0)
		b.AddASN1(0x30, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier([]int{1, 2, 840, 10045, 2, 1}) // id-ecPublicKey
			b.AddASN1ObjectIdentifier([]int{1, 2, 840, 10045, 3, 1, 7})
		})
		b.AddASN1(0x04, func(b *cryptobyte.Builder) { // OCTET STRING
			b.AddASN1(0x30, func(b *cryptobyte.Builder) { // ECPrivateKey
				b.AddASN1Int64(1)
				b.AddASN1OctetString(scalar)
			})
		})
	})
	return b.BytesOrPanic()
}

// FuzzReadKeyFile checks that the reader never panics, and that whatever it
// accepts is exactly what the writer would produce for that key.
func FuzzReadKeyFile(f *testing.F) {
	for _, data := range sampleKeyFiles() {
		f.Add(data)
	}
	f.Add([]byte(keyFileMagic))
	f.Add([]byte(keyFileMagic + "\x01"))
	f.Add(build(keyFileMagic, 1, "ML-DSA-44", 1, "l", []byte{1}, make([]byte, 2560)))
	f.Add([]byte(strings.Repeat("\xff", 64)))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, priv, err := readKeyFile(data)
		if err != nil {
			if rec != nil || priv != nil {
				t.Fatal("error with a result")
			}
			return
		}
		if !bytes.Equal(rec.marshal(), data) {
			t.Fatal("accepted a non-canonical key file")
		}
		enc, err := privkey.Marshal(rec.Algorithm, priv)
		if err != nil || !bytes.Equal(enc, rec.Private) {
			t.Fatalf("accepted a private key that does not re-encode to itself: %v", err)
		}
		if _, err := publicKey(priv); err != nil {
			t.Fatalf("accepted a key without a public key: %v", err)
		}
	})
}
