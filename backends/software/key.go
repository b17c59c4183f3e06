package software

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rsa"
	"fmt"
	"math/big"
	"sync/atomic"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
)

// key is a [backend.Key] held by a store. Its operation values (signer,
// decrypter, decapsulator) are made once, so handing them out costs nothing,
// and every operation passes through gate, so Close and DeleteKey can wait
// for operations in flight before wiping priv.
type key struct {
	store *store
	id    backend.KeyID
	label string
	alg   backend.Algorithm
	usage backend.Usage
	pub   crypto.PublicKey
	priv  crypto.PrivateKey

	gate    gate
	retired atomic.Bool

	signer       backend.Signer       // nil unless the key signs
	decrypter    backend.Decrypter    // nil unless the key decrypts
	decapsulator backend.Decapsulator // nil unless the key decapsulates
}

var _ backend.Key = (*key)(nil)

// newKey builds the key that offers priv, the parsed private key of rec.
// It takes ownership of priv. rec.Private is not retained.
func (s *store) newKey(rec *keyFile, priv crypto.PrivateKey) (*key, error) {
	k := &key{
		store: s,
		id:    rec.ID,
		label: rec.Label,
		alg:   rec.Algorithm,
		usage: rec.Usage,
		priv:  priv,
	}
	var err error
	if k.pub, err = publicKey(priv); err != nil {
		privkey.Wipe(priv)
		return nil, fmt.Errorf("%s public key: %v: %w", rec.Algorithm, err, backend.ErrInvalidInput)
	}
	sign := rec.Usage&backend.UsageSign != 0
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		if sign {
			k.signer = &rsaSigner{k: k, priv: p}
		}
		if rec.Usage&backend.UsageDecrypt != 0 {
			k.decrypter = &rsaDecrypter{k: k, priv: p}
		}
	case *ecdsa.PrivateKey:
		k.signer = &ecdsaSigner{k: k, priv: p}
	case ed25519.PrivateKey:
		k.signer = &ed25519Signer{k: k, priv: p}
	case ed448.PrivateKey:
		k.signer = &ed448Signer{k: k, priv: p}
	case *mldsa44.PrivateKey, *mldsa65.PrivateKey, *mldsa87.PrivateKey:
		k.signer = &mldsaSigner{k: k, priv: p.(crypto.Signer)}
	case *mlkem.DecapsulationKey768:
		k.decapsulator = &mlkemDecapsulator{k: k, dk: p, ciphertextSize: mlkem.CiphertextSize768}
	case *mlkem.DecapsulationKey1024:
		k.decapsulator = &mlkemDecapsulator{k: k, dk: p, ciphertextSize: mlkem.CiphertextSize1024}
	}
	return k, nil
}

// publicKey returns priv's public key as a value that shares no memory with
// priv, so that it stays valid after priv is wiped.
func publicKey(priv crypto.PrivateKey) (crypto.PublicKey, error) {
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		return &rsa.PublicKey{N: new(big.Int).Set(p.N), E: p.E}, nil
	case *ecdsa.PrivateKey:
		b, err := p.PublicKey.Bytes()
		if err != nil {
			return nil, err
		}
		return ecdsa.ParseUncompressedPublicKey(p.Curve, b)
	case ed25519.PrivateKey:
		return p.Public(), nil // a copy
	case ed448.PrivateKey:
		return ed448.PublicKey(append([]byte(nil), p[ed448.SeedSize:]...)), nil
	// circl's ML-DSA Public shares the private key's matrix; unpacking the
	// public bytes gives an independent value.
	case *mldsa44.PrivateKey:
		pub := new(mldsa44.PublicKey)
		return pub, pub.UnmarshalBinary(p.Public().(*mldsa44.PublicKey).Bytes())
	case *mldsa65.PrivateKey:
		pub := new(mldsa65.PublicKey)
		return pub, pub.UnmarshalBinary(p.Public().(*mldsa65.PublicKey).Bytes())
	case *mldsa87.PrivateKey:
		pub := new(mldsa87.PublicKey)
		return pub, pub.UnmarshalBinary(p.Public().(*mldsa87.PublicKey).Bytes())
	case *mlkem.DecapsulationKey768:
		return p.EncapsulationKey(), nil
	case *mlkem.DecapsulationKey1024:
		return p.EncapsulationKey(), nil
	}
	return nil, fmt.Errorf("no public key for %T", priv)
}

// ID returns the key's identifier. The caller must not modify it.
func (k *key) ID() backend.KeyID { return k.id }

// Label returns the key's label.
func (k *key) Label() string { return k.label }

// Algorithm returns the key's algorithm.
func (k *key) Algorithm() backend.Algorithm { return k.alg }

// Public returns the public key; the same value on every call, and still
// valid after the key is deleted or the store closed.
func (k *key) Public() crypto.PublicKey { return k.pub }

// Signer returns the key as a [backend.Signer] ([backend.MessageSigner] for
// Ed25519, Ed448 and ML-DSA), or an error wrapping [backend.ErrUnsupported]
// for ML-KEM keys and RSA keys created without [backend.UsageSign].
func (k *key) Signer() (backend.Signer, error) {
	if k.signer == nil {
		return nil, k.unsupported("sign")
	}
	return k.signer, nil
}

// Decrypter returns the key as a [backend.Decrypter], or an error wrapping
// [backend.ErrUnsupported] unless it is an RSA key created with
// [backend.UsageDecrypt].
func (k *key) Decrypter() (backend.Decrypter, error) {
	if k.decrypter == nil {
		return nil, k.unsupported("decrypt")
	}
	return k.decrypter, nil
}

// Decapsulator returns the key as a [backend.Decapsulator], or an error
// wrapping [backend.ErrUnsupported] unless it is an ML-KEM key.
func (k *key) Decapsulator() (backend.Decapsulator, error) {
	if k.decapsulator == nil {
		return nil, k.unsupported("decapsulate")
	}
	return k.decapsulator, nil
}

func (k *key) unsupported(op string) error {
	return backend.Errorf(op, k.store.name, k.label,
		fmt.Errorf("%s key with usage %s cannot %s: %w", k.alg, usageString(k.usage), op, backend.ErrUnsupported))
}

func usageString(u backend.Usage) string {
	var s string
	for _, n := range []struct {
		u    backend.Usage
		name string
	}{{backend.UsageSign, "sign"}, {backend.UsageDecrypt, "decrypt"}, {backend.UsageDecapsulate, "decapsulate"}} {
		if u&n.u != 0 {
			if s != "" {
				s += "|"
			}
			s += n.name
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

// enter admits one operation; the caller must call leave when enter
// returned nil. It fails with ErrClosed after Close and ErrKeyNotFound after
// DeleteKey.
func (k *key) enter(op string) error {
	if k.gate.enter() {
		return nil
	}
	if k.store.closed.Load() {
		return backend.Errorf(op, k.store.name, k.label, backend.ErrClosed)
	}
	return backend.Errorf(op, k.store.name, k.label, fmt.Errorf("key was deleted: %w", backend.ErrKeyNotFound))
}

func (k *key) leave() { k.gate.leave() }

// ctxErr returns ctx's error, wrapped, when ctx is done. The software
// store's operations cannot block, so the context is checked once, before
// the operation starts.
func (k *key) ctxErr(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return backend.Errorf(op, k.store.name, k.label, err)
	}
	return nil
}

// fail wraps an operation's error.
func (k *key) fail(op string, err error) error {
	return backend.Errorf(op, k.store.name, k.label, err)
}

// retire shuts the key's gate and, once operations in flight have finished,
// wipes the private key. It is idempotent.
func (k *key) retire() {
	if !k.retired.CompareAndSwap(false, true) {
		return
	}
	if k.gate.shut() {
		privkey.Wipe(k.priv)
	}
}
