package privkey

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rsa"
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

// The canonical encoding of a private key, per algorithm:
//
//	RSA, ECDSA, Ed25519  PKCS #8 DER, as x509.MarshalPKCS8PrivateKey writes it
//	Ed448                the 57-byte RFC 8032 seed
//	ML-DSA               the 32-byte seed, or circl's packed private key for
//	                     an imported key that no longer knows its seed
//	ML-KEM               the 64-byte "d || z" seed

// Marshal checks that priv is a usable key of algorithm alg and
// returns its stored encoding. It reads priv and never modifies it. Errors
// wrap [backend.ErrInvalidInput]; a value that makes its own methods panic
// (a zero mlkem.DecapsulationKey768, say) is an error too.
func Marshal(alg backend.Algorithm, priv crypto.PrivateKey) (enc []byte, err error) {
	defer func() {
		if recover() != nil {
			enc, err = nil, fmt.Errorf("%s private key of type %T is malformed: %w", alg, priv, backend.ErrInvalidInput)
		}
	}()
	enc, err = encode(alg, priv)
	if err != nil {
		return nil, fmt.Errorf("%s private key: %w: %w", alg, err, backend.ErrInvalidInput)
	}
	return enc, nil
}

func encode(alg backend.Algorithm, priv crypto.PrivateKey) ([]byte, error) {
	wrongType := fmt.Errorf("got %T, which is not this algorithm's key type", priv)
	switch alg.Family() {
	case backend.FamilyRSA:
		p, ok := priv.(*rsa.PrivateKey)
		if !ok || p == nil || p.N == nil {
			return nil, wrongType
		}
		if p.N.BitLen() != alg.Bits() {
			return nil, fmt.Errorf("modulus is %d bits, want %d", p.N.BitLen(), alg.Bits())
		}
		if len(p.Primes) != 2 {
			return nil, errors.New("only two-prime RSA keys are supported")
		}
		// Precompute writes to the key, and priv may be the caller's.
		cp := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: p.N, E: p.E}, D: p.D, Primes: p.Primes}
		cp.Precompute()
		if err := cp.Validate(); err != nil {
			return nil, err
		}
		return x509.MarshalPKCS8PrivateKey(cp)
	case backend.FamilyECDSA:
		p, ok := priv.(*ecdsa.PrivateKey)
		//lint:ignore SA1019 a caller's hand-built key may lack D; Bytes would panic on it
		if !ok || p == nil || p.Curve == nil || p.D == nil {
			return nil, wrongType
		}
		if p.Curve != alg.Curve() {
			return nil, fmt.Errorf("curve %s, want %s", p.Curve.Params().Name, alg.Curve().Params().Name)
		}
		return x509.MarshalPKCS8PrivateKey(p)
	}
	switch alg {
	case backend.Ed25519:
		p, ok := priv.(ed25519.PrivateKey)
		if !ok {
			return nil, wrongType
		}
		if len(p) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("key is %d bytes, want %d", len(p), ed25519.PrivateKeySize)
		}
		return x509.MarshalPKCS8PrivateKey(p)
	case backend.Ed448:
		p, ok := priv.(ed448.PrivateKey)
		if !ok {
			return nil, wrongType
		}
		if len(p) != ed448.PrivateKeySize {
			return nil, fmt.Errorf("key is %d bytes, want %d", len(p), ed448.PrivateKeySize)
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
	return nil, fmt.Errorf("unknown algorithm %q", alg)
}

// Parse decodes enc, the stored encoding of an alg key, into a new
// private key. It accepts only the canonical encoding (the one
// Marshal returns for the result) and never panics. Errors name the
// defect, not the data, and wrap no sentinel: the caller decides whether
// this is corrupt storage or bad input.
func Parse(alg backend.Algorithm, enc []byte) (priv crypto.PrivateKey, err error) {
	defer func() {
		if recover() != nil {
			priv, err = nil, fmt.Errorf("%s private key is malformed", alg)
		}
	}()
	if len(enc) > maxEncodedSize(alg) {
		return nil, fmt.Errorf("%s private key: %d bytes is too long", alg, len(enc))
	}
	priv, err = decode(alg, enc)
	if err != nil {
		return nil, fmt.Errorf("%s private key: %w", alg, err)
	}
	canon, err := encode(alg, priv)
	if err != nil {
		Wipe(priv)
		return nil, fmt.Errorf("%s private key: %w", alg, err)
	}
	defer clear(canon)
	if !bytes.Equal(canon, enc) {
		Wipe(priv)
		return nil, fmt.Errorf("%s private key is not in canonical form", alg)
	}
	return priv, nil
}

// maxEncodedSize bounds an encoding before it is parsed, so a damaged or
// hostile length cannot make Parse validate a huge modulus. A two-prime RSA
// key's PKCS #8 is about 4.5 times the modulus size; the other encodings
// are a few kilobytes at most.
func maxEncodedSize(alg backend.Algorithm) int {
	if alg.Family() == backend.FamilyRSA {
		return alg.Bits()/8*5 + 256
	}
	return 8 << 10
}

// parsePKCS8 hides x509's error text, which can quote the input, behind a
// fixed message.
func parsePKCS8(der []byte) (crypto.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("malformed PKCS #8")
	}
	return k, nil
}

func decode(alg backend.Algorithm, enc []byte) (crypto.PrivateKey, error) {
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
	case backend.MLDSA44, backend.MLDSA65, backend.MLDSA87:
		return decodeMLDSA(mldsaScheme(alg), enc)
	case backend.MLKEM768:
		return mlkem.NewDecapsulationKey768(enc)
	case backend.MLKEM1024:
		return mlkem.NewDecapsulationKey1024(enc)
	}
	return nil, fmt.Errorf("unknown algorithm %q", alg)
}

func mldsaScheme(alg backend.Algorithm) sign.Scheme {
	switch alg {
	case backend.MLDSA44:
		return mldsa44.Scheme()
	case backend.MLDSA65:
		return mldsa65.Scheme()
	default:
		return mldsa87.Scheme()
	}
}

// decodeMLDSA reads a seed or a packed private key. A packed key carries a
// hash of its public key that nothing else checks, so it must pass a
// pairwise sign-and-verify test before it is used.
func decodeMLDSA(sch sign.Scheme, enc []byte) (crypto.PrivateKey, error) {
	switch len(enc) {
	case sch.SeedSize():
		_, sk := sch.DeriveKey(enc)
		return sk, nil
	case sch.PrivateKeySize():
		sk, err := sch.UnmarshalBinaryPrivateKey(enc)
		if err != nil {
			return nil, err
		}
		// circl's Public copies tr from the private key; re-parsing the
		// public key's bytes recomputes it, so the test sees a damaged tr.
		pk, ok := sk.Public().(sign.PublicKey)
		if !ok {
			return nil, errors.New("no public key")
		}
		pkBytes, err := pk.MarshalBinary()
		if err != nil {
			return nil, err
		}
		if pk, err = sch.UnmarshalBinaryPublicKey(pkBytes); err != nil {
			return nil, err
		}
		msg := []byte("cryptoplug pairwise consistency test")
		if !sch.Verify(pk, msg, sch.Sign(sk, msg, nil), nil) {
			return nil, errors.New("packed key fails its pairwise consistency test")
		}
		return sk, nil
	}
	return nil, fmt.Errorf("%d bytes is neither a seed (%d) nor a packed key (%d)", len(enc), sch.SeedSize(), sch.PrivateKeySize())
}
