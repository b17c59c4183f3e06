//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/require"
)

type publicKey interface{ Equal(crypto.PublicKey) bool }

func TestImportKey(t *testing.T) {
	ctx := context.Background()
	b, _ := newToken(t, "")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	_, ed448Key, err := ed448.GenerateKey(rand.Reader)
	require.NoError(t, err)

	tests := []struct {
		alg  backend.Algorithm
		priv crypto.Signer
	}{
		{backend.RSA2048, rsaKey},
		{backend.ECDSAP521, ecKey},
		{backend.Ed25519, edKey},
		{backend.Ed448, ed448Key},
	}
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			label := "imported-" + string(tt.alg)
			k, err := b.ImportKey(ctx, backend.KeySpec{Algorithm: tt.alg, Label: label}, tt.priv)
			require.NoError(t, err)
			require.True(t, tt.priv.Public().(publicKey).Equal(k.Public()))
			priv, _ := readAttrs(t, b, k)
			require.Equal(t, []byte{1}, priv[pkcs11.CKA_SENSITIVE])
			require.Equal(t, []byte{0}, priv[pkcs11.CKA_EXTRACTABLE])
			require.Equal(t, []byte{1}, priv[pkcs11.CKA_PRIVATE])
			if tt.alg != backend.Ed448 {
				signAndVerify(t, k)
			}
			_, err = b.ImportKey(ctx, backend.KeySpec{Algorithm: tt.alg, Label: label}, tt.priv)
			require.ErrorIs(t, err, backend.ErrKeyExists)
		})
	}
	for name, tc := range map[string]struct {
		alg  backend.Algorithm
		priv crypto.PrivateKey
		want error
	}{
		"RSA size mismatch":   {backend.RSA3072, rsaKey, backend.ErrInvalidInput},
		"curve mismatch":      {backend.ECDSAP256, ecKey, backend.ErrInvalidInput},
		"type mismatch":       {backend.Ed25519, ecKey, backend.ErrInvalidInput},
		"Ed448 as Ed25519":    {backend.Ed25519, ed448Key, backend.ErrInvalidInput},
		"ML-DSA unsupported":  {backend.MLDSA44, edKey, backend.ErrUnsupported},
		"truncated Ed25519":   {backend.Ed25519, edKey[:10], backend.ErrInvalidInput},
		"nil private key":     {backend.RSA2048, nil, backend.ErrInvalidInput},
		"pointer to ed25519?": {backend.Ed25519, &edKey, backend.ErrInvalidInput},
	} {
		_, err := b.ImportKey(ctx, backend.KeySpec{Algorithm: tc.alg, Label: "bad-" + name}, tc.priv)
		require.ErrorIs(t, err, tc.want, name)
	}
}

// TestConcurrentUse signs, looks up and lists from many goroutines over a
// small pool; run it with -race.
func TestConcurrentUse(t *testing.T) {
	ctx := context.Background()
	b, _ := newToken(t, "&max-sessions=3")
	keys := []backend.Key{
		generate(t, b, backend.ECDSAP256, "ec", 0),
		generate(t, b, backend.RSA2048, "rsa", 0),
		generate(t, b, backend.Ed25519, "ed", 0),
	}
	// The workers report what they saw; the test goroutine judges it.
	type result struct {
		what  string
		err   error
		label string // Key's answer
		want  string
		n     int // how many keys Keys listed
	}
	results := make(chan result, 8*12*3)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 12 {
				k := keys[(g+i)%len(keys)]
				results <- result{what: "sign", err: signVerified(k)}
				if i%4 == 0 {
					got, err := b.Key(ctx, backend.ByID(k.ID()))
					r := result{what: "key", err: err, want: k.Label()}
					if err == nil {
						r.label = got.Label()
					}
					results <- r
				}
				if i%6 == 0 {
					all, err := b.Keys(ctx)
					results <- result{what: "keys", err: err, n: len(all)}
				}
			}
		}()
	}
	wg.Wait()
	close(results)
	for r := range results {
		require.NoError(t, r.err, r.what)
		switch r.what {
		case "key":
			require.Equal(t, r.want, r.label)
		case "keys":
			require.Equal(t, len(keys), r.n)
		}
	}
	require.LessOrEqual(t, b.openSessions(), 3)
}
