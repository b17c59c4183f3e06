package software_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestOpenMemory(t *testing.T) {
	b := openMemory(t)
	require.Equal(t, backend.Info{Name: "software", Kind: "memory", URI: "software:", Persistent: false}, b.Info())
	require.Contains(t, backend.Schemes(), "software")

	// Each Open is a fresh, empty store.
	_, err := b.GenerateKey(context.Background(), backend.KeySpec{Algorithm: backend.Ed25519, Label: "only-here"})
	require.NoError(t, err)
	other := openMemory(t)
	keys, err := other.Keys(context.Background())
	require.NoError(t, err)
	require.Empty(t, keys)
}

func TestOpenRejects(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		uri  string
		want error
	}{
		{"memory with a PIN", ctx, "software:?pin-value=secret", backend.ErrInvalidInput},
		{"memory with an unknown attribute", ctx, "software:colour=blue", backend.ErrInvalidInput},
		{"relative dir", ctx, "software:dir=keys?pin-value=x", backend.ErrInvalidInput},
		{"empty dir", ctx, "software:dir=?pin-value=x", backend.ErrInvalidInput},
		{"dir flag", ctx, "software:dir?pin-value=x", backend.ErrInvalidInput},
		{"dir twice", ctx, "software:dir=/tmp/a?dir=/tmp/b&pin-value=x", backend.ErrInvalidInput},
		{"typo", ctx, "software:dir=/tmp/x?pin-sorce=env:X", backend.ErrInvalidInput},
		{"no passphrase", ctx, "software:dir=/tmp/cryptoplug-never-created", backend.ErrInvalidInput},
		{"empty passphrase", ctx, "software:dir=/tmp/cryptoplug-never-created?pin-value=", backend.ErrInvalidInput},
		{"unset env", ctx, "software:dir=/tmp/cryptoplug-never-created?pin-source=env:CRYPTOPLUG_UNSET_VAR", backend.ErrInvalidInput},
		// The scrypt cost is not the URI's to lower.
		{"work factor attribute", ctx, "software:dir=/tmp/cryptoplug-never-created?pin-value=x&scrypt-work-factor=10", backend.ErrInvalidInput},
		{"cancelled", cancelled, "software:", context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := backend.Open(tt.ctx, tt.uri)
			requireErr(t, err, tt.want)
			require.Nil(t, b)
			require.NotContains(t, err.Error(), "secret")
		})
	}
	require.NoDirExists(t, "/tmp/cryptoplug-never-created")

	t.Run("missing passphrase says what to do", func(t *testing.T) {
		_, err := backend.Open(ctx, "software:dir=/tmp/cryptoplug-never-created")
		require.ErrorContains(t, err, "passphrase")
		require.ErrorContains(t, err, "pin-source")
	})
}

func TestCapabilities(t *testing.T) {
	b := openMemory(t)
	caps := b.Capabilities()
	require.Equal(t, backend.Algorithms(), caps.Algorithms(), "every algorithm")
	all := backend.OpGenerate | backend.OpImport
	for _, alg := range backend.Algorithms() {
		switch alg.Family() {
		case backend.FamilyRSA:
			require.Equal(t, all|backend.OpSign|backend.OpDecrypt, caps[alg], alg)
		case backend.FamilyMLKEM:
			require.Equal(t, all|backend.OpDecapsulate, caps[alg], alg)
		default:
			require.Equal(t, all|backend.OpSign, caps[alg], alg)
		}
	}
	caps[backend.RSA2048] = 0
	require.NotZero(t, b.Capabilities()[backend.RSA2048], "the map is the caller's")
}

func TestGenerateKeySpec(t *testing.T) {
	b := openMemory(t)
	ctx := context.Background()
	k, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "web", ID: backend.KeyID{1, 2, 3}})
	require.NoError(t, err)
	require.Equal(t, backend.KeyID{1, 2, 3}, k.ID())
	require.Equal(t, "web", k.Label())
	require.Equal(t, backend.ECDSAP256, k.Algorithm())
	require.Same(t, k.Public(), k.Public())

	auto, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "auto-id"})
	require.NoError(t, err)
	require.Len(t, auto.ID(), 16, "a random ID when none is given")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		spec backend.KeySpec
		want error
	}{
		{"duplicate label", ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: "web"}, backend.ErrKeyExists},
		{"duplicate ID", ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: "other", ID: backend.KeyID{1, 2, 3}}, backend.ErrKeyExists},
		{"unknown algorithm", ctx, backend.KeySpec{Algorithm: "DSA-1024", Label: "x"}, backend.ErrInvalidInput},
		{"no label", ctx, backend.KeySpec{Algorithm: backend.Ed25519}, backend.ErrInvalidInput},
		{"control character in label", ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: "a\nb"}, backend.ErrInvalidInput},
		{"label too long", ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: strings.Repeat("x", 256)}, backend.ErrInvalidInput},
		{"ID too long", ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: "x", ID: make(backend.KeyID, 65)}, backend.ErrInvalidInput},
		{"ECDSA for decryption", ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "x", Usage: backend.UsageDecrypt}, backend.ErrInvalidInput},
		{"RSA for decapsulation", ctx, backend.KeySpec{Algorithm: backend.RSA2048, Label: "x", Usage: backend.UsageDecapsulate}, backend.ErrInvalidInput},
		{"ML-KEM for signing", ctx, backend.KeySpec{Algorithm: backend.MLKEM768, Label: "x", Usage: backend.UsageSign}, backend.ErrInvalidInput},
		{"cancelled", cancelled, backend.KeySpec{Algorithm: backend.Ed25519, Label: "x"}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := b.GenerateKey(tt.ctx, tt.spec)
			requireErr(t, err, tt.want)
			require.Nil(t, k)
		})
	}
	keys, err := b.Keys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 2, "failed generations leave nothing behind")
}

func TestGenerateEveryAlgorithm(t *testing.T) {
	b, err := generatedStore()
	require.NoError(t, err)
	keys, err := b.Keys(context.Background())
	require.NoError(t, err)
	require.Len(t, keys, len(backend.Algorithms()))
	for _, k := range keys {
		t.Run(k.Label(), func(t *testing.T) {
			require.Equal(t, backend.Algorithm(k.Label()), k.Algorithm())
			exercise(t, k)
		})
	}
	require.True(t, slices.IsSortedFunc(keys, func(a, b backend.Key) int { return strings.Compare(a.Label(), b.Label()) }))
}

func TestKeyLookup(t *testing.T) {
	b := openMemory(t)
	ctx := context.Background()
	k, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: "find-me", ID: backend.KeyID{0xab}})
	require.NoError(t, err)
	_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: "other", ID: backend.KeyID{0xcd}})
	require.NoError(t, err)

	for _, ref := range []backend.KeyRef{backend.ByLabel("find-me"), backend.ByID(backend.KeyID{0xab}), {ID: backend.KeyID{0xab}, Label: "find-me"}} {
		got, err := b.Key(ctx, ref)
		require.NoError(t, err, ref)
		require.Same(t, k, got, ref)
	}
	for _, ref := range []backend.KeyRef{backend.ByLabel("nope"), backend.ByID(backend.KeyID{0xee}), {ID: backend.KeyID{0xab}, Label: "other"}} {
		_, err := b.Key(ctx, ref)
		requireErr(t, err, backend.ErrKeyNotFound)
		require.Contains(t, err.Error(), ref.String())
	}
	_, err = b.Key(ctx, backend.KeyRef{})
	requireErr(t, err, backend.ErrInvalidInput)
}

func TestDeleteKey(t *testing.T) {
	b := openMemory(t)
	ctx := context.Background()
	k, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.RSA2048, Label: "doomed", Usage: backend.UsageSign | backend.UsageDecrypt})
	require.NoError(t, err)
	s, err := k.Signer()
	require.NoError(t, err)
	d, err := k.Decrypter()
	require.NoError(t, err)
	kem, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.MLKEM768, Label: "kem"})
	require.NoError(t, err)
	dk, err := kem.Decapsulator()
	require.NoError(t, err)
	_, ct := dk.Encapsulator().Encapsulate()
	pub := k.Public().(*rsa.PublicKey)

	require.NoError(t, b.DeleteKey(ctx, backend.ByLabel("doomed")))
	require.NoError(t, b.DeleteKey(ctx, backend.ByID(kem.ID())))

	digest := sha256.Sum256(testMessage)
	_, err = s.Sign(rand.Reader, digest[:], crypto.SHA256)
	requireErr(t, err, backend.ErrKeyNotFound)
	_, err = d.Decrypt(rand.Reader, make([]byte, 256), nil)
	requireErr(t, err, backend.ErrKeyNotFound)
	_, err = dk.Decapsulate(ct)
	requireErr(t, err, backend.ErrKeyNotFound)
	_, err = b.Key(ctx, backend.ByLabel("doomed"))
	requireErr(t, err, backend.ErrKeyNotFound)
	requireErr(t, b.DeleteKey(ctx, backend.ByLabel("doomed")), backend.ErrKeyNotFound)
	requireErr(t, b.DeleteKey(ctx, backend.KeyRef{}), backend.ErrInvalidInput)

	require.Equal(t, 2048, pub.N.BitLen(), "the public key survives deletion")
	require.Same(t, pub, k.Public())

	// The label is free again.
	_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: "doomed"})
	require.NoError(t, err)
}

func TestClose(t *testing.T) {
	b, err := backend.Open(context.Background(), "software:")
	require.NoError(t, err)
	ctx := context.Background()
	k, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.RSA2048, Label: "k", Usage: backend.UsageSign | backend.UsageDecrypt})
	require.NoError(t, err)
	s, _ := k.Signer()
	d, _ := k.Decrypter()
	ed, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: "ed"})
	require.NoError(t, err)
	es, _ := ed.Signer()
	kem, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.MLKEM1024, Label: "kem"})
	require.NoError(t, err)
	dk, _ := kem.Decapsulator()
	_, ct := dk.Encapsulator().Encapsulate()

	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "Close is idempotent")

	digest := sha256.Sum256(testMessage)
	_, err = s.Sign(rand.Reader, digest[:], crypto.SHA256)
	requireErr(t, err, backend.ErrClosed)
	_, err = s.SignContext(ctx, rand.Reader, digest[:], crypto.SHA256)
	requireErr(t, err, backend.ErrClosed)
	_, err = d.Decrypt(rand.Reader, make([]byte, 256), nil)
	requireErr(t, err, backend.ErrClosed)
	_, err = es.(backend.MessageSigner).SignMessage(nil, testMessage, crypto.Hash(0))
	requireErr(t, err, backend.ErrClosed)
	_, err = dk.DecapsulateContext(ctx, ct)
	requireErr(t, err, backend.ErrClosed)

	_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: "new"})
	requireErr(t, err, backend.ErrClosed)
	_, err = b.(backend.Importer).ImportKey(ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: "new"}, rawKeys()[backend.Ed25519])
	requireErr(t, err, backend.ErrClosed)
	_, err = b.Key(ctx, backend.ByLabel("k"))
	requireErr(t, err, backend.ErrClosed)
	_, err = b.Keys(ctx)
	requireErr(t, err, backend.ErrClosed)
	requireErr(t, b.DeleteKey(ctx, backend.ByLabel("k")), backend.ErrClosed)

	require.Equal(t, "memory", b.Info().Kind, "Info works after Close")
	require.NotEmpty(t, b.Capabilities(), "Capabilities works after Close")
	require.NotNil(t, k.Public(), "public keys stay usable")
	require.NotNil(t, dk.Encapsulator())
}
