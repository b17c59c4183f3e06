package ocspcheck

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ocsp"
)

type responseASN1 struct {
	Status asn1.Enumerated
	Bytes  responseBytes `asn1:"explicit,tag:0,optional"`
}

type responseBytes struct {
	Type     asn1.ObjectIdentifier
	Response []byte
}

type basicResponse struct {
	TBSResponseData    responseData
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          asn1.BitString
	Certificates       []asn1.RawValue `asn1:"explicit,tag:0,optional"`
}

type responseData struct {
	Raw         asn1.RawContent
	Version     int `asn1:"optional,default:0,explicit,tag:0"`
	ResponderID asn1.RawValue
	ProducedAt  time.Time `asn1:"generalized"`
	Responses   []singleResponse
	Extensions  []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

type singleResponse struct {
	CertID     certID
	Status     asn1.RawValue
	ThisUpdate time.Time        `asn1:"generalized"`
	NextUpdate time.Time        `asn1:"generalized,explicit,tag:0,optional"`
	Extensions []pkix.Extension `asn1:"explicit,tag:1,optional"`
}

var oidBasicResponse = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 1}

// envelope is what this package reads of a response beyond
// golang.org/x/crypto/ocsp: the CertID answered and the response
// extensions.
type envelope struct {
	certID certID
	nonce  []byte // the nonce extension's value, nil if none
}

// errUnavailable marks a response that is not an OCSP answer at all.
type unavailableError struct{ msg string }

func (e *unavailableError) Error() string { return e.msg }

// readEnvelope parses the outer structure of der and the single response
// about serial. Anything that is not a successful basic OCSP response is an
// *unavailableError: an error page, a truncated body, tryLater.
func readEnvelope(der []byte, leaf *x509.Certificate) (envelope, error) {
	var resp responseASN1
	if rest, err := asn1.Unmarshal(der, &resp); err != nil || len(rest) > 0 {
		return envelope{}, &unavailableError{"not an OCSP response"}
	}
	if st := ocsp.ResponseStatus(resp.Status); st != ocsp.Success {
		return envelope{}, &unavailableError{"responder answered " + st.String()}
	}
	if !resp.Bytes.Type.Equal(oidBasicResponse) {
		return envelope{}, &unavailableError{"not a basic OCSP response"}
	}
	var basic basicResponse
	if rest, err := asn1.Unmarshal(resp.Bytes.Response, &basic); err != nil || len(rest) > 0 {
		return envelope{}, &unavailableError{"basic OCSP response does not parse"}
	}
	var env envelope
	found := false
	for _, r := range basic.TBSResponseData.Responses {
		if r.CertID.SerialNumber != nil && r.CertID.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
			env.certID, found = r.CertID, true
			break // the one golang.org/x/crypto/ocsp picks too
		}
	}
	if !found {
		return envelope{}, errors.New("response is not about this serial number")
	}
	for _, ext := range basic.TBSResponseData.Extensions {
		if ext.Id.Equal(oidNonce) {
			env.nonce = ext.Value
		}
	}
	return env, nil
}

// answer is a verified OCSP answer about one certificate.
type answer struct {
	status     int // ocsp.Good, ocsp.Revoked or ocsp.Unknown
	revokedAt  time.Time
	reason     int       // revocation reason, ocsp.Unspecified…
	nextUpdate time.Time // zero if none
}

// verifyResponse checks der as the answer about leaf from ca's responder:
// the signature (by the CA, or by a certificate the CA issued for OCSP
// signing that is valid now), the CertID (this serial under this CA's name
// and key), the nonce (if one was sent) and the time window. An
// *unavailableError means der is no OCSP answer; any other error means it
// must not be trusted.
func verifyResponse(der []byte, leaf, ca *x509.Certificate, nonce []byte, now time.Time, skew time.Duration) (answer, error) {
	env, err := readEnvelope(der, leaf)
	if err != nil {
		return answer{}, err
	}
	resp, err := ocsp.ParseResponseForCert(der, leaf, nil)
	if err != nil {
		return answer{}, fmt.Errorf("response: %w", err)
	}
	if err := checkSigner(resp, ca, now); err != nil {
		return answer{}, err
	}
	h := hashForOID(env.certID.HashAlgorithm.Algorithm)
	name, key, err := issuerHashes(ca, h)
	if h == 0 || err != nil || !bytes.Equal(name, env.certID.IssuerNameHash) || !bytes.Equal(key, env.certID.IssuerKeyHash) {
		return answer{}, errors.New("response is about a certificate of another issuer")
	}
	if nonce != nil {
		want, _ := asn1.Marshal(nonce)
		if !bytes.Equal(env.nonce, want) {
			return answer{}, errors.New("response does not echo the request's nonce")
		}
	}
	if resp.ThisUpdate.After(now.Add(skew)) {
		return answer{}, fmt.Errorf("thisUpdate %s is in the future", resp.ThisUpdate.Format(time.RFC3339))
	}
	if !resp.NextUpdate.IsZero() && resp.NextUpdate.Add(skew).Before(now) {
		return answer{}, fmt.Errorf("stale: nextUpdate %s has passed", resp.NextUpdate.Format(time.RFC3339))
	}
	return answer{status: resp.Status, revokedAt: resp.RevokedAt, reason: resp.RevocationReason, nextUpdate: resp.NextUpdate}, nil
}

// checkSigner accepts a response signed by the CA itself or by a delegated
// responder: a certificate the CA issued with the OCSP signing extended key
// usage, valid now (RFC 6960, 4.2.2.2).
func checkSigner(resp *ocsp.Response, ca *x509.Certificate, now time.Time) error {
	signer := resp.Certificate
	if signer == nil || bytes.Equal(signer.Raw, ca.Raw) {
		// Without an embedded certificate, the CA's key must have signed;
		// golang.org/x/crypto/ocsp checked nothing yet in that case.
		if err := resp.CheckSignatureFrom(ca); err != nil {
			return fmt.Errorf("response not signed by the CA: %w", err)
		}
		return nil
	}
	// The response's signature by the embedded certificate was checked by
	// ParseResponseForCert; what remains is whether the CA vouches for it.
	if err := signer.CheckSignatureFrom(ca); err != nil {
		return fmt.Errorf("responder certificate %q not issued by the CA: %w", signer.Subject.String(), err)
	}
	ocspSigning := false
	for _, u := range signer.ExtKeyUsage {
		ocspSigning = ocspSigning || u == x509.ExtKeyUsageOCSPSigning
	}
	if !ocspSigning {
		return fmt.Errorf("responder certificate %q lacks the OCSP signing extended key usage", signer.Subject.String())
	}
	if now.Before(signer.NotBefore) || now.After(signer.NotAfter) {
		return fmt.Errorf("responder certificate %q is not valid now", signer.Subject.String())
	}
	return nil
}
