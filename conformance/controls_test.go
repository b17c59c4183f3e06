//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract, so the suite must exercise it

package conformance

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"

	"github.com/cryptoplug/cryptoplug/backend"
)

// A control is legal behaviour that a real store has and the suite must
// pass: deterministic ECDSA, high-S signatures, a store that refuses what
// it cannot do with ErrUnsupported. The campaign runs the whole suite on
// each, on the algorithms concerned, and requires no FAIL at all.
type control struct {
	name  string
	model string
	algs  []backend.Algorithm
	m     mutation
}

var controls = []control{
	{
		name:  "deterministic ECDSA (RFC 6979)",
		model: "RFC 6979; crypto/ecdsa with a nil rand",
		algs:  []backend.Algorithm{p256, p384},
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			return sign(ctx, nil, req)
		}},
	},
	{
		name:  "high-S ECDSA: s replaced by n-s whenever it is the lower half",
		model: "crypto/ecdsa and X.509 accept either s; only some blockchains require low S",
		algs:  []backend.Algorithm{p256},
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			return normaliseS(k, ctx, rand, req, sign, func(s, half *big.Int) bool { return s.Cmp(half) <= 0 })
		}},
	},
	{
		name: "low-S ECDSA: s always in the lower half",
		algs: []backend.Algorithm{p384},
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			return normaliseS(k, ctx, rand, req, sign, func(s, half *big.Int) bool { return s.Cmp(half) > 0 })
		}},
	},
	{
		name:  "PSS under PSSSaltLengthAuto with the hash length as salt, as TPM emulators sign",
		model: "FIELD-NOTES: emulators use salt = hash length",
		algs:  []backend.Algorithm{rsa2k},
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			if req.Scheme == backend.SchemePSS && req.SaltAuto {
				req.SaltLength = req.Hash.Size()
			}
			return sign(ctx, rand, req)
		}},
	},
	{
		name:  "PSS under PSSSaltLengthAuto with the largest salt, as the TPM specification says",
		model: "https://github.com/tpm2-software/tpm2-pkcs11/issues/417",
		algs:  []backend.Algorithm{rsa2k},
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			if req.Scheme == backend.SchemePSS && req.SaltAuto {
				priv := k.priv.(*rsa.PrivateKey)
				return pssSign(priv, req.Hash, req.Hash, req.Input, randomBytes(backend.PSSMaxSaltLength(&priv.PublicKey, req.Hash))), nil
			}
			return sign(ctx, rand, req)
		}},
	},
	{
		name:  "OAEP labels refused with ErrUnsupported",
		model: "tokens without CKZ_DATA_SPECIFIED support",
		algs:  []backend.Algorithm{rsa2k},
		m: mutation{decrypt: func(k *mkey, ctx context.Context, req backend.DecryptRequest, next backend.DecryptFunc) ([]byte, error) {
			if req.Scheme == backend.SchemeOAEP && len(req.Label) > 0 {
				return nil, fmt.Errorf("OAEP labels: %w", backend.ErrUnsupported)
			}
			return next(ctx, req)
		}},
	},
	{
		name:  "OAEP with anything but SHA-1 refused with ErrUnsupported, as SoftHSM 2.6 does",
		model: "FIELD-NOTES: SoftHSM OAEP works only with SHA-1 and no label",
		algs:  []backend.Algorithm{rsa2k},
		m: mutation{decrypt: func(k *mkey, ctx context.Context, req backend.DecryptRequest, next backend.DecryptFunc) ([]byte, error) {
			if req.Scheme == backend.SchemeOAEP && (req.Hash != crypto.SHA1 || req.MGFHash != crypto.SHA1 || len(req.Label) > 0) {
				return nil, fmt.Errorf("OAEP parameters: %w", backend.ErrUnsupported)
			}
			return next(ctx, req)
		}},
	},
	{
		name:  "store decryption errors that differ by reason, hidden by cryptoplug's adapter",
		model: "CKR_ENCRYPTED_DATA_INVALID and CKR_ENCRYPTED_DATA_LEN_RANGE from a token",
		algs:  []backend.Algorithm{rsa2k},
		m: mutation{decrypt: func(k *mkey, ctx context.Context, req backend.DecryptRequest, next backend.DecryptFunc) ([]byte, error) {
			pt, err := next(ctx, req)
			if err != nil {
				return nil, fmt.Errorf("%w: %s", err, paddingReason(rawBlock(k, req.Ciphertext)))
			}
			return pt, nil
		}},
	},
	{
		name:  "SessionKeyLen with implicit rejection: the fallback derived from the ciphertext",
		model: "https://github.com/opencryptoki/opencryptoki/pull/737",
		algs:  []backend.Algorithm{rsa2k},
		m: mutation{decryptCall: sessionKeyFallback(func(k *mkey, c decryptCall, n int) []byte {
			mac := hmac.New(sha256.New, k.priv.(*rsa.PrivateKey).D.Bytes())
			mac.Write(c.ct)
			sum := mac.Sum(nil)
			return slices.Repeat(sum, n/len(sum)+1)[:n]
		})},
	},
	{
		name:  "SessionKeyLen refused with ErrUnsupported",
		model: "FIELD-NOTES: crypto11 rejects PKCS #1 v1.5 SessionKeyLen",
		algs:  []backend.Algorithm{rsa2k},
		m: mutation{decryptCall: func(k *mkey, c decryptCall, next func(decryptCall) ([]byte, error)) ([]byte, error) {
			if o, ok := c.opts.(*rsa.PKCS1v15DecryptOptions); ok && o != nil && o.SessionKeyLen > 0 {
				return nil, backend.Errorf("decrypt", "mutant", k.Label(), fmt.Errorf("SessionKeyLen: %w", backend.ErrUnsupported))
			}
			return next(c)
		}},
	},
	{
		name: "a typed nil *rsa.PKCS1v15DecryptOptions decrypted as PKCS#1 v1.5",
		algs: []backend.Algorithm{rsa2k},
		m: mutation{decryptCall: func(k *mkey, c decryptCall, next func(decryptCall) ([]byte, error)) ([]byte, error) {
			if o, ok := c.opts.(*rsa.PKCS1v15DecryptOptions); ok && o == nil {
				c.opts = nil
			}
			return next(c)
		}},
	},
	{
		name:  "Ed25519ctx, Ed25519ph, Ed448 contexts and Ed448ph refused with ErrUnsupported",
		model: "FIELD-NOTES: SoftHSM 2.6.1 signs pure EdDSA only",
		algs:  []backend.Algorithm{ed25, ed4},
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			if len(req.Context) > 0 || req.Scheme == backend.SchemeEd25519ph || req.Scheme == backend.SchemeEd448ph {
				return nil, fmt.Errorf("EdDSA variant %v: %w", req.Scheme, backend.ErrUnsupported)
			}
			return sign(ctx, rand, req)
		}},
	},
	{
		name:  "hedged ML-DSA (randomized signing)",
		model: "FIPS 204 allows hedged and deterministic signing",
		algs:  []backend.Algorithm{mld},
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			sig := make([]byte, mldsa65.SignatureSize)
			return sig, mldsa65.SignTo(k.priv.(*mldsa65.PrivateKey), req.Input, req.Context, true, sig)
		}},
	},
	{
		name:  "messages over 64 KiB refused with ErrInvalidInput (a stated bound)",
		model: "the reference server's 64 KiB request bound",
		algs:  []backend.Algorithm{ed25, mld},
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			if !req.Scheme.Digest() && len(req.Input) > 64<<10 {
				return nil, fmt.Errorf("message of %d bytes, at most %d: %w", len(req.Input), 64<<10, backend.ErrInvalidInput)
			}
			return sign(ctx, rand, req)
		}},
	},
	{
		name: "errors that name the key's public key in hex (not a secret)",
		algs: []backend.Algorithm{rsa2k, p256},
		m: func() mutation {
			public := func(k *mkey, err error) error {
				der, _ := x509.MarshalPKIXPublicKey(k.Public())
				var be *backend.Error
				if !errors.As(err, &be) {
					return err
				}
				return backend.Errorf(be.Op, be.Backend, be.Key, fmt.Errorf("%w (public key %x)", be.Err, der))
			}
			return mutation{
				signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
					sig, err := next(c)
					if err != nil {
						return nil, public(k, err)
					}
					return sig, nil
				},
				decryptCall: func(k *mkey, c decryptCall, next func(decryptCall) ([]byte, error)) ([]byte, error) {
					pt, err := next(c)
					if err != nil {
						return nil, public(k, err)
					}
					return pt, nil
				},
			}
		}(),
	},
	{
		name: "Keys() lists keys in reverse order",
		algs: []backend.Algorithm{p256, ed25},
		m: mutation{keys: func(b *mutantBackend, ctx context.Context) ([]backend.Key, error) {
			keys, err := b.list(ctx)
			slices.Reverse(keys)
			return keys, err
		}},
	},
}

// normaliseS signs and replaces s by n-s when flip says so.
func normaliseS(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc, flip func(s, half *big.Int) bool) ([]byte, error) {
	sig, err := sign(ctx, rand, req)
	if err != nil || req.Scheme != backend.SchemeECDSA {
		return sig, err
	}
	n := k.Public().(*ecdsa.PublicKey).Curve.Params().N
	r, s, _ := parseECDSA(sig)
	if flip(s, new(big.Int).Rsh(n, 1)) {
		s.Sub(n, s)
	}
	return encodeECDSA(r, s)
}
