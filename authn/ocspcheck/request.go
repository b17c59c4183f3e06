package ocspcheck

import (
	"crypto"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
)

// The ASN.1 of RFC 6960 this package writes or reads itself, because
// golang.org/x/crypto/ocsp neither writes request extensions (the nonce) nor
// exposes a response's extensions or its CertID hashes.

type certID struct {
	HashAlgorithm  pkix.AlgorithmIdentifier
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
}

type ocspRequest struct {
	TBSRequest tbsRequest
}

type tbsRequest struct {
	Version     int `asn1:"explicit,tag:0,default:0,optional"`
	RequestList []singleRequest
	Extensions  []pkix.Extension `asn1:"explicit,tag:2,optional"`
}

type singleRequest struct {
	CertID certID
}

var (
	oidNonce  = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 2}
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

func hashForOID(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oid.Equal(oidSHA1):
		return crypto.SHA1
	case oid.Equal(oidSHA256):
		return crypto.SHA256
	case oid.Equal(oidSHA384):
		return crypto.SHA384
	case oid.Equal(oidSHA512):
		return crypto.SHA512
	}
	return 0
}

// issuerHashes returns the CertID hashes of issuer under h: of its DER
// subject name and of its public key's bit string.
func issuerHashes(issuer *x509.Certificate, h crypto.Hash) (name, key []byte, err error) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(issuer.RawSubjectPublicKeyInfo, &spki); err != nil || len(rest) > 0 {
		return nil, nil, errors.New("issuer public key does not parse")
	}
	sum := func(b []byte) []byte {
		switch h {
		case crypto.SHA1:
			s := sha1.Sum(b)
			return s[:]
		case crypto.SHA256:
			s := sha256.Sum256(b)
			return s[:]
		case crypto.SHA384:
			s := sha512.Sum384(b)
			return s[:]
		case crypto.SHA512:
			s := sha512.Sum512(b)
			return s[:]
		}
		return nil
	}
	return sum(issuer.RawSubject), sum(spki.PublicKey.RightAlign()), nil
}

// newRequest returns the DER OCSP request for leaf, with the nonce as an
// extension if it is not nil. The CertID uses SHA-1, as RFC 5019 profiles
// and every responder accepts; it identifies, it does not protect.
func newRequest(leaf, issuer *x509.Certificate, nonce []byte) ([]byte, error) {
	name, key, err := issuerHashes(issuer, crypto.SHA1)
	if err != nil {
		return nil, err
	}
	req := ocspRequest{TBSRequest: tbsRequest{RequestList: []singleRequest{{CertID: certID{
		HashAlgorithm:  pkix.AlgorithmIdentifier{Algorithm: oidSHA1, Parameters: asn1.NullRawValue},
		IssuerNameHash: name, IssuerKeyHash: key, SerialNumber: leaf.SerialNumber,
	}}}}}
	if nonce != nil {
		v, err := asn1.Marshal(nonce) // RFC 8954: extnValue holds an OCTET STRING
		if err != nil {
			return nil, err
		}
		req.TBSRequest.Extensions = []pkix.Extension{{Id: oidNonce, Value: v}}
	}
	return asn1.Marshal(req)
}
