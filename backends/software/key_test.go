package software

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

// TestWipe checks that DeleteKey and Close zero the private key material the
// store can reach.
func TestWipe(t *testing.T) {
	algs := []backend.Algorithm{backend.RSA2048, backend.ECDSAP256, backend.Ed25519, backend.Ed448, backend.MLDSA44}
	wiped := func(t *testing.T, k *key) {
		t.Helper()
		switch p := k.priv.(type) {
		case *rsa.PrivateKey:
			require.Zero(t, p.D.Sign())
			require.Zero(t, p.Primes[0].Sign())
			require.Zero(t, p.Primes[1].Sign())
			require.Nil(t, p.Precomputed.Dp)
		case *ecdsa.PrivateKey:
			//lint:ignore SA1019 checking that the scalar was wiped
			require.Zero(t, p.D.Sign())
		case ed25519.PrivateKey:
			require.Equal(t, make([]byte, len(p)), []byte(p))
		case ed448.PrivateKey:
			require.Equal(t, make([]byte, len(p)), []byte(p))
		case *mldsa44.PrivateKey:
			require.Equal(t, mldsa44.PrivateKey{}, *p)
		default:
			t.Fatalf("no check for %T", p)
		}
	}
	for _, how := range []string{"DeleteKey", "Close"} {
		t.Run(how, func(t *testing.T) {
			b, err := openMemory(&backend.URI{Scheme: Scheme})
			require.NoError(t, err)
			s := b.(*store)
			var keys []*key
			for _, alg := range algs {
				k, err := s.GenerateKey(context.Background(), backend.KeySpec{Algorithm: alg, Label: string(alg)})
				require.NoError(t, err)
				keys = append(keys, k.(*key))
			}
			for _, k := range keys {
				if how == "DeleteKey" {
					require.NoError(t, s.DeleteKey(context.Background(), backend.ByID(k.id)))
				}
			}
			require.NoError(t, s.Close())
			for _, k := range keys {
				t.Run(string(k.alg), func(t *testing.T) { wiped(t, k) })
			}
		})
	}
}

func TestGateDrains(t *testing.T) {
	var g gate
	require.True(t, g.enter())
	require.True(t, g.enter())
	g.leave()
	done := make(chan bool)
	go func() { done <- g.shut() }()
	select {
	case <-done:
		t.Fatal("shut returned with an operation in flight")
	case <-time.After(20 * time.Millisecond):
	}
	require.False(t, g.enter(), "a shut gate admits nothing")
	g.leave()
	require.True(t, <-done, "shut returns once the last operation leaves")
	require.False(t, g.enter())
}
