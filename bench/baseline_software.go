package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"fmt"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/cryptoplug/cryptoplug/backend"
)

// softwareBaselines compares the software backend with the libraries it
// wraps: a key of the same algorithm made by the standard library (circl
// for Ed448 and ML-DSA), used directly. The key is not the backend's (that
// one cannot be exported), but the cost of these operations does not depend
// on the key.
type softwareBaselines struct{}

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
	priv, err := stdlibKey(w.Algorithm)
	if err != nil {
		return nil, err
	}
	var im Impl
	switch w.Op {
	case Sign:
		im = signerImpl("baseline", w, priv.(crypto.Signer))
	case Decrypt:
		if im, err = decrypterImpl("baseline", w, priv.(crypto.Decrypter)); err != nil {
			return nil, err
		}
	case Decapsulate:
		dk := priv.(crypto.Decapsulator)
		ct, want, err := w.Ciphertext(dk.Encapsulator())
		if err != nil {
			return nil, err
		}
		im = Impl{Name: "baseline", Op: func(int) ([]byte, error) { return dk.Decapsulate(ct) }, Check: checkEqual(want)}
	default:
		return nil, fmt.Errorf("no software baseline for %s", w)
	}
	return []Impl{im}, nil
}

// stdlibKey generates a private key of alg with the standard library or
// circl.
func stdlibKey(alg backend.Algorithm) (crypto.PrivateKey, error) {
	switch alg.Family() {
	case backend.FamilyRSA:
		return rsa.GenerateKey(rand.Reader, alg.Bits())
	case backend.FamilyECDSA:
		return ecdsa.GenerateKey(alg.Curve(), rand.Reader)
	}
	switch alg {
	case backend.Ed25519:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case backend.Ed448:
		_, k, err := ed448.GenerateKey(rand.Reader)
		return k, err
	case backend.MLDSA44:
		_, k, err := mldsa44.GenerateKey(rand.Reader)
		return k, err
	case backend.MLDSA65:
		_, k, err := mldsa65.GenerateKey(rand.Reader)
		return k, err
	case backend.MLDSA87:
		_, k, err := mldsa87.GenerateKey(rand.Reader)
		return k, err
	case backend.MLKEM768:
		return mlkem.GenerateKey768()
	case backend.MLKEM1024:
		return mlkem.GenerateKey1024()
	}
	return nil, fmt.Errorf("no standard library key for %s", alg)
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
