package software

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"

	// Hashes the allow-list names, so that a digest's crypto.Hash can be
	// instantiated (PSS, Ed25519ph).
	_ "crypto/sha256"
	_ "crypto/sha3"
	_ "crypto/sha512"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/cryptoplug/cryptoplug/backend"
)

// signFunc returns the store operation that signs with priv, for
// [backend.NewSigner]: the request arrives parsed and checked, so each
// algorithm is one call into the standard library or circl.
func (k *key) signFunc(priv crypto.PrivateKey) backend.SignFunc {
	var sign func(rand io.Reader, req backend.SignRequest) ([]byte, error)
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		sign = func(rand io.Reader, req backend.SignRequest) ([]byte, error) {
			if req.Scheme == backend.SchemePSS {
				if rand == nil {
					rand = cryptorand.Reader // crypto/rsa would dereference it
				}
				return rsa.SignPSS(rand, p, req.Hash, req.Input, &rsa.PSSOptions{SaltLength: req.SaltLength, Hash: req.Hash})
			}
			return rsa.SignPKCS1v15(nil, p, req.Hash, req.Input)
		}
	case *ecdsa.PrivateKey:
		sign = func(rand io.Reader, req backend.SignRequest) ([]byte, error) {
			return p.Sign(rand, req.Input, req.Hash) // RFC 6979 when rand is nil, as crypto/ecdsa does
		}
	case ed25519.PrivateKey:
		sign = func(_ io.Reader, req backend.SignRequest) ([]byte, error) {
			if req.Scheme == backend.SchemeEd25519 && len(req.Context) == 0 {
				return ed25519.Sign(p, req.Input), nil
			}
			return p.Sign(nil, req.Input, &ed25519.Options{Hash: req.Hash, Context: string(req.Context)})
		}
	case ed448.PrivateKey:
		sign = func(_ io.Reader, req backend.SignRequest) ([]byte, error) {
			if req.Scheme == backend.SchemeEd448ph {
				return ed448.SignPh(p, req.Input, string(req.Context)), nil
			}
			return ed448.Sign(p, req.Input, string(req.Context)), nil
		}
	case *mldsa44.PrivateKey:
		sign = mldsaSign(mldsa44.SignatureSize, func(msg, ctx, sig []byte) error { return mldsa44.SignTo(p, msg, ctx, false, sig) })
	case *mldsa65.PrivateKey:
		sign = mldsaSign(mldsa65.SignatureSize, func(msg, ctx, sig []byte) error { return mldsa65.SignTo(p, msg, ctx, false, sig) })
	case *mldsa87.PrivateKey:
		sign = mldsaSign(mldsa87.SignatureSize, func(msg, ctx, sig []byte) error { return mldsa87.SignTo(p, msg, ctx, false, sig) })
	default:
		sign = func(io.Reader, backend.SignRequest) ([]byte, error) {
			return nil, fmt.Errorf("%T keys do not sign: %w", priv, backend.ErrUnsupported)
		}
	}
	return func(ctx context.Context, rand io.Reader, req backend.SignRequest) ([]byte, error) {
		if err := k.enter(ctx); err != nil {
			return nil, err
		}
		defer k.leave()
		return sign(rand, req)
	}
}

// mldsaSign signs with circl's deterministic ML-DSA (FIPS 204), with the
// request's context.
func mldsaSign(size int, signTo func(msg, ctx, sig []byte) error) func(io.Reader, backend.SignRequest) ([]byte, error) {
	return func(_ io.Reader, req backend.SignRequest) ([]byte, error) {
		sig := make([]byte, size)
		if err := signTo(req.Input, req.Context, sig); err != nil {
			return nil, fmt.Errorf("ML-DSA: %v: %w", err, backend.ErrInvalidInput)
		}
		return sig, nil
	}
}
