//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract, so the suite must exercise it

package conformance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cloudflare/circl/sign/ed448"

	"github.com/cryptoplug/cryptoplug/backend"
)

// A mutant is one realistic bug; the campaign (mutation_test.go) runs the
// suite on each and requires the cells in want to FAIL. Those modelled on
// a bug a real wrapper or token had cite the report.
type mutant struct {
	name   string
	class  string // signing, options, padding, decryption, kem, lifecycle, errors, contexts, concurrency
	model  string // the report it is modelled on, if any
	algs   []backend.Algorithm
	checks []string // the checks that matter (nil: all)
	want   []cellRef
	m      mutation
	opts   []Option // beyond the campaign's defaults
}

var (
	p256  = backend.ECDSAP256
	p384  = backend.ECDSAP384
	rsa2k = backend.RSA2048
	ed25  = backend.Ed25519
	ed4   = backend.Ed448
	mlk   = backend.MLKEM768
	mld   = backend.MLDSA65
)

func cells(check string, algs ...backend.Algorithm) []cellRef {
	var out []cellRef
	for _, a := range algs {
		out = append(out, cellRef{check, string(a)})
	}
	if len(algs) == 0 {
		out = append(out, cellRef{check, columnBackend})
	}
	return out
}

// keyState returns the per-key state of a mutation, made on first use.
func keyState[T any](k *mkey, init func() T) T {
	k.once.Do(func() { k.state = init() })
	return k.state.(T)
}

// ecdsaNonce is a store whose ECDSA nonce comes from next instead of a
// proper random or RFC 6979 source.
func ecdsaNonce(next func(k *mkey, n *big.Int) *big.Int) func(*mkey, context.Context, io.Reader, backend.SignRequest, backend.SignFunc) ([]byte, error) {
	return func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
		p, ok := k.priv.(*ecdsa.PrivateKey)
		if !ok {
			return sign(ctx, rand, req)
		}
		return ecdsaSignWithNonce(p, req.Input, next(k, p.Curve.Params().N))
	}
}

func randomScalar(n *big.Int) *big.Int {
	k := new(big.Int).SetBytes(randomBytes((n.BitLen() + 7) / 8))
	return k.Mod(k, n)
}

// nonDERPadded re-encodes an ECDSA signature with r and s as fixed-length
// INTEGERs, zero padding kept: what a byte-wise conversion of a TPM's or
// token's r||s gives.
func nonDERPadded(pub *ecdsa.PublicKey, der []byte) []byte {
	r, s, _ := parseECDSA(der)
	size := (pub.Curve.Params().BitSize + 7) / 8
	integer := func(x *big.Int) []byte {
		b := x.FillBytes(make([]byte, size))
		if b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return append([]byte{0x02, byte(len(b))}, b...)
	}
	body := append(integer(r), integer(s)...)
	if len(body) < 128 {
		return append([]byte{0x30, byte(len(body))}, body...)
	}
	return append([]byte{0x30, 0x81, byte(len(body))}, body...)
}

// truncating signs only the first n bytes of a message, as a wrapper that
// copies the message into a fixed buffer does.
func truncating(n int) func(*mkey, context.Context, io.Reader, backend.SignRequest, backend.SignFunc) ([]byte, error) {
	return func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
		if !req.Scheme.Digest() && len(req.Input) > n {
			req.Input = req.Input[:n]
		}
		return sign(ctx, rand, req)
	}
}

// rawBlock is the decrypted block of an RSA ciphertext.
func rawBlock(k *mkey, ct []byte) []byte { return rsaPrivateOp(k.priv.(*rsa.PrivateKey), ct) }

// tokenError is an error type a token library returns; two of them with
// the same text are still distinguishable by type.
type tokenError struct{ text string }

func (e *tokenError) Error() string { return e.text }

// paddingReason says what is wrong with a PKCS #1 v1.5 or OAEP block, as a
// token that reports it would.
func paddingReason(em []byte) string {
	switch {
	case em[0] != 0:
		return "first byte not zero"
	case em[1] != 2:
		return "block type not 2"
	}
	i := bytes.IndexByte(em[2:], 0)
	switch {
	case i < 0:
		return "no separator"
	case i < 8:
		return "padding string too short"
	}
	return "padding check failed"
}

// sessionKeyFallback is a backend doing PKCS #1 v1.5 SessionKeyLen itself,
// above the adapter, with the fallback fallback returns on bad padding.
func sessionKeyFallback(fallback func(k *mkey, c decryptCall, n int) []byte) func(*mkey, decryptCall, func(decryptCall) ([]byte, error)) ([]byte, error) {
	return func(k *mkey, c decryptCall, next func(decryptCall) ([]byte, error)) ([]byte, error) {
		o, ok := c.opts.(*rsa.PKCS1v15DecryptOptions)
		if !ok || o == nil || o.SessionKeyLen <= 0 {
			return next(c)
		}
		n := o.SessionKeyLen
		c.opts = nil
		pt, err := next(c)
		if err == nil && len(pt) == n {
			return pt, nil
		}
		if err != nil && !errors.Is(err, rsa.ErrDecryption) {
			return nil, err
		}
		return fallback(k, c, n), nil
	}
}

// composeAccents maps a Latin letter and a combining accent to the
// precomposed letter, the part of Unicode NFC a label normaliser needs here.
var composeAccents = strings.NewReplacer(
	"e\u0301", "é", "E\u0301", "É", "e\u0300", "è", "a\u0301", "á", "a\u0300", "à",
	"o\u0301", "ó", "u\u0308", "ü", "o\u0308", "ö", "a\u0308", "ä", "i\u0301", "í",
)

// lookupWith finds a key by label with a comparison other than equality
// when the exact lookup finds nothing: the bug of a store that folds case
// or normalises Unicode.
func lookupWith(equal func(a, b string) bool) func(*mutantBackend, context.Context, backend.KeyRef) (backend.Key, error) {
	return func(b *mutantBackend, ctx context.Context, ref backend.KeyRef) (backend.Key, error) {
		k, err := b.lookup(ctx, ref)
		if err == nil || !errors.Is(err, backend.ErrKeyNotFound) || ref.Label == "" || len(ref.ID) > 0 {
			return k, err
		}
		list, lerr := b.list(ctx)
		if lerr != nil {
			return nil, err
		}
		for _, l := range list {
			if equal(l.Label(), ref.Label) {
				return l, nil
			}
		}
		return nil, err
	}
}

// sentinelOf returns the package backend sentinel err wraps, or err.
func sentinelOf(err error) error {
	for _, s := range []error{backend.ErrUnsupported, backend.ErrInvalidInput, backend.ErrKeyNotFound,
		backend.ErrKeyExists, backend.ErrClosed, rsa.ErrDecryption, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, s) {
			return s
		}
	}
	return err
}

// overlap runs f with a count of the calls in flight, and yields so that
// concurrent calls meet inside it.
type overlap struct {
	inflight atomic.Int32
	mu       sync.Mutex
	shared   []byte
}

func (o *overlap) enter() int32 {
	n := o.inflight.Add(1)
	runtime.Gosched()
	return n
}

func (o *overlap) leave() { o.inflight.Add(-1) }

var mutants = []mutant{
	// Signing: a token's wrong answer, passed through.
	{
		name: "ECDSA nonce constant for every signature", class: "signing",
		algs: []backend.Algorithm{p256}, checks: []string{"sign-repeat"}, want: cells("sign-repeat", p256),
		m: mutation{sign: ecdsaNonce(func(k *mkey, n *big.Int) *big.Int {
			return keyState(k, func() *big.Int { return randomScalar(n) })
		})},
	},
	{
		name: "ECDSA nonce from a generator that cycles through four values", class: "signing",
		model: "https://github.com/Bit-Wasp/bitcoin-lib-php/issues/71",
		algs:  []backend.Algorithm{p384}, checks: []string{"sign-repeat"}, want: cells("sign-repeat", p384),
		m: mutation{sign: ecdsaNonce(func(k *mkey, n *big.Int) *big.Int {
			type cycle struct {
				sync.Mutex
				i  int
				ks [4]*big.Int
			}
			c := keyState(k, func() *cycle {
				c := &cycle{}
				for i := range c.ks {
					c.ks[i] = randomScalar(n)
				}
				return c
			})
			c.Lock()
			defer c.Unlock()
			c.i++
			return c.ks[c.i%4]
		})},
	},
	{
		name: "ECDSA nonces 64 bits short of the group order (biased)", class: "signing",
		model: "https://github.com/intel/cryptography-primitives/issues/92",
		algs:  []backend.Algorithm{p256}, checks: []string{"sign-repeat"}, want: cells("sign-repeat", p256),
		m: mutation{sign: ecdsaNonce(func(k *mkey, n *big.Int) *big.Int {
			return new(big.Int).SetBytes(randomBytes((n.BitLen() - 64) / 8))
		})},
	},
	{
		name: "ECDSA r and s DER-encoded with the token's zero padding kept", class: "signing",
		model: "https://github.com/strongswan/strongswan/pull/3149",
		algs:  []backend.Algorithm{p256}, checks: []string{"ecdsa-der"}, want: cells("ecdsa-der", p256),
		opts: []Option{WithSignatureBudget(4000)}, // a short r or s comes once in 256 signatures
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			sig, err := sign(ctx, rand, req)
			if err != nil {
				return nil, err
			}
			return nonDERPadded(k.Public().(*ecdsa.PublicKey), sig), nil
		}},
	},
	{
		name: "ECDSA over the hash of the digest (the token hashes again)", class: "signing",
		model: "https://github.com/OpenSC/OpenSC/issues/557",
		algs:  []backend.Algorithm{p256}, checks: []string{"sign-ecdsa-sha256"}, want: cells("sign-ecdsa-sha256", p256),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			if req.Scheme == backend.SchemeECDSA {
				req.Input = hashOf(req.Hash, req.Input)
			}
			return sign(ctx, rand, req)
		}},
	},
	{
		name: "ECDSA digests longer than the curve cut on the right instead of the left", class: "signing",
		model: "https://github.com/OpenSC/OpenSC/issues/557",
		algs:  []backend.Algorithm{p256}, checks: []string{"sign-ecdsa-sha384"}, want: cells("sign-ecdsa-sha384", p256),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			if req.Scheme == backend.SchemeECDSA && len(req.Input) > 32 {
				req.Input = req.Input[len(req.Input)-32:]
			}
			return sign(ctx, rand, req)
		}},
	},
	{
		name: "PKCS#1 v1.5 with SHA-512 signs the bare digest, without its DigestInfo", class: "signing",
		algs: []backend.Algorithm{rsa2k}, checks: []string{"sign-pkcs1v15-sha512"}, want: cells("sign-pkcs1v15-sha512", rsa2k),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			if req.Scheme == backend.SchemePKCS1v15 && req.Hash == crypto.SHA512 {
				return rsa.SignPKCS1v15(nil, k.priv.(*rsa.PrivateKey), crypto.Hash(0), req.Input)
			}
			return sign(ctx, rand, req)
		}},
	},
	{
		name: "RSA signatures with leading zero bytes stripped (a big-integer conversion)", class: "signing",
		model: "https://github.com/OpenSC/OpenSC/issues/1283",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"rsa-signature-length"}, want: cells("rsa-signature-length", rsa2k),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			sig, err := sign(ctx, rand, req)
			if err != nil {
				return nil, err
			}
			return new(big.Int).SetBytes(sig).Bytes(), nil
		}},
	},
	{
		name: "PSS with the hash length as salt whatever length was asked for", class: "signing",
		model: "https://github.com/tpm2-software/tpm2-openssl/issues/115",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"sign-pss-sha256"}, want: cells("sign-pss-sha256", rsa2k),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			if req.Scheme == backend.SchemePSS {
				req.SaltLength = req.Hash.Size()
			}
			return sign(ctx, rand, req)
		}},
	},
	{
		name: "PSS with MGF1-SHA1 whatever the hash", class: "signing",
		model: "https://github.com/tpm2-software/tpm2-openssl/issues/114",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"sign-pss-sha256"}, want: cells("sign-pss-sha256", rsa2k),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			if req.Scheme == backend.SchemePSS {
				return pssSign(k.priv.(*rsa.PrivateKey), req.Hash, crypto.SHA1, req.Input, randomBytes(req.SaltLength)), nil
			}
			return sign(ctx, rand, req)
		}},
	},
	{
		name: "PSS salt constant (all zero)", class: "signing",
		algs: []backend.Algorithm{rsa2k}, checks: []string{"sign-repeat"}, want: cells("sign-repeat", rsa2k),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			if req.Scheme == backend.SchemePSS {
				return pssSign(k.priv.(*rsa.PrivateKey), req.Hash, req.Hash, req.Input, make([]byte, req.SaltLength)), nil
			}
			return sign(ctx, rand, req)
		}},
	},
	{
		name: "Ed25519 signs only the first 64 KiB of a message", class: "signing",
		model: "https://github.com/Yubico/yubihsm-shell/pull/390",
		algs:  []backend.Algorithm{ed25}, checks: []string{"sign-long-message"}, want: cells("sign-long-message", ed25),
		m: mutation{sign: truncating(64 << 10)},
	},
	{
		name: "Ed448 signs only the first 32 KiB of a message", class: "signing",
		model: "https://github.com/Yubico/yubihsm-shell/pull/390",
		algs:  []backend.Algorithm{ed4}, checks: []string{"sign-long-message"}, want: cells("sign-long-message", ed4),
		m: mutation{sign: truncating(32 << 10)},
	},
	{
		name: "ML-DSA signs only the first 1 MiB of a message", class: "signing",
		algs: []backend.Algorithm{mld}, checks: []string{"sign-long-message"}, want: cells("sign-long-message", mld),
		m: mutation{sign: truncating(1 << 20)},
	},
	{
		name: "Ed25519ctx: the token drops the context", class: "signing",
		model: "https://github.com/softhsm/SoftHSMv2/issues/873",
		algs:  []backend.Algorithm{ed25}, checks: []string{"sign-ed25519-options"}, want: cells("sign-ed25519-options", ed25),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			req.Context = nil
			return sign(ctx, rand, req)
		}},
	},
	{
		name: "Ed25519ph: the token signs the digest as a pure message", class: "signing",
		model: "https://github.com/softhsm/SoftHSMv2/pull/892",
		algs:  []backend.Algorithm{ed25}, checks: []string{"sign-ed25519-options"}, want: cells("sign-ed25519-options", ed25),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			if req.Scheme == backend.SchemeEd25519ph {
				req.Scheme, req.Hash = backend.SchemeEd25519, 0
			}
			return sign(ctx, rand, req)
		}},
	},
	{
		name: "Ed448: the token drops the context", class: "signing",
		model: "https://github.com/softhsm/SoftHSMv2/issues/873",
		algs:  []backend.Algorithm{ed4}, checks: []string{"sign-options"}, want: cells("sign-options", ed4),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			req.Context = nil
			return sign(ctx, rand, req)
		}},
	},
	{
		name: "Ed448ph: the token signs pure Ed448", class: "signing",
		algs: []backend.Algorithm{ed4}, checks: []string{"sign-options"}, want: cells("sign-options", ed4),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			if req.Scheme == backend.SchemeEd448ph {
				req.Scheme = backend.SchemeEd448
			}
			return sign(ctx, rand, req)
		}},
	},
	{
		name: "ML-DSA: the token drops the context", class: "signing",
		algs: []backend.Algorithm{mld}, checks: []string{"sign-options"}, want: cells("sign-options", mld),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			req.Context = nil
			return sign(ctx, rand, req)
		}},
	},

	// Options: a backend's own wrapper reading the caller's options.
	{
		name: "Ed448 options recognised only as a pointer: a value's context is ignored", class: "options",
		model: "cryptoplug issue 12 (backends/pkcs11/eddsa.go matched only *ed448.SignerOptions)",
		algs:  []backend.Algorithm{ed4}, checks: []string{"sign-options"}, want: cells("sign-options", ed4),
		m: mutation{signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
			if _, ok := c.opts.(ed448.SignerOptions); ok {
				c.opts = crypto.Hash(0)
			}
			return next(c)
		}},
	},
	{
		name: "(*rsa.PSSOptions)(nil) dereferenced: a panic", class: "options",
		model: "cryptoplug issue 12 (backends/remote/key.go)",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"sign-options"}, want: cells("sign-options", rsa2k),
		m: mutation{signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
			if p, ok := c.opts.(*rsa.PSSOptions); ok {
				_ = p.SaltLength // the wrapper reads the salt length first
			}
			return next(c)
		}},
	},
	{
		name: "(*rsa.PSSOptions)(nil) taken as PKCS#1 v1.5 with SHA-256", class: "options",
		algs: []backend.Algorithm{rsa2k}, checks: []string{"sign-options"}, want: cells("sign-options", rsa2k),
		m: mutation{signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
			if p, ok := c.opts.(*rsa.PSSOptions); ok && p == nil {
				c.opts = crypto.SHA256
			}
			return next(c)
		}},
	},
	{
		name: "(*ed25519.Options)(nil) dereferenced: a panic", class: "options",
		algs: []backend.Algorithm{ed25}, checks: []string{"sign-options"}, want: cells("sign-options", ed25),
		m: mutation{signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
			if o, ok := c.opts.(*ed25519.Options); ok {
				_ = o.Context
			}
			return next(c)
		}},
	},
	{
		name: "An Ed448 option type given to an Ed25519 key signs pure Ed25519, the context dropped", class: "options",
		model: "cryptoplug issue 12 (the software backend before the seam)",
		algs:  []backend.Algorithm{ed25}, checks: []string{"sign-options"}, want: cells("sign-options", ed25),
		m: mutation{signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
			if _, ok := c.opts.(ed448.SignerOptions); ok {
				c.opts = crypto.Hash(0)
			}
			return next(c)
		}},
	},
	{
		name: "Ed25519 contexts over 255 bytes cut to 255 and signed", class: "options",
		algs: []backend.Algorithm{ed25}, checks: []string{"sign-invalid", "sign-options"}, want: cells("sign-invalid", ed25),
		m: mutation{signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
			if o, ok := c.opts.(*ed25519.Options); ok && o != nil && len(o.Context) > 255 {
				c.opts = &ed25519.Options{Hash: o.Hash, Context: o.Context[:255]}
			}
			return next(c)
		}},
	},
	{
		name: "Ed448 contexts over 255 bytes cut to 255 and signed", class: "options",
		algs: []backend.Algorithm{ed4}, checks: []string{"sign-options"}, want: cells("sign-options", ed4),
		m: mutation{signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
			switch o := c.opts.(type) {
			case ed448.SignerOptions:
				if len(o.Context) > 255 {
					o.Context = o.Context[:255]
					c.opts = o
				}
			case *ed448.SignerOptions:
				if o != nil && len(o.Context) > 255 {
					c.opts = &ed448.SignerOptions{Scheme: o.Scheme, Context: o.Context[:255]}
				}
			}
			return next(c)
		}},
	},
	{
		name: "ML-DSA contexts over 255 bytes cut to 255 and signed", class: "options",
		algs: []backend.Algorithm{mld}, checks: []string{"sign-options"}, want: cells("sign-options", mld),
		m: mutation{signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
			switch o := c.opts.(type) {
			case backend.MLDSAOptions:
				if len(o.Context) > 255 {
					c.opts = backend.MLDSAOptions{Context: o.Context[:255]}
				}
			case *backend.MLDSAOptions:
				if o != nil && len(o.Context) > 255 {
					c.opts = &backend.MLDSAOptions{Context: o.Context[:255]}
				}
			}
			return next(c)
		}},
	},
	{
		name: "(*rsa.PKCS1v15DecryptOptions)(nil) dereferenced: a panic", class: "options",
		model: "cryptoplug issue 12 (backends/pkcs11/decrypt.go)",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"decrypt-options"}, want: cells("decrypt-options", rsa2k),
		m: mutation{decryptCall: func(k *mkey, c decryptCall, next func(decryptCall) ([]byte, error)) ([]byte, error) {
			if o, ok := c.opts.(*rsa.PKCS1v15DecryptOptions); ok {
				_ = o.SessionKeyLen // the wrapper reads the session key length first
			}
			return next(c)
		}},
	},
	{
		name: "(*rsa.OAEPOptions)(nil) decrypted as PKCS#1 v1.5", class: "options",
		algs: []backend.Algorithm{rsa2k}, checks: []string{"decrypt-options"}, want: cells("decrypt-options", rsa2k),
		m: mutation{decryptCall: func(k *mkey, c decryptCall, next func(decryptCall) ([]byte, error)) ([]byte, error) {
			if o, ok := c.opts.(*rsa.OAEPOptions); ok && o == nil {
				c.opts = nil
			}
			return next(c)
		}},
	},

	// Padding: what a backend's own decryption wrapper tells the caller.
	{
		name: "PKCS#1 v1.5 padding oracle: the error says what is wrong, still wrapping rsa.ErrDecryption", class: "padding",
		model: "https://github.com/kjur/jsrsasign/issues/439",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"decrypt-oracle"}, want: cells("decrypt-oracle", rsa2k),
		m: mutation{decryptCall: func(k *mkey, c decryptCall, next func(decryptCall) ([]byte, error)) ([]byte, error) {
			pt, err := next(c)
			if errors.Is(err, rsa.ErrDecryption) && c.opts == nil {
				return nil, backend.Errorf("decrypt", "mutant", k.Label(), fmt.Errorf("%w: %s", rsa.ErrDecryption, paddingReason(rawBlock(k, c.ct))))
			}
			return pt, err
		}},
	},
	{
		name: "OAEP padding oracle: a non-zero first byte reported apart (Manger)", class: "padding",
		algs: []backend.Algorithm{rsa2k}, checks: []string{"decrypt-oracle"}, want: cells("decrypt-oracle", rsa2k),
		m: mutation{decryptCall: func(k *mkey, c decryptCall, next func(decryptCall) ([]byte, error)) ([]byte, error) {
			pt, err := next(c)
			if _, oaep := c.opts.(*rsa.OAEPOptions); oaep && errors.Is(err, rsa.ErrDecryption) && rawBlock(k, c.ct)[0] != 0 {
				return nil, backend.Errorf("decrypt", "mutant", k.Label(), fmt.Errorf("%w: integer too large", rsa.ErrDecryption))
			}
			return pt, err
		}},
	},
	{
		name: "Padding oracle in the error's type: the same text from two token error types", class: "padding",
		algs: []backend.Algorithm{rsa2k}, checks: []string{"decrypt-oracle"}, want: cells("decrypt-oracle", rsa2k),
		m: mutation{decryptCall: func(k *mkey, c decryptCall, next func(decryptCall) ([]byte, error)) ([]byte, error) {
			pt, err := next(c)
			if errors.Is(err, rsa.ErrDecryption) && c.opts == nil && rawBlock(k, c.ct)[1] != 2 {
				return nil, backend.Errorf("decrypt", "mutant", k.Label(), fmt.Errorf("%w%w", rsa.ErrDecryption, &tokenError{""}))
			}
			return pt, err
		}},
	},
	{
		name: "SessionKeyLen fallback all zero", class: "padding",
		algs: []backend.Algorithm{rsa2k}, checks: []string{"decrypt-pkcs1v15-session"}, want: cells("decrypt-pkcs1v15-session", rsa2k),
		m: mutation{decryptCall: sessionKeyFallback(func(k *mkey, c decryptCall, n int) []byte { return make([]byte, n) })},
	},
	{
		name: "SessionKeyLen fallback is the tail of the decrypted block", class: "padding",
		algs: []backend.Algorithm{rsa2k}, checks: []string{"decrypt-pkcs1v15-session"}, want: cells("decrypt-pkcs1v15-session", rsa2k),
		m: mutation{decryptCall: sessionKeyFallback(func(k *mkey, c decryptCall, n int) []byte {
			em := rawBlock(k, c.ct)
			return em[len(em)-n:]
		})},
	},
	{
		name: "SessionKeyLen fallback drawn from rand only after the padding failed", class: "padding",
		model: "cryptoplug issue 12 (the TPM backend drew its fallback after the decrypt, behind a branch)",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"decrypt-pkcs1v15-session"}, want: cells("decrypt-pkcs1v15-session", rsa2k),
		m: mutation{decryptCall: sessionKeyFallback(func(k *mkey, c decryptCall, n int) []byte {
			b := make([]byte, n)
			_, _ = io.ReadFull(randOr(c.rand), b)
			return b
		})},
	},
	{
		name: "SessionKeyLen fallback derived from the public key alone (one per key)", class: "padding",
		algs: []backend.Algorithm{rsa2k}, checks: []string{"decrypt-pkcs1v15-session"}, want: cells("decrypt-pkcs1v15-session", rsa2k),
		m: mutation{decryptCall: sessionKeyFallback(func(k *mkey, c decryptCall, n int) []byte {
			h := sha256.Sum256(k.Public().(*rsa.PublicKey).N.Bytes())
			return bytes.Repeat(h[:], n/32+1)[:n]
		})},
	},

	// Decryption: a token's wrong answer, passed through.
	{
		name: "PKCS#1 v1.5 block without the zero separator accepted", class: "decryption",
		model: "opencryptoki 3.8's soft token (FIELD-NOTES)",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"decrypt-invalid"}, want: cells("decrypt-invalid", rsa2k),
		m: mutation{decrypt: func(k *mkey, ctx context.Context, req backend.DecryptRequest, next backend.DecryptFunc) ([]byte, error) {
			if req.Scheme == backend.SchemeRSAPKCS1v15 {
				if em := rawBlock(k, req.Ciphertext); em[0] == 0 && em[1] == 2 && bytes.IndexByte(em[2:], 0) < 0 {
					return em[len(em)-20:], nil
				}
			}
			return next(ctx, req)
		}},
	},
	{
		name: "PKCS#1 v1.5 plaintexts lose their leading zero bytes", class: "decryption",
		model: "https://github.com/OpenSC/OpenSC/issues/2925",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"decrypt-pkcs1v15"}, want: cells("decrypt-pkcs1v15", rsa2k),
		m: mutation{decrypt: func(k *mkey, ctx context.Context, req backend.DecryptRequest, next backend.DecryptFunc) ([]byte, error) {
			pt, err := next(ctx, req)
			if err == nil && len(pt) > 0 {
				pt = new(big.Int).SetBytes(pt).Bytes()
			}
			return pt, err
		}},
	},
	{
		name: "PKCS#1 v1.5 refuses the empty message", class: "decryption",
		model: "https://github.com/libtom/libtomcrypt/pull/613",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"decrypt-pkcs1v15"}, want: cells("decrypt-pkcs1v15", rsa2k),
		m: mutation{decrypt: func(k *mkey, ctx context.Context, req backend.DecryptRequest, next backend.DecryptFunc) ([]byte, error) {
			pt, err := next(ctx, req)
			if err == nil && len(pt) == 0 {
				return nil, rsa.ErrDecryption
			}
			return pt, err
		}},
	},
	{
		name: "RSA-PKCS decryption returns the whole padded block", class: "decryption",
		model: "https://github.com/tpm2-software/tpm2-pkcs11/issues/623",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"decrypt-pkcs1v15"}, want: cells("decrypt-pkcs1v15", rsa2k),
		m: mutation{decrypt: func(k *mkey, ctx context.Context, req backend.DecryptRequest, next backend.DecryptFunc) ([]byte, error) {
			if _, err := next(ctx, req); err != nil || req.Scheme != backend.SchemeRSAPKCS1v15 {
				return next(ctx, req)
			}
			return rawBlock(k, req.Ciphertext), nil
		}},
	},
	{
		name: "OAEP label ignored", class: "decryption",
		model: "https://github.com/softhsm/SoftHSMv2/pull/820",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"decrypt-oaep-sha1"}, want: cells("decrypt-oaep-sha1", rsa2k),
		m: mutation{decrypt: func(k *mkey, ctx context.Context, req backend.DecryptRequest, next backend.DecryptFunc) ([]byte, error) {
			if req.Scheme == backend.SchemeOAEP {
				return oaepDecodeIgnoringLabel(rawBlock(k, req.Ciphertext), req.Hash, req.MGFHash)
			}
			return next(ctx, req)
		}},
	},
	{
		name: "OAEP MGF1 hash ignored: MGF1 with the label hash", class: "decryption",
		model: "https://github.com/Yubico/yubico-piv-tool/pull/530",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"decrypt-oaep-sha256"}, want: cells("decrypt-oaep-sha256", rsa2k),
		m: mutation{decrypt: func(k *mkey, ctx context.Context, req backend.DecryptRequest, next backend.DecryptFunc) ([]byte, error) {
			req.MGFHash = req.Hash
			return next(ctx, req)
		}},
	},
	{
		name: "Ciphertexts at or above the modulus reduced modulo n", class: "decryption",
		algs: []backend.Algorithm{rsa2k}, checks: []string{"decrypt-invalid"}, want: cells("decrypt-invalid", rsa2k),
		m: mutation{decryptCall: func(k *mkey, c decryptCall, next func(decryptCall) ([]byte, error)) ([]byte, error) {
			pub := k.Public().(*rsa.PublicKey)
			if x := new(big.Int).SetBytes(c.ct); len(c.ct) == pub.Size() && x.Cmp(pub.N) >= 0 {
				c.ct = x.Mod(x, pub.N).FillBytes(make([]byte, pub.Size()))
			}
			return next(c)
		}},
	},
	{
		name: "Ciphertexts longer than the modulus accepted when the extra bytes are zero", class: "decryption",
		model: "https://github.com/kjur/jsrsasign/issues/439",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"decrypt-invalid"}, want: cells("decrypt-invalid", rsa2k),
		m: mutation{decryptCall: func(k *mkey, c decryptCall, next func(decryptCall) ([]byte, error)) ([]byte, error) {
			size := k.Public().(*rsa.PublicKey).Size()
			for len(c.ct) > size && c.ct[0] == 0 {
				c.ct = c.ct[1:]
			}
			return next(c)
		}},
	},

	// KEMs.
	{
		name: "ML-KEM explicit rejection: an error instead of the implicit-rejection key", class: "kem",
		model: "https://github.com/microsoft/SymCrypt/issues/57",
		algs:  []backend.Algorithm{mlk}, checks: []string{"decapsulate-invalid"}, want: cells("decapsulate-invalid", mlk),
		m: mutation{decap: func(k *mkey, ctx context.Context, ct []byte, next backend.DecapsulateFunc) ([]byte, error) {
			if mlkem768Rejects(k.priv.(*mlkem.DecapsulationKey768).Bytes(), ct) {
				return nil, errors.New("ciphertext rejected")
			}
			return next(ctx, ct)
		}},
	},
	{
		name: "ML-KEM implicit-rejection key constant (all zero)", class: "kem",
		model: "https://github.com/chipsalliance/caliptra-sw/issues/3713",
		algs:  []backend.Algorithm{mlk}, checks: []string{"decapsulate-invalid"}, want: cells("decapsulate-invalid", mlk),
		m: mutation{decap: func(k *mkey, ctx context.Context, ct []byte, next backend.DecapsulateFunc) ([]byte, error) {
			if mlkem768Rejects(k.priv.(*mlkem.DecapsulationKey768).Bytes(), ct) {
				return make([]byte, 32), nil
			}
			return next(ctx, ct)
		}},
	},
	{
		name: "ML-KEM ciphertexts of the wrong length padded or cut and decapsulated", class: "kem",
		algs: []backend.Algorithm{mlk}, checks: []string{"decapsulate-invalid"}, want: cells("decapsulate-invalid", mlk),
		m: mutation{decapCall: func(k *mkey, c decapCall, next func(decapCall) ([]byte, error)) ([]byte, error) {
			const size = mlkem.CiphertextSize768
			if len(c.ct) < size {
				c.ct = append(bytes.Clone(c.ct), make([]byte, size-len(c.ct))...)
			}
			c.ct = c.ct[:size]
			return next(c)
		}},
	},
	{
		name: "ML-KEM shared key cut to 16 bytes", class: "kem",
		algs: []backend.Algorithm{mlk}, checks: []string{"decapsulate"}, want: cells("decapsulate", mlk),
		m: mutation{decap: func(k *mkey, ctx context.Context, ct []byte, next backend.DecapsulateFunc) ([]byte, error) {
			key, err := next(ctx, ct)
			if err != nil {
				return nil, err
			}
			return key[:16], nil
		}},
	},

	// Key lifecycle.
	{
		name: "DeleteKey matches the ID and ignores the label", class: "lifecycle",
		model: "pkcs11-tool picks a key by --id and ignores --label (FIELD-NOTES); https://github.com/eclipse-keypont/crypto11/pull/62",
		algs:  []backend.Algorithm{p256}, checks: []string{"delete-ref"}, want: cells("delete-ref"),
		m: mutation{deleteKey: func(b *mutantBackend, ctx context.Context, ref backend.KeyRef) error {
			if len(ref.ID) > 0 {
				ref.Label = ""
			}
			return b.Backend.DeleteKey(ctx, ref)
		}},
	},
	{
		name: "DeleteKey matches the label and ignores the ID", class: "lifecycle",
		algs: []backend.Algorithm{p256}, checks: []string{"delete-ref"}, want: cells("delete-ref"),
		m: mutation{deleteKey: func(b *mutantBackend, ctx context.Context, ref backend.KeyRef) error {
			if ref.Label != "" {
				ref.ID = nil
			}
			return b.Backend.DeleteKey(ctx, ref)
		}},
	},
	{
		name: "Key with an ID and a label matches on the ID alone", class: "lifecycle",
		model: "https://github.com/eclipse-keypont/crypto11/pull/62",
		algs:  []backend.Algorithm{p256}, checks: []string{"lifecycle", "delete-ref"}, want: append(cells("lifecycle", p256), cells("delete-ref")...),
		m: mutation{key: func(b *mutantBackend, ctx context.Context, ref backend.KeyRef) (backend.Key, error) {
			if len(ref.ID) > 0 {
				ref.Label = ""
			}
			return b.lookup(ctx, ref)
		}},
	},
	{
		name: "Label lookups fold case", class: "lifecycle",
		model: "https://github.com/intel/crypto-api-toolkit/issues/8",
		algs:  []backend.Algorithm{p256}, checks: []string{"labels"}, want: cells("labels"),
		m: mutation{key: lookupWith(strings.EqualFold)},
	},
	{
		name: "Label lookups normalise Unicode (NFC)", class: "lifecycle",
		algs: []backend.Algorithm{p256}, checks: []string{"labels"}, want: cells("labels"),
		m: mutation{key: lookupWith(func(a, b string) bool {
			return composeAccents.Replace(a) == composeAccents.Replace(b)
		})},
	},
	{
		name: "Keys() drops keys whose label is not ASCII", class: "lifecycle",
		model: "https://github.com/eclipse-keypont/crypto11/issues/28",
		algs:  []backend.Algorithm{p256}, checks: []string{"labels"}, want: cells("labels"),
		m: mutation{keys: func(b *mutantBackend, ctx context.Context) ([]backend.Key, error) {
			all, err := b.list(ctx)
			var out []backend.Key
			for _, k := range all {
				if utf8.RuneCountInString(k.Label()) == len(k.Label()) {
					out = append(out, k)
				}
			}
			return out, err
		}},
	},
	{
		name: "A key handle finds its key by label at every call: after delete and re-create it signs with the new key", class: "lifecycle",
		model: "cryptoplug issue 12 (the remote backend addressed keys by label)",
		algs:  []backend.Algorithm{p256}, checks: []string{"delete-ref"}, want: cells("delete-ref"),
		m: mutation{
			sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
				cur, err := k.b.lookup(ctx, backend.ByLabel(k.Label()))
				if err != nil {
					return nil, err
				}
				return storeSign(cur.(*mkey).priv, rand, req)
			},
			byLabel: true,
		},
	},
	{
		name: "GenerateKey with an existing label returns the existing key", class: "lifecycle",
		model: "https://github.com/OpenSC/OpenSC/issues/1613",
		algs:  []backend.Algorithm{p256}, checks: []string{"lifecycle"}, want: cells("lifecycle", p256),
		m: mutation{importKey: func(b *mutantBackend, ctx context.Context, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
			k, err := b.importKey(ctx, spec, priv)
			if errors.Is(err, backend.ErrKeyExists) {
				return b.lookup(ctx, backend.ByLabel(spec.Label))
			}
			return k, err
		}},
	},

	// Errors.
	{
		name: "Store errors passed through raw, not as *backend.Error", class: "errors",
		algs: []backend.Algorithm{p256}, checks: []string{"sign-invalid", "error-type"}, want: cells("error-type"),
		m: mutation{signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
			sig, err := next(c)
			if err != nil {
				return nil, fmt.Errorf("CKR_FUNCTION_FAILED: %w", sentinelOf(err))
			}
			return sig, nil
		}},
	},
	{
		name: "ImportKey errors print the private key in hex", class: "errors",
		model: "https://github.com/XRPLF/xrpl.js/issues/3317",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"errors", "error-leak"}, want: append(cells("errors", rsa2k), cells("error-leak")...),
		m: mutation{importKey: func(b *mutantBackend, ctx context.Context, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
			k, err := b.importKey(ctx, spec, priv)
			if err != nil {
				der, _ := x509.MarshalPKCS8PrivateKey(priv)
				return nil, backend.Errorf("import key", "mutant", spec.Label, fmt.Errorf("%w (key %x)", err, der))
			}
			return k, nil
		}},
	},
	{
		name: "ImportKey errors print the key with %v (its integers in decimal)", class: "errors",
		model: "https://github.com/stacks-network/stacks-core/issues/5245",
		algs:  []backend.Algorithm{p256}, checks: []string{"errors", "error-leak"}, want: append(cells("errors", p256), cells("error-leak")...),
		m: mutation{importKey: func(b *mutantBackend, ctx context.Context, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
			k, err := b.importKey(ctx, spec, priv)
			if err != nil {
				return nil, backend.Errorf("import key", "mutant", spec.Label, fmt.Errorf("%w: cannot import %v", err, priv))
			}
			return k, nil
		}},
	},
	{
		name: "Signing errors carry the Ed25519 seed in base64 (a debug dump of the key)", class: "errors",
		model: "https://github.com/LFDT-Panurus/panurus/pull/2205",
		algs:  []backend.Algorithm{ed25}, checks: []string{"errors", "error-leak"}, want: append(cells("errors", ed25), cells("error-leak")...),
		m: mutation{signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
			sig, err := next(c)
			if err != nil {
				seed := k.priv.(ed25519.PrivateKey).Seed()
				return nil, backend.Errorf("sign", "mutant", k.Label(), fmt.Errorf("%w [key state %s]", err, base64.StdEncoding.EncodeToString(seed)))
			}
			return sig, nil
		}},
	},
	{
		name: "Decapsulation errors print the ML-KEM seed as a byte list", class: "errors",
		algs: []backend.Algorithm{mlk}, checks: []string{"errors", "error-leak"}, want: append(cells("errors", mlk), cells("error-leak")...),
		m: mutation{decapCall: func(k *mkey, c decapCall, next func(decapCall) ([]byte, error)) ([]byte, error) {
			key, err := next(c)
			if err != nil {
				return nil, backend.Errorf("decapsulate", "mutant", k.Label(), fmt.Errorf("%w (dk %v)", err, k.priv.(*mlkem.DecapsulationKey768).Bytes()))
			}
			return key, nil
		}},
	},
	{
		name: "Context errors returned bare, not as *backend.Error", class: "errors",
		algs: []backend.Algorithm{p256}, checks: []string{"context-canceled", "error-type"}, want: cells("error-type"),
		m: mutation{signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
			if c.ctx != nil && c.ctx.Err() != nil {
				return nil, c.ctx.Err()
			}
			return next(c)
		}},
	},

	// Contexts.
	{
		name: "SignContext with a nil context waits forever on its Done channel", class: "contexts",
		model: "cryptoplug issue 12 (backends/pkcs11)",
		algs:  []backend.Algorithm{p256}, checks: []string{"nil-context"}, want: cells("nil-context", p256),
		opts: []Option{WithCheckTimeout(3 * time.Second)},
		m: mutation{signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
			if c.withCtx && c.ctx == nil {
				<-k.b.done() // until the backend closes: ctx.Done() of a nil context blocks the same way
				return nil, backend.ErrClosed
			}
			return next(c)
		}},
	},
	{
		name: "DecryptContext with a nil context panics", class: "contexts",
		model: "cryptoplug issue 12 (backends/software and backends/tpm)",
		algs:  []backend.Algorithm{rsa2k}, checks: []string{"nil-context"}, want: cells("nil-context", rsa2k),
		m: mutation{decryptCall: func(k *mkey, c decryptCall, next func(decryptCall) ([]byte, error)) ([]byte, error) {
			if c.withCtx {
				if err := c.ctx.Err(); err != nil {
					return nil, err
				}
			}
			return next(c)
		}},
	},
	{
		name: "DecapsulateContext ignores a cancelled context", class: "contexts",
		algs: []backend.Algorithm{mlk}, checks: []string{"context-canceled"}, want: cells("context-canceled", mlk),
		m: mutation{decapCall: func(k *mkey, c decapCall, next func(decapCall) ([]byte, error)) ([]byte, error) {
			if c.withCtx {
				c.ctx = context.Background()
			}
			return next(c)
		}},
	},

	// Concurrency: state shared between calls, without a data race.
	{
		name: "ECDSA nonce shared by overlapping calls (an RNG state read twice)", class: "concurrency",
		model: "https://github.com/skalenetwork/sgxwallet/pull/532",
		algs:  []backend.Algorithm{p256}, checks: []string{"concurrency"}, want: cells("concurrency"),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			o := keyState(k, func() *overlap { return &overlap{} })
			n := o.enter()
			defer o.leave()
			p := k.priv.(*ecdsa.PrivateKey)
			o.mu.Lock()
			if n == 1 || o.shared == nil {
				o.shared = randomScalar(p.Curve.Params().N).Bytes()
			}
			nonce := new(big.Int).SetBytes(o.shared)
			o.mu.Unlock()
			return ecdsaSignWithNonce(p, req.Input, nonce)
		}},
	},
	{
		name: "PSS salt shared by overlapping calls", class: "concurrency",
		algs: []backend.Algorithm{rsa2k}, checks: []string{"concurrency"}, want: cells("concurrency"),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			if req.Scheme != backend.SchemePSS {
				return sign(ctx, rand, req)
			}
			o := keyState(k, func() *overlap { return &overlap{} })
			n := o.enter()
			defer o.leave()
			o.mu.Lock()
			if n == 1 || o.shared == nil {
				o.shared = randomBytes(req.SaltLength)
			}
			salt := bytes.Clone(o.shared)
			o.mu.Unlock()
			return pssSign(k.priv.(*rsa.PrivateKey), req.Hash, req.Hash, req.Input, salt), nil
		}},
	},
	{
		name: "One session for all callers: an operation signs the digest another caller put there", class: "concurrency",
		model: "https://github.com/aws/amazon-freertos/issues/262",
		algs:  []backend.Algorithm{ed25}, checks: []string{"concurrency"}, want: cells("concurrency"),
		m: mutation{sign: func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, sign backend.SignFunc) ([]byte, error) {
			o := keyState(k, func() *overlap { return &overlap{} })
			o.mu.Lock()
			o.shared = bytes.Clone(req.Input) // C_SignInit … the data
			o.mu.Unlock()
			o.enter()
			defer o.leave()
			o.mu.Lock()
			req.Input = bytes.Clone(o.shared) // … C_Sign with whatever the session holds
			o.mu.Unlock()
			return sign(ctx, rand, req)
		}},
	},
	{
		name: "Decapsulation results handed to whichever caller asks next (one result slot)", class: "concurrency",
		model: "https://github.com/cloudflare/cfssl/issues/329",
		algs:  []backend.Algorithm{mlk}, checks: []string{"concurrency"}, want: cells("concurrency"),
		m: mutation{decap: func(k *mkey, ctx context.Context, ct []byte, next backend.DecapsulateFunc) ([]byte, error) {
			o := keyState(k, func() *overlap { return &overlap{} })
			key, err := next(ctx, ct)
			if err != nil {
				return nil, err
			}
			o.mu.Lock()
			o.shared = key
			o.mu.Unlock()
			o.enter()
			defer o.leave()
			o.mu.Lock()
			defer o.mu.Unlock()
			return bytes.Clone(o.shared), nil
		}},
	},
}
