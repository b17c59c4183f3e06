package conformance

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/cryptoplug/cryptoplug/backend"
)

// validatePublic reports how pub is not a public key of algorithm a, or nil.
func validatePublic(a backend.Algorithm, pub crypto.PublicKey) error {
	wrongType := fmt.Errorf("public key is %T, not what %s needs", pub, a)
	switch a.Family() {
	case backend.FamilyRSA:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return wrongType
		}
		if k.N == nil || k.N.BitLen() != a.Bits() {
			return fmt.Errorf("RSA modulus is not %d bits", a.Bits())
		}
		if k.E < 3 || k.E%2 == 0 {
			return fmt.Errorf("RSA public exponent %d is not an odd number >= 3", k.E)
		}
		return nil
	case backend.FamilyECDSA:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return wrongType
		}
		if k.Curve != a.Curve() {
			return fmt.Errorf("ECDSA key is on %v, not %s", k.Curve.Params().Name, a.Curve().Params().Name)
		}
		if _, err := k.ECDH(); err != nil {
			return fmt.Errorf("ECDSA public key is not a valid point: %v", err)
		}
		return nil
	}
	var ok bool
	switch a {
	case backend.Ed25519:
		var k ed25519.PublicKey
		if k, ok = pub.(ed25519.PublicKey); ok && len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("Ed25519 public key is %d bytes", len(k))
		}
	case backend.Ed448:
		var k ed448.PublicKey
		if k, ok = pub.(ed448.PublicKey); ok && len(k) != ed448.PublicKeySize {
			return fmt.Errorf("Ed448 public key is %d bytes", len(k))
		}
	case backend.MLDSA44:
		_, ok = pub.(*mldsa44.PublicKey)
	case backend.MLDSA65:
		_, ok = pub.(*mldsa65.PublicKey)
	case backend.MLDSA87:
		_, ok = pub.(*mldsa87.PublicKey)
	case backend.MLKEM768:
		_, ok = pub.(*mlkem.EncapsulationKey768)
	case backend.MLKEM1024:
		_, ok = pub.(*mlkem.EncapsulationKey1024)
	}
	if !ok {
		return wrongType
	}
	return nil
}

// publicEqual reports whether two public keys are the same key.
func publicEqual(x, y crypto.PublicKey) bool {
	if x == nil || y == nil {
		return false
	}
	if e, ok := x.(interface{ Equal(crypto.PublicKey) bool }); ok {
		return e.Equal(y)
	}
	bx, okx := x.(interface{ Bytes() []byte }) // ML-KEM keys have no Equal
	by, oky := y.(interface{ Bytes() []byte })
	return okx && oky && fmt.Sprintf("%T", x) == fmt.Sprintf("%T", y) && bytes.Equal(bx.Bytes(), by.Bytes())
}

// errBadSignature is what verify returns for a signature that does not
// verify, wrapped with the scheme.
var errBadSignature = errors.New("signature does not verify")

// verify checks sig over digestOrMsg with the standard library (circl for
// Ed448 and ML-DSA), interpreting opts as the signer did: a hash for PKCS #1
// v1.5 and ECDSA, *rsa.PSSOptions for PSS (verified with the same salt
// length rule), *ed25519.Options for Ed25519 variants, zero for pure
// messages.
func verify(pub crypto.PublicKey, digestOrMsg, sig []byte, opts crypto.SignerOpts) error {
	var ok bool
	switch k := pub.(type) {
	case *rsa.PublicKey:
		var err error
		if o, isPSS := opts.(*rsa.PSSOptions); isPSS {
			err = rsa.VerifyPSS(k, o.Hash, digestOrMsg, sig, o)
		} else {
			err = rsa.VerifyPKCS1v15(k, opts.HashFunc(), digestOrMsg, sig)
		}
		if err != nil {
			return fmt.Errorf("%w: %v", errBadSignature, err)
		}
		return nil
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, digestOrMsg, sig)
	case ed25519.PublicKey:
		o := &ed25519.Options{}
		if eo, isOpts := opts.(*ed25519.Options); isOpts {
			o = eo
		} else if opts != nil {
			o.Hash = opts.HashFunc()
		}
		if err := ed25519.VerifyWithOptions(k, digestOrMsg, sig, o); err != nil {
			return fmt.Errorf("%w: %v", errBadSignature, err)
		}
		return nil
	case ed448.PublicKey:
		ok = ed448.Verify(k, digestOrMsg, sig, "")
	case *mldsa44.PublicKey:
		ok = mldsa44.Verify(k, digestOrMsg, nil, sig)
	case *mldsa65.PublicKey:
		ok = mldsa65.Verify(k, digestOrMsg, nil, sig)
	case *mldsa87.PublicKey:
		ok = mldsa87.Verify(k, digestOrMsg, nil, sig)
	default:
		return fmt.Errorf("cannot verify with a %T", pub)
	}
	if !ok {
		return errBadSignature
	}
	return nil
}
