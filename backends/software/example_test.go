package software_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log"
	"math/big"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
)

// Example generates an ECDSA P-256 key in the in-memory store and uses it
// to issue and verify a self-signed certificate: the Signer is an ordinary
// crypto.Signer, so x509 takes it as it is.
func Example() {
	ctx := context.Background()
	b, err := backend.Open(ctx, "software:")
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	key, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "example.com"})
	if err != nil {
		log.Fatal(err)
	}
	signer, err := key.Signer()
	if err != nil {
		log.Fatal(err)
	}

	template := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "example.com"},
		DNSNames:              []string{"example.com"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, signer.Public(), signer)
	if err != nil {
		log.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		log.Fatal(err)
	}
	if err := cert.CheckSignatureFrom(cert); err != nil {
		log.Fatal(err)
	}
	fmt.Println(cert.Subject.CommonName, cert.SignatureAlgorithm)
	// Output: example.com ECDSA-SHA256
}
