package main

import (
	"bytes"
	"crypto"
	"crypto/mlkem"
	"crypto/sha3"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/cloudflare/circl/sign"
	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
)

// maxKeyFileLen bounds a private key file before it is parsed: an RSA-4096
// key in PEM is about 3.3 kB, an ML-DSA-87 expanded key about 6.6 kB.
const maxKeyFileLen = 1 << 20

// OIDs crypto/x509 does not know: Ed448 (RFC 8410), and ML-KEM (RFC 9935's
// draft, NIST CSOR). The ML-DSA ones come from circl.
var (
	oidEd448     = asn1.ObjectIdentifier{1, 3, 101, 113}
	oidMLKEM768  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}
	oidMLKEM1024 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 3}
)

// keyFileErr describes a defect of a key file. The file is the user's
// input, so it wraps ErrInvalidInput (a usage error). Messages name the
// defect, never the data.
func keyFileErr(format string, args ...any) error {
	return fmt.Errorf("private key file: %s: %w", fmt.Sprintf(format, args...), backend.ErrInvalidInput)
}

// parsePrivateKey reads one private key from data: PEM ("PRIVATE KEY",
// PKCS #8; "RSA PRIVATE KEY", PKCS #1; "EC PRIVATE KEY", SEC 1) or bare
// PKCS #8 DER. Other PEM blocks in the file (certificates, EC PARAMETERS)
// are ignored; more than one private key is an error. PKCS #8 covers every
// algorithm cryptoplug has: RSA, ECDSA and Ed25519 as crypto/x509 reads
// them, Ed448 (RFC 8410), ML-DSA (RFC 9881: seed, expanded key, or both)
// and ML-KEM (seed, or both). Encrypted keys are refused with
// [backend.ErrUnsupported]. It returns the key's algorithm and the key in
// the types [backend.Importer] takes; the caller wipes it after use.
func parsePrivateKey(data []byte) (backend.Algorithm, crypto.PrivateKey, error) {
	if len(data) > maxKeyFileLen {
		return "", nil, keyFileErr("longer than %d bytes", maxKeyFileLen)
	}
	der, kind, err := privateKeyBlock(data)
	if err != nil {
		return "", nil, err
	}
	defer clear(der)
	var priv crypto.PrivateKey
	switch kind {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(der)
		if err != nil {
			return "", nil, keyFileErr("malformed PKCS #1 RSA key")
		}
		priv = k
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(der)
		if err != nil {
			return "", nil, keyFileErr("malformed SEC 1 EC key")
		}
		priv = k
	default:
		if priv, err = parsePKCS8(der); err != nil {
			return "", nil, err
		}
	}
	alg, err := algorithmOf(priv)
	if err != nil {
		privkey.Wipe(priv)
		return "", nil, err
	}
	return alg, priv, nil
}

// privateKeyBlock finds the one private key in data and returns its DER
// and PEM type ("" for bare DER).
func privateKeyBlock(data []byte) ([]byte, string, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == 0x30 { // a DER SEQUENCE: bare PKCS #8
		return bytes.Clone(trimmed), "", nil
	}
	var (
		found []byte
		kind  string
		n     int
	)
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		switch b.Type {
		case "ENCRYPTED PRIVATE KEY":
			return nil, "", fmt.Errorf("private key file: encrypted PKCS #8 is not supported; give the key unencrypted, over a pipe rather than a file if you can: %w", backend.ErrUnsupported)
		case "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if _, enc := b.Headers["Proc-Type"]; enc {
				return nil, "", fmt.Errorf("private key file: encrypted PEM (Proc-Type) is not supported: %w", backend.ErrUnsupported)
			}
			n++
			found, kind = b.Bytes, b.Type
		}
	}
	switch n {
	case 0:
		return nil, "", keyFileErr("no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY PEM block found")
	case 1:
		return bytes.Clone(found), kind, nil
	}
	return nil, "", keyFileErr("%d private keys found; give one", n)
}

// privateKeyInfo is PKCS #8's PrivateKeyInfo (RFC 5208), for the
// algorithms crypto/x509 does not parse.
type privateKeyInfo struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
	Attributes asn1.RawValue `asn1:"optional,tag:0"`
	PublicKey  asn1.RawValue `asn1:"optional,tag:1"`
}

func parsePKCS8(der []byte) (crypto.PrivateKey, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k, nil
	}
	var info privateKeyInfo
	rest, err := asn1.Unmarshal(der, &info)
	if err != nil || len(rest) != 0 {
		return nil, keyFileErr("malformed PKCS #8")
	}
	defer clear(info.PrivateKey)
	if len(info.Algorithm.Parameters.FullBytes) != 0 {
		return nil, keyFileErr("unexpected algorithm parameters")
	}
	oid := info.Algorithm.Algorithm
	switch {
	case oid.Equal(oidEd448):
		var seed []byte
		if rest, err := asn1.Unmarshal(info.PrivateKey, &seed); err != nil || len(rest) != 0 || len(seed) != ed448.SeedSize {
			return nil, keyFileErr("malformed Ed448 private key")
		}
		defer clear(seed)
		return ed448.NewKeyFromSeed(seed), nil
	case oid.Equal(oidMLKEM768):
		return parseMLKEM(backend.MLKEM768, info.PrivateKey)
	case oid.Equal(oidMLKEM1024):
		return parseMLKEM(backend.MLKEM1024, info.PrivateKey)
	}
	for _, a := range []backend.Algorithm{backend.MLDSA44, backend.MLDSA65, backend.MLDSA87} {
		if mldsaScheme(a).(interface{ Oid() asn1.ObjectIdentifier }).Oid().Equal(oid) {
			return parseMLDSA(a, info.PrivateKey)
		}
	}
	return nil, fmt.Errorf("private key file: PKCS #8 algorithm %v is not one cryptoplug knows: %w", oid, backend.ErrUnsupported)
}

func mldsaScheme(a backend.Algorithm) sign.Scheme {
	switch a {
	case backend.MLDSA44:
		return mldsa44.Scheme()
	case backend.MLDSA65:
		return mldsa65.Scheme()
	}
	return mldsa87.Scheme()
}

// seedChoice reads the CHOICE of RFC 9881 (ML-DSA) and the ML-KEM draft:
// seed [0] IMPLICIT OCTET STRING, expandedKey OCTET STRING, or both
// SEQUENCE { seed OCTET STRING, expandedKey OCTET STRING }.
func seedChoice(b []byte) (seed, expanded []byte, err error) {
	s := cryptobyte.String(b)
	switch {
	case s.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific()):
		var v cryptobyte.String
		if !s.ReadASN1(&v, cbasn1.Tag(0).ContextSpecific()) || !s.Empty() {
			return nil, nil, errors.New("malformed seed")
		}
		return v, nil, nil
	case s.PeekASN1Tag(cbasn1.OCTET_STRING):
		var v cryptobyte.String
		if !s.ReadASN1(&v, cbasn1.OCTET_STRING) || !s.Empty() {
			return nil, nil, errors.New("malformed expanded key")
		}
		return nil, v, nil
	case s.PeekASN1Tag(cbasn1.SEQUENCE):
		var seq, sd, ex cryptobyte.String
		if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !s.Empty() ||
			!seq.ReadASN1(&sd, cbasn1.OCTET_STRING) || !seq.ReadASN1(&ex, cbasn1.OCTET_STRING) || !seq.Empty() {
			return nil, nil, errors.New("malformed seed and expanded key")
		}
		return sd, ex, nil
	}
	return nil, nil, errors.New("neither a seed nor an expanded key")
}

func parseMLDSA(a backend.Algorithm, b []byte) (crypto.PrivateKey, error) {
	seed, expanded, err := seedChoice(b)
	if err != nil {
		return nil, keyFileErr("%s private key: %v", a, err)
	}
	sch := mldsaScheme(a)
	if seed != nil && len(seed) != sch.SeedSize() {
		return nil, keyFileErr("%s seed is %d bytes, want %d", a, len(seed), sch.SeedSize())
	}
	enc := seed
	if enc == nil {
		enc = expanded
	}
	// privkey.Parse takes a seed, or a packed key after a pairwise
	// sign-and-verify test.
	priv, err := privkey.Parse(a, enc)
	if err != nil {
		return nil, keyFileErr("%v", err)
	}
	if seed != nil && expanded != nil {
		packed, err := priv.(interface{ MarshalBinary() ([]byte, error) }).MarshalBinary()
		same := err == nil && bytes.Equal(packed, expanded)
		clear(packed)
		if !same {
			privkey.Wipe(priv)
			return nil, keyFileErr("%s seed and expanded key do not match", a)
		}
	}
	return priv, nil
}

func parseMLKEM(a backend.Algorithm, b []byte) (crypto.PrivateKey, error) {
	seed, expanded, err := seedChoice(b)
	if err != nil {
		return nil, keyFileErr("%s private key: %v", a, err)
	}
	if seed == nil {
		return nil, fmt.Errorf("private key file: an %s key in expanded form only cannot be imported (the standard library takes the 64-byte seed): %w", a, backend.ErrUnsupported)
	}
	priv, err := privkey.Parse(a, seed)
	if err != nil {
		return nil, keyFileErr("%v", err)
	}
	if expanded != nil {
		var ek []byte
		switch k := priv.(type) {
		case *mlkem.DecapsulationKey768:
			ek = k.EncapsulationKey().Bytes()
		case *mlkem.DecapsulationKey1024:
			ek = k.EncapsulationKey().Bytes()
		}
		if !expandedMatches(expanded, ek, seed[32:]) {
			privkey.Wipe(priv)
			return nil, keyFileErr("%s seed and expanded key do not match", a)
		}
	}
	return priv, nil
}

// expandedMatches checks the parts of an expanded ML-KEM decapsulation key
// (FIPS 203: dk_PKE || ek || H(ek) || z) that the standard library lets us
// recompute from the seed: the encapsulation key, its hash, and z. dk_PKE
// is not exposed, so it is checked only for its length.
func expandedMatches(expanded, ek, z []byte) bool {
	k := (len(ek) - 32) / 384
	pke := 384 * k
	if len(expanded) != pke+len(ek)+64 {
		return false
	}
	h := sha3.Sum256(ek)
	return bytes.Equal(expanded[pke:pke+len(ek)], ek) &&
		bytes.Equal(expanded[pke+len(ek):pke+len(ek)+32], h[:]) &&
		bytes.Equal(expanded[pke+len(ek)+32:], z)
}

// algorithmOf returns the algorithm of a parsed private key, or fails with
// ErrUnsupported for a key type or size cryptoplug does not have: the
// algorithm of its public half.
func algorithmOf(priv crypto.PrivateKey) (backend.Algorithm, error) {
	var pub crypto.PublicKey
	switch k := priv.(type) {
	case interface{ Public() crypto.PublicKey }:
		pub = k.Public()
	case *mlkem.DecapsulationKey768:
		pub = k.EncapsulationKey()
	case *mlkem.DecapsulationKey1024:
		pub = k.EncapsulationKey()
	default:
		return "", fmt.Errorf("private key file: a %T key is not supported: %w", priv, backend.ErrUnsupported)
	}
	alg, err := algorithmOfPublic(pub)
	if err != nil {
		return "", fmt.Errorf("private key file: %w", err)
	}
	return alg, nil
}
