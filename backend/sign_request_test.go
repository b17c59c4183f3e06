package backend_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"strings"
	"testing"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

// panickyOpts is a caller's own option type whose HashFunc dereferences a
// nil receiver.
type panickyOpts struct{ h crypto.Hash }

func (o *panickyOpts) HashFunc() crypto.Hash { return o.h }

func TestParseSignOptions(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	d32, d48, d64 := make([]byte, 32), make([]byte, 48), make([]byte, 64)
	msg := []byte("a message")
	ctx255, ctx256 := strings.Repeat("c", 255), strings.Repeat("c", 256)
	type want struct {
		scheme  backend.SignScheme
		hash    crypto.Hash
		salt    int
		auto    bool
		context string
	}
	tests := []struct {
		name    string
		alg     backend.Algorithm
		input   []byte
		opts    crypto.SignerOpts
		message bool
		want    want
		err     error // nil: success
	}{
		{"RSA PKCS1v15", backend.RSA2048, d32, crypto.SHA256, false, want{scheme: backend.SchemePKCS1v15, hash: crypto.SHA256}, nil},
		{"RSA PSS equals hash", backend.RSA2048, d32, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}, false, want{scheme: backend.SchemePSS, hash: crypto.SHA256, salt: 32}, nil},
		{"RSA PSS auto", backend.RSA2048, d32, &rsa.PSSOptions{Hash: crypto.SHA256}, false, want{scheme: backend.SchemePSS, hash: crypto.SHA256, salt: 256 - 32 - 2, auto: true}, nil},
		{"RSA PSS explicit", backend.RSA2048, d48, &rsa.PSSOptions{SaltLength: 20, Hash: crypto.SHA384}, false, want{scheme: backend.SchemePSS, hash: crypto.SHA384, salt: 20}, nil},
		{"RSA PSS salt too big", backend.RSA2048, d32, &rsa.PSSOptions{SaltLength: 300, Hash: crypto.SHA256}, false, want{}, backend.ErrInvalidInput},
		{"RSA typed nil PSS", backend.RSA2048, d32, (*rsa.PSSOptions)(nil), false, want{}, backend.ErrInvalidInput},
		{"RSA nil", backend.RSA2048, d32, nil, false, want{}, backend.ErrInvalidInput},
		{"RSA SHA-1 refused", backend.RSA2048, make([]byte, 20), crypto.SHA1, false, want{}, backend.ErrUnsupported},
		{"RSA digest short", backend.RSA2048, d32[:31], crypto.SHA256, false, want{}, backend.ErrInvalidInput},
		{"RSA hash 0", backend.RSA2048, d32, crypto.Hash(0), false, want{}, backend.ErrInvalidInput},
		{"RSA Ed25519 options", backend.RSA2048, d32, &ed25519.Options{Hash: crypto.SHA256}, false, want{}, backend.ErrInvalidInput},
		{"RSA Ed448 value options", backend.RSA2048, d32, ed448.SignerOptions{}, false, want{}, backend.ErrInvalidInput},
		{"RSA caller's typed nil", backend.RSA2048, d32, (*panickyOpts)(nil), false, want{}, backend.ErrInvalidInput},
		{"RSA caller's options", backend.RSA2048, d32, &panickyOpts{crypto.SHA256}, false, want{scheme: backend.SchemePKCS1v15, hash: crypto.SHA256}, nil},
		{"ECDSA", backend.ECDSAP256, d48, crypto.SHA384, false, want{scheme: backend.SchemeECDSA, hash: crypto.SHA384}, nil},
		{"ECDSA PSS options", backend.ECDSAP256, d32, &rsa.PSSOptions{Hash: crypto.SHA256}, false, want{}, backend.ErrInvalidInput},
		{"ECDSA MLDSA options", backend.ECDSAP256, d32, backend.MLDSAOptions{}, false, want{}, backend.ErrInvalidInput},
		{"Ed25519 pure", backend.Ed25519, msg, crypto.Hash(0), false, want{scheme: backend.SchemeEd25519}, nil},
		{"Ed25519 options pure", backend.Ed25519, msg, &ed25519.Options{}, false, want{scheme: backend.SchemeEd25519}, nil},
		{"Ed25519ctx", backend.Ed25519, msg, &ed25519.Options{Context: ctx255}, false, want{scheme: backend.SchemeEd25519, context: ctx255}, nil},
		{"Ed25519ph digest", backend.Ed25519, d64, &ed25519.Options{Hash: crypto.SHA512, Context: "x"}, false, want{scheme: backend.SchemeEd25519ph, hash: crypto.SHA512, context: "x"}, nil},
		{"Ed25519ph bare hash", backend.Ed25519, d64, crypto.SHA512, false, want{scheme: backend.SchemeEd25519ph, hash: crypto.SHA512}, nil},
		{"Ed25519ph message", backend.Ed25519, msg, crypto.SHA512, true, want{scheme: backend.SchemeEd25519ph, hash: crypto.SHA512}, nil},
		{"Ed25519ph short digest", backend.Ed25519, d32, crypto.SHA512, false, want{}, backend.ErrInvalidInput},
		{"Ed25519 SHA-256", backend.Ed25519, d32, crypto.SHA256, false, want{}, backend.ErrInvalidInput},
		{"Ed25519 context too long", backend.Ed25519, msg, &ed25519.Options{Context: ctx256}, false, want{}, backend.ErrInvalidInput},
		{"Ed25519 typed nil", backend.Ed25519, msg, (*ed25519.Options)(nil), false, want{}, backend.ErrInvalidInput},
		{"Ed25519 nil", backend.Ed25519, msg, nil, false, want{}, backend.ErrInvalidInput},
		{"Ed25519 Ed448 options", backend.Ed25519, msg, ed448.SignerOptions{Context: "x"}, false, want{}, backend.ErrInvalidInput},
		{"Ed448 pure", backend.Ed448, msg, crypto.Hash(0), false, want{scheme: backend.SchemeEd448}, nil},
		{"Ed448 value context", backend.Ed448, msg, ed448.SignerOptions{Scheme: ed448.ED448, Context: "ctx"}, false, want{scheme: backend.SchemeEd448, context: "ctx"}, nil},
		{"Ed448 pointer context", backend.Ed448, msg, &ed448.SignerOptions{Scheme: ed448.ED448, Context: "ctx"}, false, want{scheme: backend.SchemeEd448, context: "ctx"}, nil},
		{"Ed448ph value", backend.Ed448, msg, ed448.SignerOptions{Scheme: ed448.ED448Ph}, false, want{scheme: backend.SchemeEd448ph}, nil},
		{"Ed448ph pointer", backend.Ed448, msg, &ed448.SignerOptions{Scheme: ed448.ED448Ph, Context: ctx255}, true, want{scheme: backend.SchemeEd448ph, context: ctx255}, nil},
		{"Ed448 context too long", backend.Ed448, msg, ed448.SignerOptions{Context: ctx256}, false, want{}, backend.ErrInvalidInput},
		{"Ed448 unknown scheme", backend.Ed448, msg, ed448.SignerOptions{Scheme: 7}, false, want{}, backend.ErrInvalidInput},
		{"Ed448 typed nil", backend.Ed448, msg, (*ed448.SignerOptions)(nil), false, want{}, backend.ErrInvalidInput},
		{"Ed448 hash", backend.Ed448, d64, crypto.SHA512, false, want{}, backend.ErrInvalidInput},
		{"Ed448 Ed25519 options", backend.Ed448, msg, &ed25519.Options{Context: "x"}, false, want{}, backend.ErrInvalidInput},
		{"ML-DSA nil", backend.MLDSA65, msg, nil, false, want{scheme: backend.SchemeMLDSA}, nil},
		{"ML-DSA hash 0", backend.MLDSA44, msg, crypto.Hash(0), false, want{scheme: backend.SchemeMLDSA}, nil},
		{"ML-DSA value context", backend.MLDSA87, msg, backend.MLDSAOptions{Context: []byte("ctx")}, false, want{scheme: backend.SchemeMLDSA, context: "ctx"}, nil},
		{"ML-DSA pointer context", backend.MLDSA65, msg, &backend.MLDSAOptions{Context: []byte(ctx255)}, true, want{scheme: backend.SchemeMLDSA, context: ctx255}, nil},
		{"ML-DSA context too long", backend.MLDSA65, msg, backend.MLDSAOptions{Context: []byte(ctx256)}, false, want{}, backend.ErrInvalidInput},
		{"ML-DSA typed nil", backend.MLDSA65, msg, (*backend.MLDSAOptions)(nil), false, want{}, backend.ErrInvalidInput},
		{"ML-DSA hash", backend.MLDSA65, d32, crypto.SHA256, false, want{}, backend.ErrInvalidInput},
		{"ML-DSA Ed448 options", backend.MLDSA65, msg, ed448.SignerOptions{Context: "x"}, false, want{}, backend.ErrInvalidInput},
		{"ML-KEM does not sign", backend.MLKEM768, msg, crypto.Hash(0), false, want{}, backend.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pub crypto.PublicKey
			switch tt.alg.Family() {
			case backend.FamilyRSA:
				pub = &rsaKey.PublicKey
			case backend.FamilyECDSA:
				pub = &ecKey.PublicKey
			}
			req, err := backend.ParseSignOptions(tt.alg, pub, tt.input, tt.opts, tt.message)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want.scheme, req.Scheme)
			require.Equal(t, tt.want.hash, req.Hash)
			require.Equal(t, tt.want.salt, req.SaltLength)
			require.Equal(t, tt.want.auto, req.SaltAuto)
			require.Equal(t, tt.want.context, string(req.Context))
			wantInput := tt.input
			if tt.message && req.Scheme == backend.SchemeEd25519ph {
				d := sha512.Sum512(tt.input)
				wantInput = d[:]
			}
			require.Equal(t, wantInput, req.Input)

			// Options is the inverse: parsing what it returns gives the
			// same request.
			again, err := backend.ParseSignOptions(tt.alg, pub, req.Input, req.Options(), false)
			require.NoError(t, err)
			require.Equal(t, req, again)
		})
	}
}

func TestSignSchemeNames(t *testing.T) {
	for s := backend.SchemePKCS1v15; s <= backend.SchemeMLDSA; s++ {
		got, err := backend.ParseSignScheme(s.String())
		require.NoError(t, err)
		require.Equal(t, s, got)
	}
	_, err := backend.ParseSignScheme("SignScheme(0)")
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	require.True(t, backend.SchemeEd25519ph.Digest())
	require.False(t, backend.SchemeEd448ph.Digest(), "Ed448ph hashes the message in the store")
}
