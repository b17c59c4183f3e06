package conformance

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// failingSigner refuses every signature, as a token that cannot sign the
// handshake's scheme does.
type failingSigner struct{ crypto.Signer }

func (failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("token refused")
}

// TestTLSHandshakeFailsFast checks that a server whose signature fails
// ends the tls13-server check at once: the client flushes after the
// server's alert, and over net.Pipe that write used to wait for a reader
// until the check's 30 s deadline. The margin below is far from both.
func TestTLSHandshakeFailsFast(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := certTemplate(tlsServerName, true)
	tmpl.DNSNames = []string{tlsServerName}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	server := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: failingSigner{key}}}, MinVersion: tls.VersionTLS13}
	client := &tls.Config{RootCAs: roots, ServerName: tlsServerName, MinVersion: tls.VersionTLS13}
	start := time.Now()
	err = handshake(context.Background(), server, client)
	require.ErrorContains(t, err, "failed to sign handshake: token refused")
	require.Less(t, time.Since(start), 15*time.Second, "the handshake waited for its deadline")
}
