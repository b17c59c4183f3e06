//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract, so the suite must exercise it

package conformance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha3"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync"

	"github.com/cloudflare/circl/pke/kyber/kyber768"
	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
)

// The mutation campaign's test kit. A mutant is the software backend with
// one bug: keys live in the real in-memory software store (labels, IDs,
// lookups, listing, deletion), and every operation goes through
// cryptoplug's real adapters (backend.NewSigner, NewDecrypter,
// NewDecapsulator) over a store function that does what the software
// backend's does, one call into the standard library or circl with the
// private key. The kit holds each private key itself (it makes keys with
// the standard library and imports them), so that a mutant can do what a
// token gets wrong with the key in hand: pick its own ECDSA nonce, PSS salt
// or padding check. A mutation replaces one of three layers:
//
//   - the store function (a token's wrong answer, passed through by the
//     adapters: a bad nonce, a truncated message, a lax padding check);
//   - what the caller gets above the adapters (a backend's own wrapper
//     getting options, errors, contexts or concurrency wrong, as every
//     backend's hand-written wrappers could before the adapters existed);
//   - a lifecycle call (lookups, listing, deletion, import).

// mutation is one bug. Nil fields keep the software behaviour.
type mutation struct {
	// Store layer: next is the correct store function.
	sign    func(k *mkey, ctx context.Context, rand io.Reader, req backend.SignRequest, next backend.SignFunc) ([]byte, error)
	decrypt func(k *mkey, ctx context.Context, req backend.DecryptRequest, next backend.DecryptFunc) ([]byte, error)
	decap   func(k *mkey, ctx context.Context, ct []byte, next backend.DecapsulateFunc) ([]byte, error)

	// Caller layer: next calls the adapter.
	signCall    func(k *mkey, req signCall, next func(signCall) ([]byte, error)) ([]byte, error)
	decryptCall func(k *mkey, req decryptCall, next func(decryptCall) ([]byte, error)) ([]byte, error)
	decapCall   func(k *mkey, req decapCall, next func(decapCall) ([]byte, error)) ([]byte, error)

	// Lifecycle layer: b.Backend is the software store.
	key       func(b *mutantBackend, ctx context.Context, ref backend.KeyRef) (backend.Key, error)
	keys      func(b *mutantBackend, ctx context.Context) ([]backend.Key, error)
	deleteKey func(b *mutantBackend, ctx context.Context, ref backend.KeyRef) error
	importKey func(b *mutantBackend, ctx context.Context, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error)

	// byLabel makes a key handle check its key by label rather than by ID
	// before each operation.
	byLabel bool
}

// kitKeys pools RSA keys per size, so that fifty runs of the suite do not
// spend their time generating RSA keys; other keys are made fresh.
var kitKeys struct {
	sync.Mutex
	rsa  map[int][]*rsa.PrivateKey
	next map[int]int
}

const kitRSAPool = 4

// newKitKey returns a private key of a made by the standard library (or
// circl): for RSA one of a small pool, in turn.
func newKitKey(a backend.Algorithm) (crypto.PrivateKey, error) {
	if a.Family() != backend.FamilyRSA {
		return privkey.Generate(a)
	}
	kitKeys.Lock()
	defer kitKeys.Unlock()
	if kitKeys.rsa == nil {
		kitKeys.rsa, kitKeys.next = map[int][]*rsa.PrivateKey{}, map[int]int{}
	}
	bits := a.Bits()
	if len(kitKeys.rsa[bits]) < kitRSAPool {
		for {
			k, err := privkey.Generate(a)
			if err != nil {
				return nil, err
			}
			// A modulus whose top byte leaves room for c + n in k bytes,
			// so that decrypt-invalid always builds its "plus n" case.
			if n := k.(*rsa.PrivateKey).N; n.Bytes()[0] < 0xe0 {
				kitKeys.rsa[bits] = append(kitKeys.rsa[bits], k.(*rsa.PrivateKey))
				return k, nil
			}
		}
	}
	i := kitKeys.next[bits] % kitRSAPool
	kitKeys.next[bits]++
	return kitKeys.rsa[bits][i], nil
}

// mutantBackend is the in-memory software backend with a mutation, or
// (passthrough) another backend whose own operations the mutation wraps.
type mutantBackend struct {
	backend.Backend
	m           *mutation
	passthrough bool // keys and operations are the inner backend's; store-layer hooks do not apply

	mu     sync.Mutex
	privs  map[string]crypto.PrivateKey // by hex ID
	closed chan struct{}
	once   sync.Once
}

// done is closed when the backend is closed.
func (b *mutantBackend) done() <-chan struct{} { return b.closed }

func (b *mutantBackend) Close() error {
	b.once.Do(func() { close(b.closed) })
	return b.Backend.Close()
}

// openWrapped returns an Opener for the backend inner opens, with m's
// caller-layer and lifecycle hooks around it: a bug in a backend's own
// wrapper, on a real token.
func openWrapped(m *mutation, inner Opener) Opener {
	return func(ctx context.Context) (backend.Backend, error) {
		b, err := inner(ctx)
		if err != nil {
			return nil, err
		}
		return &mutantBackend{Backend: b, m: m, passthrough: true, privs: map[string]crypto.PrivateKey{}, closed: make(chan struct{})}, nil
	}
}

// openMutant returns an Opener for a fresh in-memory software backend
// carrying m.
func openMutant(m *mutation) Opener {
	return func(ctx context.Context) (backend.Backend, error) {
		inner, err := backend.Open(ctx, "software:")
		if err != nil {
			return nil, err
		}
		return &mutantBackend{Backend: inner, m: m, privs: map[string]crypto.PrivateKey{}, closed: make(chan struct{})}, nil
	}
}

func (b *mutantBackend) wrap(k backend.Key, priv crypto.PrivateKey) backend.Key {
	if priv == nil {
		b.mu.Lock()
		priv = b.privs[k.ID().String()]
		b.mu.Unlock()
	} else {
		b.mu.Lock()
		b.privs[k.ID().String()] = priv
		b.mu.Unlock()
	}
	return &mkey{Key: k, b: b, priv: priv}
}

// GenerateKey makes the key with the standard library and imports it, so
// that the kit knows its private half. A spec the store refuses is refused
// by the software backend's own GenerateKey, with its error.
func (b *mutantBackend) GenerateKey(ctx context.Context, spec backend.KeySpec) (backend.Key, error) {
	if b.passthrough {
		k, err := b.Backend.GenerateKey(ctx, spec)
		if err != nil {
			return nil, err
		}
		return b.wrap(k, nil), nil
	}
	if err := spec.Validate(); err != nil || !b.Capabilities().Supports(spec.Algorithm, backend.OpGenerate) {
		return b.Backend.GenerateKey(ctx, spec)
	}
	priv, err := newKitKey(spec.Algorithm)
	if err != nil {
		return nil, err
	}
	k, err := b.Backend.(backend.Importer).ImportKey(ctx, spec, priv)
	if err != nil {
		return nil, err
	}
	return b.wrap(k, priv), nil
}

func (b *mutantBackend) ImportKey(ctx context.Context, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
	if b.m.importKey != nil {
		return b.m.importKey(b, ctx, spec, priv)
	}
	return b.importKey(ctx, spec, priv)
}

func (b *mutantBackend) importKey(ctx context.Context, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
	k, err := b.Backend.(backend.Importer).ImportKey(ctx, spec, priv)
	if err != nil {
		return nil, err
	}
	return b.wrap(k, priv), nil
}

func (b *mutantBackend) Key(ctx context.Context, ref backend.KeyRef) (backend.Key, error) {
	if b.m.key != nil {
		return b.m.key(b, ctx, ref)
	}
	return b.lookup(ctx, ref)
}

// lookup is the software backend's Key, wrapped.
func (b *mutantBackend) lookup(ctx context.Context, ref backend.KeyRef) (backend.Key, error) {
	k, err := b.Backend.Key(ctx, ref)
	if err != nil {
		return nil, err
	}
	return b.wrap(k, nil), nil
}

func (b *mutantBackend) Keys(ctx context.Context) ([]backend.Key, error) {
	if b.m.keys != nil {
		return b.m.keys(b, ctx)
	}
	return b.list(ctx)
}

// list is the software backend's Keys, wrapped.
func (b *mutantBackend) list(ctx context.Context) ([]backend.Key, error) {
	keys, err := b.Backend.Keys(ctx)
	for i, k := range keys {
		keys[i] = b.wrap(k, nil)
	}
	return keys, err
}

func (b *mutantBackend) DeleteKey(ctx context.Context, ref backend.KeyRef) error {
	if b.m.deleteKey != nil {
		return b.m.deleteKey(b, ctx, ref)
	}
	return b.Backend.DeleteKey(ctx, ref)
}

// mkey is a key of a mutant backend.
type mkey struct {
	backend.Key
	b    *mutantBackend
	priv crypto.PrivateKey

	once  sync.Once
	state any // a mutation's own per-key state
}

// storeKey describes k to the adapters. Check asks the software store
// whether the key still exists, so that a closed backend and a deleted key
// fail as the contract says.
func (k *mkey) storeKey() backend.StoreKey {
	return backend.StoreKey{
		Backend:   "mutant",
		Key:       k.Label(),
		Algorithm: k.Algorithm(),
		Public:    k.Public(),
		Check: func() error {
			ref := backend.ByID(k.ID())
			if k.b.m.byLabel {
				ref = backend.ByLabel(k.Label())
			}
			got, err := k.b.Backend.Key(context.Background(), ref)
			if err != nil {
				return err
			}
			if got.Label() != k.Label() {
				return backend.ErrKeyNotFound
			}
			return nil
		},
	}
}

func (k *mkey) Signer() (backend.Signer, error) {
	inner, err := k.Key.Signer()
	if err != nil {
		return nil, err // the software backend's answer for the key's usage
	}
	if k.b.passthrough {
		if k.b.m.signCall != nil {
			return wrapSigner(k, inner), nil
		}
		return inner, nil
	}
	next := backend.SignFunc(func(_ context.Context, rand io.Reader, req backend.SignRequest) ([]byte, error) {
		return storeSign(k.priv, rand, req)
	})
	sf := next
	if k.b.m.sign != nil {
		sf = func(ctx context.Context, rand io.Reader, req backend.SignRequest) ([]byte, error) {
			return k.b.m.sign(k, ctx, rand, req, next)
		}
	}
	s := backend.NewSigner(k.storeKey(), sf)
	if k.b.m.signCall != nil {
		return wrapSigner(k, s), nil
	}
	return s, nil
}

func (k *mkey) Decrypter() (backend.Decrypter, error) {
	inner, err := k.Key.Decrypter()
	if err != nil {
		return nil, err
	}
	if k.b.passthrough {
		if k.b.m.decryptCall != nil {
			return &hookDecrypter{d: inner, k: k}, nil
		}
		return inner, nil
	}
	priv := k.priv.(*rsa.PrivateKey)
	next := backend.DecryptFunc(func(_ context.Context, req backend.DecryptRequest) ([]byte, error) {
		return storeDecrypt(priv, req)
	})
	df := next
	if k.b.m.decrypt != nil {
		df = func(ctx context.Context, req backend.DecryptRequest) ([]byte, error) {
			return k.b.m.decrypt(k, ctx, req, next)
		}
	}
	d := backend.NewDecrypter(k.storeKey(), df)
	if k.b.m.decryptCall != nil {
		return &hookDecrypter{d: d, k: k}, nil
	}
	return d, nil
}

func (k *mkey) Decapsulator() (backend.Decapsulator, error) {
	inner, err := k.Key.Decapsulator()
	if err != nil {
		return nil, err
	}
	if k.b.passthrough {
		if k.b.m.decapCall != nil {
			return &hookDecapsulator{d: inner, k: k}, nil
		}
		return inner, nil
	}
	dk := k.priv.(crypto.Decapsulator)
	next := backend.DecapsulateFunc(func(_ context.Context, ct []byte) ([]byte, error) { return dk.Decapsulate(ct) })
	df := next
	if k.b.m.decap != nil {
		df = func(ctx context.Context, ct []byte) ([]byte, error) { return k.b.m.decap(k, ctx, ct, next) }
	}
	d := backend.NewDecapsulator(k.storeKey(), df)
	if k.b.m.decapCall != nil {
		return &hookDecapsulator{d: d, k: k}, nil
	}
	return d, nil
}

// storeSign is the software backend's store operation: one call into the
// standard library or circl.
func storeSign(priv crypto.PrivateKey, rand io.Reader, req backend.SignRequest) ([]byte, error) {
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		if req.Scheme == backend.SchemePSS {
			return rsa.SignPSS(randOr(rand), p, req.Hash, req.Input, &rsa.PSSOptions{SaltLength: req.SaltLength, Hash: req.Hash})
		}
		return rsa.SignPKCS1v15(nil, p, req.Hash, req.Input)
	case *ecdsa.PrivateKey:
		return p.Sign(rand, req.Input, req.Hash)
	case ed25519.PrivateKey:
		return p.Sign(nil, req.Input, &ed25519.Options{Hash: req.Hash, Context: string(req.Context)})
	case ed448.PrivateKey:
		if req.Scheme == backend.SchemeEd448ph {
			return ed448.SignPh(p, req.Input, string(req.Context)), nil
		}
		return ed448.Sign(p, req.Input, string(req.Context)), nil
	case *mldsa44.PrivateKey:
		sig := make([]byte, mldsa44.SignatureSize)
		return sig, mldsa44.SignTo(p, req.Input, req.Context, false, sig)
	case *mldsa65.PrivateKey:
		sig := make([]byte, mldsa65.SignatureSize)
		return sig, mldsa65.SignTo(p, req.Input, req.Context, false, sig)
	case *mldsa87.PrivateKey:
		sig := make([]byte, mldsa87.SignatureSize)
		return sig, mldsa87.SignTo(p, req.Input, req.Context, false, sig)
	}
	return nil, fmt.Errorf("%T keys do not sign: %w", priv, backend.ErrUnsupported)
}

func randOr(r io.Reader) io.Reader {
	if r == nil {
		return cryptoRand{}
	}
	return r
}

type cryptoRand struct{}

func (cryptoRand) Read(p []byte) (int, error) { copy(p, randomBytes(len(p))); return len(p), nil }

// storeDecrypt is the software backend's store decryption.
func storeDecrypt(priv *rsa.PrivateKey, req backend.DecryptRequest) ([]byte, error) {
	var pt []byte
	var err error
	if req.Scheme == backend.SchemeOAEP {
		pt, err = priv.Decrypt(nil, req.Ciphertext, &rsa.OAEPOptions{Hash: req.Hash, MGFHash: req.MGFHash, Label: req.Label})
	} else {
		pt, err = rsa.DecryptPKCS1v15(nil, priv, req.Ciphertext)
	}
	if err != nil {
		return nil, rsa.ErrDecryption
	}
	return pt, nil
}

// signCall is one call of a Signer's four methods.
type signCall struct {
	ctx     context.Context // nil for Sign and SignMessage (and for a caller's nil context)
	withCtx bool            // SignContext or SignMessageContext
	message bool            // SignMessage or SignMessageContext
	rand    io.Reader
	input   []byte
	opts    crypto.SignerOpts
}

type hookSigner struct {
	s backend.Signer
	k *mkey
}

// wrapSigner puts the mutation's signCall above s, keeping s's optional
// interface (backend.MessageSigner).
func wrapSigner(k *mkey, s backend.Signer) backend.Signer {
	h := &hookSigner{s: s, k: k}
	if _, ok := s.(backend.MessageSigner); ok {
		return &hookMessageSigner{h}
	}
	return h
}

func (h *hookSigner) call(c signCall) ([]byte, error) { return h.k.b.m.signCall(h.k, c, h.next) }

func (h *hookSigner) next(c signCall) ([]byte, error) {
	switch {
	case c.message && c.withCtx:
		return h.s.(backend.MessageSigner).SignMessageContext(c.ctx, c.rand, c.input, c.opts)
	case c.message:
		return h.s.(backend.MessageSigner).SignMessage(c.rand, c.input, c.opts)
	case c.withCtx:
		return h.s.SignContext(c.ctx, c.rand, c.input, c.opts)
	}
	return h.s.Sign(c.rand, c.input, c.opts)
}

func (h *hookSigner) Public() crypto.PublicKey { return h.s.Public() }

func (h *hookSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return h.call(signCall{rand: rand, input: digest, opts: opts})
}

func (h *hookSigner) SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return h.call(signCall{ctx: ctx, withCtx: true, rand: rand, input: digest, opts: opts})
}

type hookMessageSigner struct{ *hookSigner }

func (h *hookMessageSigner) SignMessage(rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return h.call(signCall{message: true, rand: rand, input: msg, opts: opts})
}

func (h *hookMessageSigner) SignMessageContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	return h.call(signCall{ctx: ctx, withCtx: true, message: true, rand: rand, input: msg, opts: opts})
}

// decryptCall is one call of Decrypt or DecryptContext.
type decryptCall struct {
	ctx     context.Context
	withCtx bool
	rand    io.Reader
	ct      []byte
	opts    crypto.DecrypterOpts
}

type hookDecrypter struct {
	d backend.Decrypter
	k *mkey
}

func (h *hookDecrypter) next(c decryptCall) ([]byte, error) {
	if c.withCtx {
		return h.d.DecryptContext(c.ctx, c.rand, c.ct, c.opts)
	}
	return h.d.Decrypt(c.rand, c.ct, c.opts)
}

func (h *hookDecrypter) Public() crypto.PublicKey { return h.d.Public() }

func (h *hookDecrypter) Decrypt(rand io.Reader, ct []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return h.k.b.m.decryptCall(h.k, decryptCall{rand: rand, ct: ct, opts: opts}, h.next)
}

func (h *hookDecrypter) DecryptContext(ctx context.Context, rand io.Reader, ct []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return h.k.b.m.decryptCall(h.k, decryptCall{ctx: ctx, withCtx: true, rand: rand, ct: ct, opts: opts}, h.next)
}

// decapCall is one call of Decapsulate or DecapsulateContext.
type decapCall struct {
	ctx     context.Context
	withCtx bool
	ct      []byte
}

type hookDecapsulator struct {
	d backend.Decapsulator
	k *mkey
}

func (h *hookDecapsulator) next(c decapCall) ([]byte, error) {
	if c.withCtx {
		return h.d.DecapsulateContext(c.ctx, c.ct)
	}
	return h.d.Decapsulate(c.ct)
}

func (h *hookDecapsulator) Encapsulator() crypto.Encapsulator { return h.d.Encapsulator() }

func (h *hookDecapsulator) Decapsulate(ct []byte) ([]byte, error) {
	return h.k.b.m.decapCall(h.k, decapCall{ct: ct}, h.next)
}

func (h *hookDecapsulator) DecapsulateContext(ctx context.Context, ct []byte) ([]byte, error) {
	return h.k.b.m.decapCall(h.k, decapCall{ctx: ctx, withCtx: true, ct: ct}, h.next)
}

// ecdsaSignWithNonce signs digest with priv and the nonce k, as a token
// whose nonce generation is broken would: r = (kG).x mod n,
// s = k⁻¹(z + r·d) mod n, DER encoded.
func ecdsaSignWithNonce(priv *ecdsa.PrivateKey, digest []byte, k *big.Int) ([]byte, error) {
	n := priv.Curve.Params().N
	size := (n.BitLen() + 7) / 8
	var curve ecdh.Curve
	switch priv.Curve {
	case elliptic.P256():
		curve = ecdh.P256()
	case elliptic.P384():
		curve = ecdh.P384()
	case elliptic.P521():
		curve = ecdh.P521()
	default:
		return nil, errors.New("unsupported curve")
	}
	k = new(big.Int).Mod(k, n)
	if k.Sign() == 0 {
		k.SetInt64(1)
	}
	ek, err := curve.NewPrivateKey(k.FillBytes(make([]byte, size)))
	if err != nil {
		return nil, err
	}
	pt := ek.PublicKey().Bytes() // 0x04 || X || Y
	r := new(big.Int).SetBytes(pt[1 : 1+size])
	r.Mod(r, n)
	s := new(big.Int).Mul(r, priv.D)
	s.Add(s, hashToInt(digest, n))
	s.Mul(s, new(big.Int).ModInverse(k, n))
	s.Mod(s, n)
	return encodeECDSA(r, s)
}

// encodeECDSA is the DER SEQUENCE { r, s }.
func encodeECDSA(r, s *big.Int) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.Bytes()
}

// rsaPrivateOp is the raw RSA private-key operation, m^d mod n, as a
// modulus-sized byte string.
func rsaPrivateOp(priv *rsa.PrivateKey, m []byte) []byte {
	x := new(big.Int).SetBytes(m)
	x.Exp(x, priv.D, priv.N)
	return x.FillBytes(make([]byte, priv.Size()))
}

// pssSign makes an RSASSA-PSS signature with the given salt and MGF1 hash,
// as a token with its own (broken) encoding would.
func pssSign(priv *rsa.PrivateKey, h, mgfHash crypto.Hash, digest, salt []byte) []byte {
	emBits := priv.N.BitLen() - 1
	emLen := (emBits + 7) / 8
	hLen := h.Size()
	hm := h.New()
	hm.Write(make([]byte, 8))
	hm.Write(digest)
	hm.Write(salt)
	mHash := hm.Sum(nil)
	db := make([]byte, emLen-hLen-1)
	db[len(db)-len(salt)-1] = 0x01
	copy(db[len(db)-len(salt):], salt)
	xorInto(db, mgf1(mgfHash, mHash, len(db)))
	db[0] &= 0xff >> (8*emLen - emBits)
	em := append(append(db, mHash...), 0xbc)
	return rsaPrivateOp(priv, em)
}

// mlkem768Rejects reports whether the ML-KEM-768 key with the 64-byte seed
// d || z rejects ct implicitly: FIPS 203's re-encryption check, done with
// circl's K-PKE, so that a mutant can do something else on rejection.
func mlkem768Rejects(seed, ct []byte) bool {
	pk, sk := kyber768.NewKeyFromSeedMLKEM(seed[:32])
	var ppk [kyber768.PublicKeySize]byte
	pk.Pack(ppk[:])
	hpk := sha3.Sum256(ppk[:])
	m := make([]byte, kyber768.PlaintextSize)
	sk.DecryptTo(m, ct)
	kr := sha3.Sum512(append(m, hpk[:]...))
	ct2 := make([]byte, kyber768.CiphertextSize)
	pk.EncryptTo(ct2, m, kr[32:])
	return !bytes.Equal(ct, ct2)
}

// oaepDecodeIgnoringLabel decodes an OAEP block without comparing the label
// hash, as a token that ignores the label does (RFC 8017, 7.1.2, step 3g
// left out).
func oaepDecodeIgnoringLabel(em []byte, h, mgfHash crypto.Hash) ([]byte, error) {
	hLen := h.Size()
	if len(em) < 2*hLen+2 || em[0] != 0 {
		return nil, rsa.ErrDecryption
	}
	seed := bytes.Clone(em[1 : 1+hLen])
	db := bytes.Clone(em[1+hLen:])
	xorInto(seed, mgf1(mgfHash, db, hLen))
	xorInto(db, mgf1(mgfHash, seed, len(db)))
	rest := db[hLen:]
	i := bytes.IndexFunc(rest, func(r rune) bool { return r != 0 })
	if i < 0 || rest[i] != 0x01 {
		return nil, rsa.ErrDecryption
	}
	return rest[i+1:], nil
}
