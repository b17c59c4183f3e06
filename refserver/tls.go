package refserver

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
)

// serverTLSConfig builds the listener's TLS configuration: TLS 1.3 unless
// configured down to 1.2, HTTP/2 and HTTP/1.1, and with a client CA,
// optional client certificates (tls.VerifyClientCertIfGiven) re-verified in
// VerifyConnection on every connection, resumed ones included, so that a
// certificate that expired since the session ticket was issued no longer
// creates or uses a certificate-bound session.
func serverTLSConfig(c *Config) (*tls.Config, error) {
	ctx, cancel := context.WithTimeout(context.Background(), backend.DefaultTimeout)
	defer cancel()
	cert, err := c.loadKeyPair(ctx)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate: %w", err)
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS13,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if c.TLSMinVersion == "1.2" {
		tc.MinVersion = tls.VersionTLS12
	}
	if c.ClientCA == "" {
		return tc, nil
	}
	pemBytes, err := os.ReadFile(c.ClientCA)
	if err != nil {
		return nil, fmt.Errorf("read client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("client CA %s holds no PEM certificate", c.ClientCA)
	}
	tc.ClientCAs = pool
	tc.ClientAuth = tls.VerifyClientCertIfGiven
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return nil
		}
		inter := x509.NewCertPool()
		for _, ic := range cs.PeerCertificates[1:] {
			inter.AddCert(ic)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
			Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		})
		return err
	}
	return tc, nil
}

// writeSelfSigned creates a self-signed ECDSA P-256 server certificate for
// localhost, 127.0.0.1 and ::1, valid for a year, at c.TLSCert (0644) and
// its key at c.TLSKey (0600; sealed with seal_to). Clients trust it by
// pinning the certificate file as their CA.
func writeSelfSigned(ctx context.Context, c *Config) error {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "cryptoplug refserver"},
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return err
	}
	defer clear(keyDER)
	for _, dir := range []string{filepath.Dir(c.TLSCert), filepath.Dir(c.TLSKey)} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	keyPEM := pemBlock("PRIVATE KEY", keyDER)
	defer clear(keyPEM)
	if _, err := c.writeSecretFile(ctx, c.TLSKey, keyPEM); err != nil {
		return err
	}
	return writeNewFile(c.TLSCert, pemBlock("CERTIFICATE", der), 0o644)
}

// writeNewFile creates path with mode and contents, failing if it exists.
func writeNewFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.Join(err, os.Remove(path))
	}
	return nil
}
