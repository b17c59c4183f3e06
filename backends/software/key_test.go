package software

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"testing"

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

func TestGateRunsIdleOnceTheLastOperationLeaves(t *testing.T) {
	idle := 0
	g := gate{idle: func() { idle++ }}
	require.True(t, g.enter())
	require.True(t, g.enter())
	g.leave()
	g.shut()
	require.Zero(t, idle, "an operation is still in flight")
	require.False(t, g.enter(), "a shut gate admits nothing")
	require.Zero(t, idle, "a refused enter does not end the wait")
	g.leave()
	require.Equal(t, 1, idle, "idle runs when the last operation leaves")
	require.False(t, g.enter())
	g.shut()
	require.Equal(t, 1, idle, "idle runs once")

	idle = 0
	var fresh gate
	fresh.idle = func() { idle++ }
	fresh.shut()
	require.Equal(t, 1, idle, "an idle gate runs idle at once")
}

// blockingReader hands out bytes only when told to, so a PSS signature can
// be held in flight.
type blockingReader struct {
	reading chan struct{}
	release chan struct{}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	r.reading <- struct{}{}
	<-r.release
	clear(p)
	return len(p), nil
}

func TestCloseWipesAKeyInUseWhenItsOperationEnds(t *testing.T) {
	b, err := openMemory(&backend.URI{Scheme: Scheme})
	require.NoError(t, err)
	bk, err := b.GenerateKey(context.Background(), backend.KeySpec{Algorithm: backend.RSA2048, Label: "in use"})
	require.NoError(t, err)
	k := bk.(*key)
	s, err := k.Signer()
	require.NoError(t, err)
	rd := &blockingReader{reading: make(chan struct{}), release: make(chan struct{})}
	type result struct {
		sig []byte
		err error
	}
	done := make(chan result)
	go func() {
		sig, err := s.Sign(rd, make([]byte, 32), &rsa.PSSOptions{Hash: crypto.SHA256})
		done <- result{sig, err}
	}()
	<-rd.reading // the signature is in flight, holding the key

	require.NoError(t, b.Close(), "Close does not wait for operations in flight")
	priv := k.priv.(*rsa.PrivateKey)
	require.NotZero(t, priv.D.Sign(), "a key in use is not wiped under the operation")
	_, err = s.Sign(nil, make([]byte, 32), crypto.SHA256)
	require.ErrorIs(t, err, backend.ErrClosed)

	close(rd.release)
	res := <-done
	require.NoError(t, res.err)
	require.NoError(t, rsa.VerifyPSS(k.pub.(*rsa.PublicKey), crypto.SHA256, make([]byte, 32), res.sig, nil))
	require.Zero(t, priv.D.Sign(), "wiped when the last operation left")
}
