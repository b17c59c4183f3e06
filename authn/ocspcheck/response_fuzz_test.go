package ocspcheck

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// testPKI is a CA, a delegated responder and a leaf made in memory, for the
// tests that need no responder process.
type testPKI struct {
	ca, responder, leaf *x509.Certificate
	caKey, responderKey *ecdsa.PrivateKey
}

func newTestPKI(tb testing.TB) *testPKI {
	tb.Helper()
	mk := func(tmpl, parent *x509.Certificate, key, signer *ecdsa.PrivateKey) *x509.Certificate {
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
		if err != nil {
			tb.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			tb.Fatal(err)
		}
		return c
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		return k
	}
	now := time.Now()
	p := &testPKI{caKey: key(), responderKey: key()}
	p.ca = mk(&x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}, nil, p.caKey, p.caKey)
	p.responder = mk(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "responder"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}}, p.ca, p.responderKey, p.caKey)
	p.leaf = mk(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: now.Add(-time.Hour),
		NotAfter: now.Add(time.Hour)}, p.ca, key(), p.caKey)
	return p
}

func (p *testPKI) response(tb testing.TB, status int, delegated bool) []byte {
	tb.Helper()
	tmpl := ocsp.Response{Status: status, SerialNumber: p.leaf.SerialNumber, ThisUpdate: time.Now().Add(-time.Minute),
		NextUpdate: time.Now().Add(time.Hour), RevokedAt: time.Now().Add(-time.Hour)}
	signerCert, signerKey := p.ca, p.caKey
	if delegated {
		tmpl.Certificate, signerCert, signerKey = p.responder, p.responder, p.responderKey
	}
	der, err := ocsp.CreateResponse(p.ca, signerCert, tmpl, signerKey)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// FuzzVerifyResponse feeds arbitrary bytes to the response path a
// responder (or whoever sits between) controls. Nothing may panic, and
// nothing but a response signed by the CA or its delegated responder may
// be accepted.
func FuzzVerifyResponse(f *testing.F) {
	p := newTestPKI(f)
	f.Add(p.response(f, ocsp.Good, false))
	f.Add(p.response(f, ocsp.Revoked, true))
	f.Add(p.response(f, ocsp.Unknown, false))
	f.Add(ocsp.TryLaterErrorResponse)
	f.Add([]byte{0x30, 0x00})
	now := time.Now()
	f.Fuzz(func(t *testing.T, der []byte) {
		a, err := verifyResponse(der, p.leaf, p.ca, nil, now, 5*time.Minute)
		if err != nil {
			return
		}
		resp, err := ocsp.ParseResponseForCert(der, p.leaf, nil)
		if err != nil {
			t.Fatalf("accepted a response x/crypto/ocsp cannot parse: %v", err)
		}
		if resp.Certificate == nil || resp.Certificate.Equal(p.ca) {
			if resp.CheckSignatureFrom(p.ca) != nil {
				t.Fatal("accepted a response the CA did not sign")
			}
		} else if resp.Certificate.CheckSignatureFrom(p.ca) != nil {
			t.Fatal("accepted a responder certificate the CA did not issue")
		}
		if a.status != resp.Status {
			t.Fatalf("status %d, x/crypto/ocsp says %d", a.status, resp.Status)
		}
	})
}

// TestRequestRoundTrip: the request this package writes, nonce included,
// is one golang.org/x/crypto/ocsp reads as a request for the certificate.
func TestRequestRoundTrip(t *testing.T) {
	p := newTestPKI(t)
	nonce := []byte("0123456789abcdef")
	der, err := newRequest(p.leaf, p.ca, nonce)
	if err != nil {
		t.Fatal(err)
	}
	req, err := ocsp.ParseRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ocsp.CreateRequest(p.leaf, p.ca, nil)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := ocsp.ParseRequest(want)
	if req.SerialNumber.Cmp(p.leaf.SerialNumber) != 0 || string(req.IssuerKeyHash) != string(plain.IssuerKeyHash) ||
		string(req.IssuerNameHash) != string(plain.IssuerNameHash) {
		t.Fatalf("request %+v does not identify the certificate as %+v", req, plain)
	}
	var parsed ocspRequest
	if _, err := asn1.Unmarshal(der, &parsed); err != nil {
		t.Fatal(err)
	}
	exts := parsed.TBSRequest.Extensions
	var inner []byte
	if len(exts) != 1 || !exts[0].Id.Equal(oidNonce) {
		t.Fatalf("extensions %+v", exts)
	}
	if _, err := asn1.Unmarshal(exts[0].Value, &inner); err != nil || string(inner) != string(nonce) {
		t.Fatalf("nonce extension %x: %v", exts[0].Value, err)
	}
}
