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
	"sync"
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

	// For keys of a shared store (PostgreSQL), whose memory is a cache of a
	// table other processes change; see pgStore.confirm.
	checked   atomic.Int64 // pgnotify.Now() before the table last showed the key
	indexedAt int64        // pgnotify.Now() when the key entered the store's index
	verify    atomic.Bool  // the index's watermark does not cover the key: ask the table
	recheckMu sync.Mutex   // one table check at a time per key

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
	sk := backend.StoreKey{Backend: s.name, Key: k.label, Algorithm: k.alg, Public: k.pub, Check: k.usable, Timeout: s.opTimeout}
	k.gate.idle = func() { privkey.Wipe(k.priv) }
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		if rec.Usage&backend.UsageSign != 0 {
			k.signer = backend.NewSigner(sk, k.signFunc(p))
		}
		if rec.Usage&backend.UsageDecrypt != 0 {
			k.decrypter = backend.NewDecrypter(sk, k.decryptFunc(p))
		}
	case *mlkem.DecapsulationKey768, *mlkem.DecapsulationKey1024:
		k.decapsulator = backend.NewDecapsulator(sk, k.decapsulateFunc(p.(crypto.Decapsulator)))
	default:
		if k.alg.Signs() {
			k.signer = backend.NewSigner(sk, k.signFunc(p))
		}
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

// usable reports, before an operation starts, whether the key can still be
// used: [backend.ErrClosed] after Close, [backend.ErrKeyNotFound] after
// DeleteKey. The gate makes the final decision (see enter).
func (k *key) usable() error {
	if k.store.closed.Load() {
		return backend.ErrClosed
	}
	if k.retired.Load() {
		return fmt.Errorf("key was deleted: %w", backend.ErrKeyNotFound)
	}
	return nil
}

// enter admits one operation; the caller must call leave when enter
// returned nil. It fails like usable once the key is retired, so an
// operation racing with Close or DeleteKey either runs on an intact key or
// does not run. In a shared store it then confirms that the key has not
// been deleted elsewhere (see pgStore.confirm), so that the operation's
// answer is never staler than the store's bound.
func (k *key) enter(ctx context.Context) error {
	if !k.gate.enter() {
		if err := k.usable(); err != nil {
			return err
		}
		return fmt.Errorf("key was deleted: %w", backend.ErrKeyNotFound)
	}
	if k.store.confirm != nil {
		if err := k.store.confirm(ctx, k); err != nil {
			k.gate.leave()
			return err
		}
	}
	return nil
}

func (k *key) leave() { k.gate.leave() }

// retire shuts the key's gate; the private key is wiped as soon as no
// operation uses it (at once if none does). It is idempotent and never
// blocks.
func (k *key) retire() {
	if k.retired.CompareAndSwap(false, true) {
		k.gate.shut()
	}
}
