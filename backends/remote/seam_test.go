package remote_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
)

// A handle kept across a delete and a re-creation under the same label
// must not reach the new key (backend.Backend.DeleteKey's contract).
func TestStaleHandleNeverReachesARecreatedKey(t *testing.T) {
	ctx := context.Background()
	in := refservertest.Start(t, refservertest.Options{})
	b, err := backend.Open(ctx, in.RemoteURI(t))
	require.NoError(t, err)
	defer b.Close()
	old, err := b.GenerateKey(ctx, backend.KeySpec{Label: "reused", Algorithm: backend.ECDSAP256})
	require.NoError(t, err)
	oldSigner, err := old.Signer()
	require.NoError(t, err)
	require.NoError(t, b.DeleteKey(ctx, backend.ByLabel("reused")))
	fresh, err := b.GenerateKey(ctx, backend.KeySpec{Label: "reused", Algorithm: backend.ECDSAP256})
	require.NoError(t, err)
	require.NotEqual(t, old.ID(), fresh.ID())

	d := sha256.Sum256([]byte("x"))
	_, err = oldSigner.Sign(nil, d[:], crypto.SHA256)
	require.ErrorIs(t, err, backend.ErrKeyNotFound)
	s, err := fresh.Signer()
	require.NoError(t, err)
	_, err = s.Sign(nil, d[:], crypto.SHA256)
	require.NoError(t, err)
}

// The parsed request crosses the wire: every variant the caller asks for
// is the one the server signs with, and what a local key refuses, the
// remote one refuses too, without a panic.
func TestSignVariantsThroughTheServer(t *testing.T) {
	ctx := context.Background()
	in := refservertest.Start(t, refservertest.Options{})
	b, err := backend.Open(ctx, in.RemoteURI(t))
	require.NoError(t, err)
	defer b.Close()
	msg := []byte("message through the server")
	long := strings.Repeat("c", 300)
	for _, tt := range []struct {
		alg  backend.Algorithm
		opts crypto.SignerOpts
		err  error
	}{
		{backend.Ed448, ed448.SignerOptions{Scheme: ed448.ED448, Context: "ctx"}, nil},
		{backend.Ed448, &ed448.SignerOptions{Scheme: ed448.ED448, Context: "ctx"}, nil},
		{backend.Ed448, ed448.SignerOptions{Scheme: ed448.ED448Ph}, nil},
		{backend.Ed448, ed448.SignerOptions{Scheme: ed448.ED448Ph, Context: "ph"}, nil},
		{backend.Ed448, ed448.SignerOptions{Context: long}, backend.ErrInvalidInput},
		{backend.Ed448, (*ed448.SignerOptions)(nil), backend.ErrInvalidInput},
		{backend.MLDSA65, backend.MLDSAOptions{Context: []byte("ctx")}, nil},
		{backend.MLDSA65, &backend.MLDSAOptions{Context: []byte("ctx")}, nil},
		{backend.MLDSA65, backend.MLDSAOptions{Context: []byte(long)}, backend.ErrInvalidInput},
		{backend.RSA2048, (*rsa.PSSOptions)(nil), backend.ErrInvalidInput},
	} {
		t.Run(string(tt.alg), func(t *testing.T) {
			k, err := b.Key(ctx, backend.ByLabel("v-"+string(tt.alg)))
			if err != nil {
				k, err = b.GenerateKey(ctx, backend.KeySpec{Label: "v-" + string(tt.alg), Algorithm: tt.alg})
				require.NoError(t, err)
			}
			s, err := k.Signer()
			require.NoError(t, err)
			input := msg
			if tt.alg == backend.RSA2048 {
				d := sha256.Sum256(msg)
				input = d[:]
			}
			sig, err := s.Sign(nil, input, tt.opts)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			req, err := backend.ParseSignOptions(tt.alg, k.Public(), input, tt.opts, false)
			require.NoError(t, err)
			require.True(t, backend.VerifySignature(k.Public(), &req, sig), "signed under exactly %v with context %q", req.Scheme, req.Context)
			pure := req
			pure.Scheme, pure.Context = backend.SchemeEd448, nil
			if tt.alg == backend.MLDSA65 {
				pure.Scheme = backend.SchemeMLDSA
			}
			require.False(t, backend.VerifySignature(k.Public(), &pure, sig), "not a signature under the pure scheme")
		})
	}
	_, err = b.Key(ctx, backend.ByLabel("v-RSA-2048"))
	require.NoError(t, err)
	k, _ := b.Key(ctx, backend.ByLabel("v-Ed448"))
	s, _ := k.Signer()
	//lint:ignore SA1012 a nil context is what is tested
	_, err = s.SignContext(nil, nil, msg, crypto.Hash(0))
	require.ErrorIs(t, err, backend.ErrInvalidInput)
}
