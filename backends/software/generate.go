package software

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

// GenerateKey creates a key from spec with crypto/rand. A zero spec.ID gets a
// random 16-byte ID. It fails with [backend.ErrKeyExists] when the label or
// ID is taken (also by an unreadable key file) and [backend.ErrInvalidInput]
// for a malformed spec. The context is checked before generating and again
// before the key is stored, so a cancelled caller never gets a key stored
// behind its back; generation itself (up to seconds for RSA-4096) is not
// interrupted.
func (s *store) GenerateKey(ctx context.Context, spec backend.KeySpec) (backend.Key, error) {
	const op = "generate key"
	if err := s.check(ctx, op, spec.Label); err != nil {
		return nil, err
	}
	spec, err := s.prepare(op, spec)
	if err != nil {
		return nil, err
	}
	priv, err := generate(spec.Algorithm)
	if err != nil {
		return nil, backend.Errorf(op, s.name, spec.Label, err)
	}
	defer wipePrivateKey(priv)
	if err := s.check(ctx, op, spec.Label); err != nil {
		return nil, err
	}
	return s.add(op, spec, priv)
}

// generate makes a new private key of algorithm alg from crypto/rand. The
// store then treats it exactly like an imported key.
func generate(alg backend.Algorithm) (crypto.PrivateKey, error) {
	switch alg {
	case backend.RSA2048, backend.RSA3072, backend.RSA4096:
		return rsa.GenerateKey(rand.Reader, alg.Bits())
	case backend.ECDSAP256, backend.ECDSAP384, backend.ECDSAP521:
		return ecdsa.GenerateKey(alg.Curve(), rand.Reader)
	case backend.Ed25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case backend.Ed448:
		_, priv, err := ed448.GenerateKey(rand.Reader)
		return priv, err
	case backend.MLDSA44:
		_, priv, err := mldsa44.GenerateKey(rand.Reader)
		return priv, err
	case backend.MLDSA65:
		_, priv, err := mldsa65.GenerateKey(rand.Reader)
		return priv, err
	case backend.MLDSA87:
		_, priv, err := mldsa87.GenerateKey(rand.Reader)
		return priv, err
	case backend.MLKEM768:
		return mlkem.GenerateKey768()
	case backend.MLKEM1024:
		return mlkem.GenerateKey1024()
	}
	return nil, fmt.Errorf("cannot generate %q keys: %w", alg, backend.ErrUnsupported)
}
