package refservertest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
)

// clientCA issues the client certificates of an instance started with
// Options.ClientCertificates.
type clientCA struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	pool *x509.CertPool
}

func newClientCA(tb testing.TB) *clientCA {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(tb, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "refservertest client CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(tb, err)
	cert, err := x509.ParseCertificate(der)
	must(tb, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &clientCA{key: key, cert: cert, pool: pool}
}

// CertificateApplication issues a client certificate (client
// authentication, a day long) for pub from the instance's CA, creates an
// application using the certificate method pinned to it and holding roles,
// and returns the application's ID and the certificate as a PEM file.
// Start the instance with Options.ClientCertificates.
func (in *Instance) CertificateApplication(tb testing.TB, pub crypto.PublicKey, roles ...authn.Role) (id, certFile string) {
	tb.Helper()
	if in.ca == nil {
		tb.Fatal("refservertest: CertificateApplication needs Options.ClientCertificates")
	}
	n := in.n.Add(1)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(n + 1),
		Subject:      pkix.Name{CommonName: "app" + itoa(n)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, in.ca.cert, pub, in.ca.key)
	must(tb, err)
	cert, err := x509.ParseCertificate(der)
	must(tb, err)
	a, _, err := in.Auth.CreateApplication(context.Background(), authn.ApplicationSpec{
		Name: "app" + itoa(n), Roles: authn.NewRoleSet(roles...), Method: authn.MethodCertificate, Certificate: cert})
	must(tb, err)
	certFile = filepath.Join(in.dir, "client-"+itoa(n)+".crt")
	must(tb, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	return a.ID, certFile
}
