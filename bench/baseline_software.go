package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rand"
	"fmt"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
)

// softwareBaselines compares the software backend with the libraries it
// wraps: the standard library (circl for Ed448 and ML-DSA) used directly,
// on the same key. As a [KeyMaker] it makes the key, which the run imports
// into the backend; on a backend that cannot import, it uses a key of its
// own of the same algorithm.
type softwareBaselines struct{}

// MakeKey generates a key of alg with the standard library or circl.
func (softwareBaselines) MakeKey(alg backend.Algorithm) (crypto.PrivateKey, error) {
	return privkey.Generate(alg)
}

func openSoftwareBaselines(context.Context, string) (Baselines, error) {
	return softwareBaselines{}, nil
}

func (softwareBaselines) Close() error { return nil }

// Impls returns the stdlib baseline for w.
func (softwareBaselines) Impls(_ context.Context, _ backend.Backend, w *Workload) ([]Impl, error) {
	if w.Op == Generate {
		gen, err := stdlibGenerate(w.Algorithm)
		if err != nil {
			return nil, err
		}
		return []Impl{{Name: "baseline", Op: func(int) ([]byte, error) { return nil, gen() }}}, nil
	}
	priv := w.Private
	if priv == nil {
		var err error
		if priv, err = privkey.Generate(w.Algorithm); err != nil {
			return nil, err
		}
	}
	switch w.Op {
	case Sign:
		return []Impl{signerImpl("baseline", w, priv.(crypto.Signer))}, nil
	case Decrypt:
		im, err := decrypterImpl("baseline", w, priv.(crypto.Decrypter))
		return []Impl{im}, err
	case Decapsulate:
		dk := priv.(crypto.Decapsulator)
		ct, want, err := w.Ciphertext(dk.Encapsulator())
		if err != nil {
			return nil, err
		}
		return []Impl{{Name: "baseline", Op: func(int) ([]byte, error) { return dk.Decapsulate(ct) }, Check: checkEqual(want)}}, nil
	}
	return nil, fmt.Errorf("no software baseline for %s", w)
}

// stdlibGenerate returns a function that generates one key of alg and
// throws it away.
func stdlibGenerate(alg backend.Algorithm) (func() error, error) {
	switch alg.Family() {
	case backend.FamilyRSA:
		return nil, fmt.Errorf("RSA key generation is not measured")
	case backend.FamilyECDSA:
		curve := alg.Curve()
		return func() error { _, err := ecdsa.GenerateKey(curve, rand.Reader); return err }, nil
	}
	switch alg {
	case backend.Ed25519:
		return func() error { _, _, err := ed25519.GenerateKey(rand.Reader); return err }, nil
	case backend.Ed448:
		return func() error { _, _, err := ed448.GenerateKey(rand.Reader); return err }, nil
	case backend.MLDSA44:
		return func() error { _, _, err := mldsa44.GenerateKey(rand.Reader); return err }, nil
	case backend.MLDSA65:
		return func() error { _, _, err := mldsa65.GenerateKey(rand.Reader); return err }, nil
	case backend.MLDSA87:
		return func() error { _, _, err := mldsa87.GenerateKey(rand.Reader); return err }, nil
	case backend.MLKEM768:
		return func() error { _, err := mlkem.GenerateKey768(); return err }, nil
	case backend.MLKEM1024:
		return func() error { _, err := mlkem.GenerateKey1024(); return err }, nil
	}
	return nil, fmt.Errorf("no standard library key generation for %s", alg)
}
