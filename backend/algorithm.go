package backend

import (
	"crypto"
	"crypto/elliptic"
	"fmt"
)

// Algorithm names a key type and size. It fixes what the key is, not how it
// is used: the signature or encryption scheme is chosen per call through the
// standard library's option types.
//
// The string form is stable and appears in URIs, reports and the HTTP API.
type Algorithm string

// The key algorithms cryptoplug knows. A backend supports a subset, declared
// by [Backend.Capabilities].
const (
	RSA2048   Algorithm = "RSA-2048"
	RSA3072   Algorithm = "RSA-3072"
	RSA4096   Algorithm = "RSA-4096"
	ECDSAP256 Algorithm = "ECDSA-P256"
	ECDSAP384 Algorithm = "ECDSA-P384"
	ECDSAP521 Algorithm = "ECDSA-P521"
	Ed25519   Algorithm = "Ed25519"
	Ed448     Algorithm = "Ed448"
	MLDSA44   Algorithm = "ML-DSA-44"
	MLDSA65   Algorithm = "ML-DSA-65"
	MLDSA87   Algorithm = "ML-DSA-87"
	MLKEM768  Algorithm = "ML-KEM-768"
	MLKEM1024 Algorithm = "ML-KEM-1024"
)

// Algorithms lists every [Algorithm] in a stable order: RSA, ECDSA, EdDSA,
// ML-DSA, ML-KEM. The returned slice is a fresh copy.
func Algorithms() []Algorithm {
	return []Algorithm{
		RSA2048, RSA3072, RSA4096,
		ECDSAP256, ECDSAP384, ECDSAP521,
		Ed25519, Ed448,
		MLDSA44, MLDSA65, MLDSA87,
		MLKEM768, MLKEM1024,
	}
}

// Family groups algorithms that share a key type.
type Family string

// Key families.
const (
	FamilyRSA   Family = "RSA"
	FamilyECDSA Family = "ECDSA"
	FamilyEdDSA Family = "EdDSA"
	FamilyMLDSA Family = "ML-DSA"
	FamilyMLKEM Family = "ML-KEM"
)

// ParseAlgorithm returns the [Algorithm] named s (as printed by its String
// method), or an error wrapping [ErrInvalidInput].
func ParseAlgorithm(s string) (Algorithm, error) {
	a := Algorithm(s)
	if a.Valid() {
		return a, nil
	}
	return "", fmt.Errorf("unknown algorithm %q: %w", s, ErrInvalidInput)
}

// String returns the algorithm's name.
func (a Algorithm) String() string { return string(a) }

// Valid reports whether a is one of the constants in this package.
func (a Algorithm) Valid() bool { return a.Family() != "" }

// Family returns the algorithm's key family, or "" for an unknown algorithm.
func (a Algorithm) Family() Family {
	switch a {
	case RSA2048, RSA3072, RSA4096:
		return FamilyRSA
	case ECDSAP256, ECDSAP384, ECDSAP521:
		return FamilyECDSA
	case Ed25519, Ed448:
		return FamilyEdDSA
	case MLDSA44, MLDSA65, MLDSA87:
		return FamilyMLDSA
	case MLKEM768, MLKEM1024:
		return FamilyMLKEM
	}
	return ""
}

// Bits returns the RSA modulus size or the elliptic curve's field size in
// bits, and 0 for algorithms without such a parameter.
func (a Algorithm) Bits() int {
	switch a {
	case RSA2048:
		return 2048
	case RSA3072:
		return 3072
	case RSA4096:
		return 4096
	case ECDSAP256:
		return 256
	case ECDSAP384:
		return 384
	case ECDSAP521:
		return 521
	}
	return 0
}

// Curve returns the elliptic curve of an ECDSA algorithm, or nil.
func (a Algorithm) Curve() elliptic.Curve {
	switch a {
	case ECDSAP256:
		return elliptic.P256()
	case ECDSAP384:
		return elliptic.P384()
	case ECDSAP521:
		return elliptic.P521()
	}
	return nil
}

// CurveHash returns the hash conventionally paired with an ECDSA curve
// (SHA-256 for P-256, SHA-384 for P-384, SHA-512 for P-521), or 0.
func (a Algorithm) CurveHash() crypto.Hash {
	switch a {
	case ECDSAP256:
		return crypto.SHA256
	case ECDSAP384:
		return crypto.SHA384
	case ECDSAP521:
		return crypto.SHA512
	}
	return 0
}

// Signs reports whether keys of this algorithm sign.
func (a Algorithm) Signs() bool {
	switch a.Family() {
	case FamilyRSA, FamilyECDSA, FamilyEdDSA, FamilyMLDSA:
		return true
	}
	return false
}

// SignsMessages reports whether the algorithm signs whole messages (a "pure"
// scheme: Ed25519, Ed448, ML-DSA), so its keys offer [crypto.MessageSigner].
// Ed25519 keys also accept a pre-hashed digest through Sign with
// [ed25519.Options] and SHA-512 (Ed25519ph).
func (a Algorithm) SignsMessages() bool {
	f := a.Family()
	return f == FamilyEdDSA || f == FamilyMLDSA
}

// Decrypts reports whether keys of this algorithm decrypt (RSA).
func (a Algorithm) Decrypts() bool { return a.Family() == FamilyRSA }

// Decapsulates reports whether keys of this algorithm decapsulate (ML-KEM).
func (a Algorithm) Decapsulates() bool { return a.Family() == FamilyMLKEM }
