package wire

import (
	"crypto"
	"crypto/mlkem"
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
)

// OIDs of the ML-KEM public keys (NIST CSOR, as in RFC 9935's draft); the
// signature schemes take theirs from circl.
var (
	oidMLKEM768  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 2}
	oidMLKEM1024 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 4, 3}
)

// circlSchemes are the signature schemes crypto/x509 does not encode.
var circlSchemes = []sign.Scheme{ed448.Scheme(), mldsa44.Scheme(), mldsa65.Scheme(), mldsa87.Scheme()}

type spki struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// MarshalPublicKey encodes pub as a PEM "PUBLIC KEY" block holding its PKIX
// SubjectPublicKeyInfo: crypto/x509's encoding for RSA, ECDSA and Ed25519, and
// the algorithm's OID with the raw public key (no parameters) for Ed448,
// ML-DSA and ML-KEM. It fails for any other type.
func MarshalPublicKey(pub crypto.PublicKey) (string, error) {
	der, err := MarshalPKIX(pub)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// MarshalPKIX is [MarshalPublicKey] without the PEM armour.
func MarshalPKIX(pub crypto.PublicKey) ([]byte, error) {
	var (
		oid asn1.ObjectIdentifier
		raw []byte
	)
	switch k := pub.(type) {
	case *mlkem.EncapsulationKey768:
		oid, raw = oidMLKEM768, k.Bytes()
	case *mlkem.EncapsulationKey1024:
		oid, raw = oidMLKEM1024, k.Bytes()
	case sign.PublicKey:
		s, ok := k.Scheme().(interface{ Oid() asn1.ObjectIdentifier })
		if !ok {
			return nil, fmt.Errorf("wire: no OID for %s public keys", k.Scheme().Name())
		}
		b, err := k.MarshalBinary()
		if err != nil {
			return nil, err
		}
		oid, raw = s.Oid(), b
	default:
		return x509.MarshalPKIXPublicKey(pub)
	}
	return asn1.Marshal(spki{
		Algorithm: pkix.AlgorithmIdentifier{Algorithm: oid},
		PublicKey: asn1.BitString{Bytes: raw, BitLength: 8 * len(raw)},
	})
}

// ParsePublicKey decodes what [MarshalPublicKey] produces. It returns the
// types backend.Key.Public documents.
func ParsePublicKey(pemText string) (crypto.PublicKey, error) {
	b, rest := pem.Decode([]byte(pemText))
	if b == nil || b.Type != "PUBLIC KEY" || len(rest) != 0 && len(trimSpace(rest)) != 0 {
		return nil, errors.New("wire: public_key is not one PEM PUBLIC KEY block")
	}
	return ParsePKIX(b.Bytes)
}

// ParsePKIX is [ParsePublicKey] without the PEM armour.
func ParsePKIX(der []byte) (crypto.PublicKey, error) {
	var s spki
	if rest, err := asn1.Unmarshal(der, &s); err != nil || len(rest) != 0 {
		return nil, errors.New("wire: malformed SubjectPublicKeyInfo")
	}
	raw := s.PublicKey.RightAlign()
	switch oid := s.Algorithm.Algorithm; {
	case oid.Equal(oidMLKEM768):
		return mlkem.NewEncapsulationKey768(raw)
	case oid.Equal(oidMLKEM1024):
		return mlkem.NewEncapsulationKey1024(raw)
	}
	for _, sch := range circlSchemes {
		if sch.(interface{ Oid() asn1.ObjectIdentifier }).Oid().Equal(s.Algorithm.Algorithm) {
			pk, err := sch.UnmarshalBinaryPublicKey(raw)
			if err != nil {
				return nil, fmt.Errorf("wire: malformed %s public key: %w", sch.Name(), err)
			}
			if k, ok := pk.(*ed448.PublicKey); ok { // circl's scheme returns a pointer; keys are values
				return *k, nil
			}
			return pk, nil
		}
	}
	return x509.ParsePKIXPublicKey(der)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}
