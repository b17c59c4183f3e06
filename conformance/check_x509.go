package conformance

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
)

// stdlibCanSign reports whether crypto/x509 and crypto/tls know how to sign
// with keys of a. For the others the checks still try, so that a Go release
// that learns the algorithm is noticed, but record the refusal as
// unsupported rather than failed.
func stdlibCanSign(a backend.Algorithm) bool {
	switch a.Family() {
	case backend.FamilyRSA, backend.FamilyECDSA:
		return true
	}
	return a == backend.Ed25519
}

// x509SignatureAlgorithms are the signature algorithms to try for a: for
// RSA both PKCS #1 v1.5 and PSS (which x509 signs with
// PSSSaltLengthEqualsHash), otherwise whatever x509 picks for the key.
func x509SignatureAlgorithms(a backend.Algorithm) []x509.SignatureAlgorithm {
	if a.Family() == backend.FamilyRSA {
		return []x509.SignatureAlgorithm{x509.SHA256WithRSA, x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS}
	}
	return []x509.SignatureAlgorithm{x509.UnknownSignatureAlgorithm}
}

func certTemplate(cn string, ca bool) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	now := time.Now()
	t := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"cryptoplug conformance"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if ca {
		t.IsCA, t.BasicConstraintsValid = true, true
		t.KeyUsage |= x509.KeyUsageCertSign
	}
	return t
}

// checkX509Certificate has crypto/x509 make a self-signed CA certificate
// with the key's Signer, for each signature algorithm that applies, and
// verifies it: its signature, and a chain built from it as the only root.
// RSA with PSS and SHA-384 is not baseline: a store may refuse it with
// ErrUnsupported.
func checkX509Certificate(r *runner, c *cell, a backend.Algorithm) {
	_, s := r.signer(c, a)
	v := &variants{c: c}
	for _, alg := range x509SignatureAlgorithms(a) {
		tmpl := certTemplate("cryptoplug conformance "+string(a), true)
		tmpl.SignatureAlgorithm = alg
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, s.Public(), s)
		if err != nil && !stdlibCanSign(a) {
			c.Unsupported("crypto/x509 cannot sign with %s keys: %v", a, err)
		}
		v.run(x509Name(a, alg), alg != x509.SHA384WithRSAPSS, func() error {
			if err != nil {
				return fmt.Errorf("x509.CreateCertificate: %w", err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return fmt.Errorf("parse the certificate: %w", err)
			}
			if err := cert.CheckSignatureFrom(cert); err != nil {
				return fmt.Errorf("certificate signed with %v does not verify: %w", cert.SignatureAlgorithm, err)
			}
			roots := x509.NewCertPool()
			roots.AddCert(cert)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				return fmt.Errorf("certificate signed with %v: chain does not verify: %w", cert.SignatureAlgorithm, err)
			}
			return nil
		})
	}
	v.finish()
	c.Notef("verified: %s", strings.Join(v.ok, ", "))
}

func x509Name(a backend.Algorithm, alg x509.SignatureAlgorithm) string {
	if alg == x509.UnknownSignatureAlgorithm {
		return "the default for " + string(a)
	}
	return alg.String()
}

// checkX509CSR has crypto/x509 make a certificate request with the key's
// Signer, for each signature algorithm that applies, and checks its
// signature.
func checkX509CSR(r *runner, c *cell, a backend.Algorithm) {
	_, s := r.signer(c, a)
	v := &variants{c: c}
	for _, alg := range x509SignatureAlgorithms(a) {
		tmpl := &x509.CertificateRequest{
			Subject:            pkix.Name{CommonName: "cryptoplug conformance " + string(a)},
			DNSNames:           []string{"conformance.invalid"},
			SignatureAlgorithm: alg,
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, crypto.Signer(s))
		if err != nil && !stdlibCanSign(a) {
			c.Unsupported("crypto/x509 cannot sign with %s keys: %v", a, err)
		}
		v.run(x509Name(a, alg), alg != x509.SHA384WithRSAPSS, func() error {
			if err != nil {
				return fmt.Errorf("x509.CreateCertificateRequest: %w", err)
			}
			csr, err := x509.ParseCertificateRequest(der)
			if err != nil {
				return fmt.Errorf("parse the CSR: %w", err)
			}
			if err := csr.CheckSignature(); err != nil {
				return fmt.Errorf("CSR signed with %v does not verify: %w", csr.SignatureAlgorithm, err)
			}
			return nil
		})
	}
	v.finish()
	c.Notef("verified: %s", strings.Join(v.ok, ", "))
}
