package software_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"testing"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestImportEveryAlgorithm(t *testing.T) {
	b := openMemory(t)
	imp := b.(backend.Importer)
	for _, alg := range backend.Algorithms() {
		t.Run(string(alg), func(t *testing.T) {
			raw := rawKeys()[alg]
			k, err := imp.ImportKey(context.Background(), backend.KeySpec{Algorithm: alg, Label: "imported " + string(alg)}, raw)
			require.NoError(t, err)
			require.Equal(t, alg, k.Algorithm())
			require.True(t, publicEqual(rawPublic(raw), k.Public()), "the imported key has the raw key's public key")
			exercise(t, k)
		})
	}
}

func TestImportDoesNotTouchCallerKey(t *testing.T) {
	src := rawKeys()[backend.RSA2048].(*rsa.PrivateKey)
	// A key as a caller may build it by hand: no precomputed values.
	raw := &rsa.PrivateKey{PublicKey: src.PublicKey, D: new(big.Int).Set(src.D), Primes: []*big.Int{new(big.Int).Set(src.Primes[0]), new(big.Int).Set(src.Primes[1])}}
	ed := ed25519.PrivateKey(bytes.Clone(rawKeys()[backend.Ed25519].(ed25519.PrivateKey)))
	edBefore := bytes.Clone(ed)

	b := openMemory(t)
	ctx := context.Background()
	_, err := b.(backend.Importer).ImportKey(ctx, backend.KeySpec{Algorithm: backend.RSA2048, Label: "rsa"}, raw)
	require.NoError(t, err)
	_, err = b.(backend.Importer).ImportKey(ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: "ed"}, ed)
	require.NoError(t, err)
	require.Nil(t, raw.Precomputed.Dp, "import does not precompute into the caller's key")

	// Deleting and closing wipe the store's copies, not the caller's keys.
	require.NoError(t, b.DeleteKey(ctx, backend.ByLabel("rsa")))
	require.NoError(t, b.Close())
	require.Zero(t, raw.D.Cmp(src.D))
	require.Equal(t, edBefore, []byte(ed))
	require.NoError(t, raw.Validate())
}

func TestImportSeedlessMLDSA(t *testing.T) {
	// A circl key unpacked from its expanded form has no seed; the store
	// keeps the packed key instead.
	src := rawKeys()[backend.MLDSA65].(*mldsa65.PrivateKey)
	packed, err := src.MarshalBinary()
	require.NoError(t, err)
	seedless := new(mldsa65.PrivateKey)
	require.NoError(t, seedless.UnmarshalBinary(packed))
	require.Nil(t, seedless.Seed())

	uri, _ := newDirURI(t)
	b := openDir(t, uri)
	_, err = b.(backend.Importer).ImportKey(context.Background(), backend.KeySpec{Algorithm: backend.MLDSA65, Label: "seedless"}, seedless)
	require.NoError(t, err)
	require.NoError(t, b.Close())

	b = openDir(t, uri)
	k, err := b.Key(context.Background(), backend.ByLabel("seedless"))
	require.NoError(t, err)
	require.True(t, src.Public().(*mldsa65.PublicKey).Equal(k.Public()))
	signAndVerify(t, k)
}

func TestImportRejects(t *testing.T) {
	keys := rawKeys()
	rsaKey := keys[backend.RSA2048].(*rsa.PrivateKey)
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	require.NoError(t, err)

	// An Ed25519 key whose public half belongs to another seed.
	edMismatch := ed25519.PrivateKey(bytes.Clone(keys[backend.Ed25519].(ed25519.PrivateKey)))
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	copy(edMismatch[32:], other[32:])
	ed448Mismatch := ed448.PrivateKey(bytes.Clone(keys[backend.Ed448].(ed448.PrivateKey)))
	ed448Mismatch[ed448.SeedSize] ^= 1

	// An ECDSA key whose X, Y are another key's.
	ecOther, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	//lint:ignore SA1019 building an inconsistent key needs the raw scalar
	ecMismatch := &ecdsa.PrivateKey{PublicKey: ecOther.PublicKey, D: keys[backend.ECDSAP256].(*ecdsa.PrivateKey).D}

	// An RSA key with a wrong private exponent.
	rsaBadD := &rsa.PrivateKey{PublicKey: rsaKey.PublicKey, D: new(big.Int).Add(rsaKey.D, big.NewInt(2)), Primes: rsaKey.Primes}

	// A packed ML-DSA key whose public-key hash was damaged: it unpacks,
	// but its signatures would not verify.
	packed, _ := keys[backend.MLDSA44].(*mldsa44.PrivateKey).MarshalBinary()
	packed[70] ^= 1
	mldsaBad := new(mldsa44.PrivateKey)
	require.NoError(t, mldsaBad.UnmarshalBinary(packed))

	tests := []struct {
		name string
		alg  backend.Algorithm
		key  crypto.PrivateKey
	}{
		{"nil", backend.RSA2048, nil},
		{"RSA for ECDSA", backend.ECDSAP256, rsaKey},
		{"RSA-2048 as RSA-3072", backend.RSA3072, rsaKey},
		{"RSA value, not pointer", backend.RSA2048, *rsaKey},
		{"typed nil RSA", backend.RSA2048, (*rsa.PrivateKey)(nil)},
		{"empty RSA", backend.RSA2048, &rsa.PrivateKey{}},
		{"RSA with a wrong D", backend.RSA2048, rsaBadD},
		{"P-384 as P-256", backend.ECDSAP256, keys[backend.ECDSAP384]},
		{"P-224", backend.ECDSAP256, p224},
		{"empty ECDSA", backend.ECDSAP256, &ecdsa.PrivateKey{}},
		{"ECDSA with another key's public point", backend.ECDSAP256, ecMismatch},
		{"Ed25519 short", backend.Ed25519, ed25519.PrivateKey(make([]byte, 32))},
		{"Ed25519 wrong public half", backend.Ed25519, edMismatch},
		{"Ed25519 as Ed448", backend.Ed448, keys[backend.Ed25519]},
		{"Ed448 short", backend.Ed448, ed448.PrivateKey(make([]byte, 57))},
		{"Ed448 wrong public half", backend.Ed448, ed448Mismatch},
		{"ML-DSA-44 as ML-DSA-65", backend.MLDSA65, keys[backend.MLDSA44]},
		{"typed nil ML-DSA", backend.MLDSA87, (*mldsa44.PrivateKey)(nil)},
		{"zero ML-DSA", backend.MLDSA44, new(mldsa44.PrivateKey)},
		{"ML-DSA failing its pairwise test", backend.MLDSA44, mldsaBad},
		{"ML-KEM-768 as ML-KEM-1024", backend.MLKEM1024, keys[backend.MLKEM768]},
		{"typed nil ML-KEM", backend.MLKEM768, (*mlkem.DecapsulationKey768)(nil)},
		{"zero ML-KEM", backend.MLKEM768, new(mlkem.DecapsulationKey768)},
		{"encapsulation key", backend.MLKEM768, keys[backend.MLKEM768].(*mlkem.DecapsulationKey768).EncapsulationKey()},
	}
	b := openMemory(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := b.(backend.Importer).ImportKey(context.Background(), backend.KeySpec{Algorithm: tt.alg, Label: tt.name}, tt.key)
			requireErr(t, err, backend.ErrInvalidInput)
			require.Nil(t, k)
			require.Contains(t, err.Error(), tt.name, "the error names the key")
		})
	}
	keysLeft, err := b.Keys(context.Background())
	require.NoError(t, err)
	require.Empty(t, keysLeft)

	_, err = b.(backend.Importer).ImportKey(context.Background(), backend.KeySpec{Algorithm: backend.Ed25519, Label: "dup"}, keys[backend.Ed25519])
	require.NoError(t, err)
	_, err = b.(backend.Importer).ImportKey(context.Background(), backend.KeySpec{Algorithm: backend.Ed25519, Label: "dup"}, keys[backend.Ed25519])
	requireErr(t, err, backend.ErrKeyExists)
}
