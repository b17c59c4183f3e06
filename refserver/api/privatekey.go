package api

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/cryptoplug/cryptoplug/backend"
)

// ImportKeyRequest is the body of POST /v1/key/import: where to store the
// key, as for POST /v1/key, and the private key in the encoding
// [MarshalPrivateKey] writes (base64 in JSON).
type ImportKeyRequest struct {
	KeySpec
	PrivateKey []byte `json:"private_key"`
}

// MarshalPrivateKey encodes priv, a key of algorithm alg, as the software
// backend stores it:
//
//	RSA, ECDSA, Ed25519  PKCS #8 DER (x509.MarshalPKCS8PrivateKey)
//	Ed448                the 57-byte RFC 8032 seed
//	ML-DSA               the 32-byte seed, or circl's packed private key
//	                     for a key that does not know its seed
//	ML-KEM               the 64-byte "d || z" seed
//
// A key of the wrong type for alg is an error wrapping
// backend.ErrInvalidInput. Errors never include key material. The caller
// should clear the result after use.
func MarshalPrivateKey(alg backend.Algorithm, priv crypto.PrivateKey) (enc []byte, err error) {
	defer func() {
		if recover() != nil {
			enc, err = nil, fmt.Errorf("%w: %s private key of type %T is malformed", backend.ErrInvalidInput, alg, priv)
		}
	}()
	enc, err = marshalPrivate(alg, priv)
	if err != nil {
		return nil, fmt.Errorf("%w: %s private key: %v", backend.ErrInvalidInput, alg, err)
	}
	return enc, nil
}

func marshalPrivate(alg backend.Algorithm, priv crypto.PrivateKey) ([]byte, error) {
	wrongType := fmt.Errorf("got %T, which is not this algorithm's key type", priv)
	switch alg.Family() {
	case backend.FamilyRSA:
		if p, ok := priv.(*rsa.PrivateKey); !ok || p == nil {
			return nil, wrongType
		}
		return x509.MarshalPKCS8PrivateKey(priv)
	case backend.FamilyECDSA:
		if p, ok := priv.(*ecdsa.PrivateKey); !ok || p == nil {
			return nil, wrongType
		}
		return x509.MarshalPKCS8PrivateKey(priv)
	}
	switch alg {
	case backend.Ed25519:
		if _, ok := priv.(ed25519.PrivateKey); !ok {
			return nil, wrongType
		}
		return x509.MarshalPKCS8PrivateKey(priv)
	case backend.Ed448:
		p, ok := priv.(ed448.PrivateKey)
		if !ok || len(p) != ed448.PrivateKeySize {
			return nil, wrongType
		}
		return p.Seed(), nil
	case backend.MLDSA44, backend.MLDSA65, backend.MLDSA87:
		var p interface {
			Seed() []byte
			MarshalBinary() ([]byte, error)
		}
		switch k := priv.(type) {
		case *mldsa44.PrivateKey:
			if alg == backend.MLDSA44 && k != nil {
				p = k
			}
		case *mldsa65.PrivateKey:
			if alg == backend.MLDSA65 && k != nil {
				p = k
			}
		case *mldsa87.PrivateKey:
			if alg == backend.MLDSA87 && k != nil {
				p = k
			}
		}
		if p == nil {
			return nil, wrongType
		}
		if seed := p.Seed(); seed != nil {
			return seed, nil
		}
		return p.MarshalBinary()
	case backend.MLKEM768:
		p, ok := priv.(*mlkem.DecapsulationKey768)
		if !ok || p == nil {
			return nil, wrongType
		}
		return p.Bytes(), nil
	case backend.MLKEM1024:
		p, ok := priv.(*mlkem.DecapsulationKey1024)
		if !ok || p == nil {
			return nil, wrongType
		}
		return p.Bytes(), nil
	}
	return nil, errors.New("unknown algorithm")
}

// maxPrivateKeySize bounds an encoding before it is parsed: a two-prime RSA
// key's PKCS #8 is about 4.5 times the modulus size.
func maxPrivateKeySize(alg backend.Algorithm) int {
	if alg.Family() == backend.FamilyRSA {
		return alg.Bits()/8*5 + 256
	}
	return 8 << 10
}

// ParsePrivateKey decodes what [MarshalPrivateKey] writes for alg into the
// types backend.Importer documents. It accepts only that canonical encoding
// and checks a packed ML-DSA key with a sign-and-verify test. Errors wrap
// backend.ErrInvalidInput and name the defect, never the data. It does not
// modify enc.
func ParsePrivateKey(alg backend.Algorithm, enc []byte) (priv crypto.PrivateKey, err error) {
	defer func() {
		if recover() != nil {
			priv, err = nil, fmt.Errorf("%w: %s private key is malformed", backend.ErrInvalidInput, alg)
		}
	}()
	if len(enc) > maxPrivateKeySize(alg) {
		return nil, fmt.Errorf("%w: %s private key: %d bytes is too long", backend.ErrInvalidInput, alg, len(enc))
	}
	priv, err = parsePrivate(alg, enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %s private key: %v", backend.ErrInvalidInput, alg, err)
	}
	canon, err := marshalPrivate(alg, priv)
	if err != nil {
		return nil, fmt.Errorf("%w: %s private key: %v", backend.ErrInvalidInput, alg, err)
	}
	defer clear(canon)
	if subtle.ConstantTimeCompare(canon, enc) != 1 {
		return nil, fmt.Errorf("%w: %s private key is not in canonical form", backend.ErrInvalidInput, alg)
	}
	return priv, nil
}

func parsePrivate(alg backend.Algorithm, enc []byte) (crypto.PrivateKey, error) {
	switch alg.Family() {
	case backend.FamilyRSA, backend.FamilyECDSA:
		return parsePKCS8(enc)
	}
	switch alg {
	case backend.Ed25519:
		return parsePKCS8(enc)
	case backend.Ed448:
		if len(enc) != ed448.SeedSize {
			return nil, fmt.Errorf("seed is %d bytes, want %d", len(enc), ed448.SeedSize)
		}
		return ed448.NewKeyFromSeed(enc), nil
	case backend.MLDSA44:
		return parseMLDSA(mldsa44.Scheme(), enc)
	case backend.MLDSA65:
		return parseMLDSA(mldsa65.Scheme(), enc)
	case backend.MLDSA87:
		return parseMLDSA(mldsa87.Scheme(), enc)
	case backend.MLKEM768:
		return mlkem.NewDecapsulationKey768(enc)
	case backend.MLKEM1024:
		return mlkem.NewDecapsulationKey1024(enc)
	}
	return nil, errors.New("unknown algorithm")
}

// parsePKCS8 hides x509's error text behind a fixed message.
func parsePKCS8(der []byte) (crypto.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("malformed PKCS #8")
	}
	return k, nil
}

// parseMLDSA reads a seed or a packed private key; a packed key carries a
// hash of its public key that nothing else checks, so it must pass a
// pairwise sign-and-verify test.
func parseMLDSA(sch sign.Scheme, enc []byte) (crypto.PrivateKey, error) {
	switch len(enc) {
	case sch.SeedSize():
		_, sk := sch.DeriveKey(enc)
		return sk, nil
	case sch.PrivateKeySize():
		sk, err := sch.UnmarshalBinaryPrivateKey(enc)
		if err != nil {
			return nil, errors.New("malformed packed key")
		}
		pk, ok := sk.Public().(sign.PublicKey)
		if !ok {
			return nil, errors.New("no public key")
		}
		pkBytes, err := pk.MarshalBinary()
		if err != nil {
			return nil, err
		}
		if pk, err = sch.UnmarshalBinaryPublicKey(pkBytes); err != nil {
			return nil, errors.New("malformed public key")
		}
		msg := []byte("cryptoplug pairwise consistency test")
		if !sch.Verify(pk, msg, sch.Sign(sk, msg, nil), nil) {
			return nil, errors.New("packed key fails its pairwise consistency test")
		}
		return sk, nil
	}
	return nil, fmt.Errorf("%d bytes is neither a seed (%d) nor a packed key (%d)", len(enc), sch.SeedSize(), sch.PrivateKeySize())
}
