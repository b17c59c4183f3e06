package conformance

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/cryptoplug/cryptoplug/backend"
)

// The suite sees the backend under test through an observing proxy that
// forwards every call unchanged and looks at every error on its way back:
// the contract says each is (or wraps) a *backend.Error, and none may carry
// key material. The proxy also learns the private key of every key imported
// through it, which is what it looks for. Two rows at the end of the matrix,
// "error-type" and "error-leak", report what it found, naming the check and
// the call that produced each offending error.

// maxViolations bounds how many offending errors of each kind are kept.
const maxViolations = 8

// violation is one offending error: where the suite was, which call
// returned it, and what was wrong.
type violation struct {
	where string // "<check>/<column>"
	call  string // "Sign", "ImportKey", …
	text  string
}

// recorder collects what the proxy sees. Safe for concurrent use.
type recorder struct {
	mu       sync.Mutex
	current  string // the cell under way, "<check>/<column>"
	secrets  secretIndex
	imported int // private keys indexed
	seen     int // errors looked at
	untyped  []violation
	nUntyped int
	leaks    []violation
	nLeaks   int
}

func (rec *recorder) setCurrent(where string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.current = where
}

// learn indexes the secret parts of priv, a key about to be imported.
func (rec *recorder) learn(spec backend.KeySpec, priv crypto.PrivateKey) {
	parts := privateParts(priv)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(parts) > 0 {
		rec.imported++
	}
	for name, b := range parts {
		rec.secrets.add(fmt.Sprintf("the %s of the %T imported as %q", name, priv, spec.Label), b)
	}
}

// saw looks at an error returned by call.
func (rec *recorder) saw(call string, err error) {
	if err == nil {
		return
	}
	text := err.Error()
	var be *backend.Error
	typed := errors.As(err, &be)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.seen++
	if !typed {
		rec.nUntyped++
		if len(rec.untyped) < maxViolations {
			rec.untyped = append(rec.untyped, violation{rec.current, call, fmt.Sprintf("%T %q", err, truncate(text, 160))})
		}
	}
	if what, enc, found := rec.secrets.scan(text); found {
		rec.nLeaks++
		if len(rec.leaks) < maxViolations {
			rec.leaks = append(rec.leaks, violation{rec.current, call, fmt.Sprintf("%s, as %s", what, enc)})
		}
	}
}

// observe wraps an Opener so that every backend it opens is observed.
func observe(open Opener, rec *recorder) Opener {
	return func(ctx context.Context) (backend.Backend, error) {
		b, err := open(ctx)
		if err != nil {
			return nil, err
		}
		ob := &observedBackend{Backend: b, rec: rec}
		if _, ok := b.(backend.Importer); ok {
			return &observedImporter{ob}, nil
		}
		return ob, nil
	}
}

type observedBackend struct {
	backend.Backend
	rec *recorder
}

func (b *observedBackend) key(k backend.Key, err error, call string) (backend.Key, error) {
	b.rec.saw(call, err)
	if err != nil || k == nil {
		return k, err
	}
	return &observedKey{Key: k, rec: b.rec}, nil
}

func (b *observedBackend) GenerateKey(ctx context.Context, spec backend.KeySpec) (backend.Key, error) {
	k, err := b.Backend.GenerateKey(ctx, spec)
	return b.key(k, err, "GenerateKey")
}

func (b *observedBackend) Key(ctx context.Context, ref backend.KeyRef) (backend.Key, error) {
	k, err := b.Backend.Key(ctx, ref)
	return b.key(k, err, "Key")
}

func (b *observedBackend) Keys(ctx context.Context) ([]backend.Key, error) {
	keys, err := b.Backend.Keys(ctx)
	b.rec.saw("Keys", err)
	out := make([]backend.Key, len(keys))
	for i, k := range keys {
		out[i] = &observedKey{Key: k, rec: b.rec}
	}
	if keys == nil {
		out = nil
	}
	return out, err
}

func (b *observedBackend) DeleteKey(ctx context.Context, ref backend.KeyRef) error {
	err := b.Backend.DeleteKey(ctx, ref)
	b.rec.saw("DeleteKey", err)
	return err
}

func (b *observedBackend) Close() error {
	err := b.Backend.Close()
	b.rec.saw("Close", err)
	return err
}

type observedImporter struct{ *observedBackend }

func (b *observedImporter) ImportKey(ctx context.Context, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
	b.rec.learn(spec, priv)
	k, err := b.Backend.(backend.Importer).ImportKey(ctx, spec, priv)
	return b.key(k, err, "ImportKey")
}

type observedKey struct {
	backend.Key
	rec *recorder
}

// Signer returns the key's Signer behind the proxy, with the same optional
// interfaces: backend.MessageSigner, or crypto.MessageSigner alone.
func (k *observedKey) Signer() (backend.Signer, error) {
	s, err := k.Key.Signer()
	k.rec.saw("Signer", err)
	if err != nil || s == nil {
		return s, err
	}
	os := &observedSigner{s: s, rec: k.rec}
	switch s.(type) {
	case backend.MessageSigner:
		return &observedMessageSigner{os}, nil
	case crypto.MessageSigner:
		return &observedHashMessageSigner{os}, nil
	}
	return os, nil
}

func (k *observedKey) Decrypter() (backend.Decrypter, error) {
	d, err := k.Key.Decrypter()
	k.rec.saw("Decrypter", err)
	if err != nil || d == nil {
		return d, err
	}
	return &observedDecrypter{d: d, rec: k.rec}, nil
}

func (k *observedKey) Decapsulator() (backend.Decapsulator, error) {
	d, err := k.Key.Decapsulator()
	k.rec.saw("Decapsulator", err)
	if err != nil || d == nil {
		return d, err
	}
	return &observedDecapsulator{d: d, rec: k.rec}, nil
}

type observedSigner struct {
	s   backend.Signer
	rec *recorder
}

func (s *observedSigner) Public() crypto.PublicKey { return s.s.Public() }

func (s *observedSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.s.Sign(rand, digest, opts)
	s.rec.saw("Sign", err)
	return sig, err
}

func (s *observedSigner) SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.s.SignContext(ctx, rand, digest, opts)
	s.rec.saw("SignContext", err)
	return sig, err
}

// observedHashMessageSigner is an RSA or ECDSA Signer that also offers
// crypto.MessageSigner (crypto/x509 and crypto/tls call SignMessage then).
type observedHashMessageSigner struct{ *observedSigner }

func (s *observedHashMessageSigner) SignMessage(rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.s.(crypto.MessageSigner).SignMessage(rand, msg, opts)
	s.rec.saw("SignMessage", err)
	return sig, err
}

type observedMessageSigner struct{ *observedSigner }

func (s *observedMessageSigner) SignMessage(rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.s.(backend.MessageSigner).SignMessage(rand, msg, opts)
	s.rec.saw("SignMessage", err)
	return sig, err
}

func (s *observedMessageSigner) SignMessageContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.s.(backend.MessageSigner).SignMessageContext(ctx, rand, msg, opts)
	s.rec.saw("SignMessageContext", err)
	return sig, err
}

type observedDecrypter struct {
	d   backend.Decrypter
	rec *recorder
}

func (d *observedDecrypter) Public() crypto.PublicKey { return d.d.Public() }

func (d *observedDecrypter) Decrypt(rand io.Reader, ct []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	pt, err := d.d.Decrypt(rand, ct, opts)
	d.rec.saw("Decrypt", err)
	return pt, err
}

func (d *observedDecrypter) DecryptContext(ctx context.Context, rand io.Reader, ct []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	pt, err := d.d.DecryptContext(ctx, rand, ct, opts)
	d.rec.saw("DecryptContext", err)
	return pt, err
}

type observedDecapsulator struct {
	d   backend.Decapsulator
	rec *recorder
}

func (d *observedDecapsulator) Encapsulator() crypto.Encapsulator { return d.d.Encapsulator() }

func (d *observedDecapsulator) Decapsulate(ct []byte) ([]byte, error) {
	k, err := d.d.Decapsulate(ct)
	d.rec.saw("Decapsulate", err)
	return k, err
}

func (d *observedDecapsulator) DecapsulateContext(ctx context.Context, ct []byte) ([]byte, error) {
	k, err := d.d.DecapsulateContext(ctx, ct)
	d.rec.saw("DecapsulateContext", err)
	return k, err
}
