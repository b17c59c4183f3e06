//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"math/big"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ImportKey stores priv on the token with C_CreateObject, as a private key
// object with the same protections as a generated one (sensitive, not
// extractable, private, usage per spec) and its public key object. priv is
// *rsa.PrivateKey (two primes), *ecdsa.PrivateKey, ed25519.PrivateKey or
// ed448.PrivateKey (circl) and must match spec.Algorithm, else
// [backend.ErrInvalidInput]. A token that refuses to import fails with
// [backend.ErrUnsupported]; a duplicate label or ID with
// [backend.ErrKeyExists].
func (b *Backend) ImportKey(ctx context.Context, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
	const op = "import key"
	if err := b.check(ctx, op, spec.Label); err != nil {
		return nil, err
	}
	fail := func(err error) (backend.Key, error) { return nil, backend.Errorf(op, b.name, spec.Label, err) }
	id, pubT, privT, err := b.newKeyTemplates(spec, backend.OpImport)
	if err != nil {
		return fail(err)
	}
	extraPub, extraPriv, err := keyMaterial(spec.Algorithm, priv)
	if err != nil {
		return fail(err)
	}
	pubT = append(pubT, extraPub...)
	privT = append(privT, extraPriv...)
	k, err := b.createKeyPair(ctx, spec.Label, id, "imported", func(s *session) (pub, privH pkcs11.ObjectHandle, err error) {
		if pub, err = b.p11.CreateObject(s.h, pubT); err != nil {
			return 0, 0, classify("C_CreateObject (public key)", err)
		}
		if privH, err = b.p11.CreateObject(s.h, privT); err != nil {
			_ = b.p11.DestroyObject(s.h, pub)
			return 0, 0, classify("C_CreateObject (private key)", err)
		}
		return pub, privH, nil
	})
	if err != nil {
		return fail(err)
	}
	return k, nil
}

// keyMaterial returns the algorithm-specific attributes of both halves.
func keyMaterial(alg backend.Algorithm, priv crypto.PrivateKey) (pub, prv []*pkcs11.Attribute, err error) {
	mismatch := fmt.Errorf("private key of type %T does not match %s: %w", priv, alg, backend.ErrInvalidInput)
	switch alg.Family() {
	case backend.FamilyRSA:
		k, ok := priv.(*rsa.PrivateKey)
		if !ok || k.N.BitLen() != alg.Bits() {
			return nil, nil, mismatch
		}
		if len(k.Primes) != 2 {
			return nil, nil, fmt.Errorf("multi-prime RSA keys: %w", backend.ErrUnsupported)
		}
		if err := k.Validate(); err != nil {
			return nil, nil, fmt.Errorf("RSA key: %v: %w", err, backend.ErrInvalidInput)
		}
		// CRT values computed here rather than by k.Precompute, which
		// would modify the caller's key.
		one := big.NewInt(1)
		p, q := k.Primes[0], k.Primes[1]
		dp := new(big.Int).Mod(k.D, new(big.Int).Sub(p, one))
		dq := new(big.Int).Mod(k.D, new(big.Int).Sub(q, one))
		qinv := new(big.Int).ModInverse(q, p)
		if qinv == nil {
			return nil, nil, fmt.Errorf("RSA key: primes are not coprime: %w", backend.ErrInvalidInput)
		}
		e := big.NewInt(int64(k.E)).Bytes()
		pub = []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, k.N.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, e),
		}
		prv = []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, k.N.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, e),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE_EXPONENT, k.D.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_1, p.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_2, q.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_1, dp.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_2, dq.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_COEFFICIENT, qinv.Bytes()),
		}
		return pub, prv, nil
	case backend.FamilyECDSA:
		k, ok := priv.(*ecdsa.PrivateKey)
		if !ok || k.Curve != alg.Curve() {
			return nil, nil, mismatch
		}
		scalar, err := k.Bytes()
		if err != nil {
			return nil, nil, fmt.Errorf("ECDSA key: %v: %w", err, backend.ErrInvalidInput)
		}
		point, err := k.PublicKey.Bytes()
		if err != nil {
			return nil, nil, fmt.Errorf("ECDSA key: %v: %w", err, backend.ErrInvalidInput)
		}
		return ecAttrs(alg, point, scalar)
	case backend.FamilyEdDSA:
		switch k := priv.(type) {
		case ed25519.PrivateKey:
			if alg != backend.Ed25519 || len(k) != ed25519.PrivateKeySize {
				return nil, nil, mismatch
			}
			return ecAttrs(alg, k.Public().(ed25519.PublicKey), k.Seed())
		case ed448.PrivateKey:
			if alg != backend.Ed448 || len(k) != ed448.PrivateKeySize {
				return nil, nil, mismatch
			}
			return ecAttrs(alg, k.Public().(ed448.PublicKey), k.Seed())
		}
		return nil, nil, mismatch
	}
	return nil, nil, fmt.Errorf("importing %s keys: %w", alg, backend.ErrUnsupported)
}

// ecAttrs encodes an EC or Edwards key: CKA_EC_PARAMS on both halves,
// CKA_EC_POINT as a DER OCTET STRING, CKA_VALUE as the private scalar or
// seed.
func ecAttrs(alg backend.Algorithm, point, value []byte) (pub, prv []*pkcs11.Attribute, err error) {
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.OCTET_STRING, func(b *cryptobyte.Builder) { b.AddBytes(point) })
	wrapped, err := b.Bytes()
	if err != nil {
		return nil, nil, err
	}
	params := ecParams(alg)
	pub = []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
		pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, wrapped),
	}
	prv = []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, value),
	}
	return pub, prv, nil
}
