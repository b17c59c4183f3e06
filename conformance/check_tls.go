package conformance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
)

const tlsServerName = "conformance.invalid"

// checkTLS13 runs a TLS 1.3 handshake over net.Pipe with the key's Signer as
// the server's private key (tls.Certificate{PrivateKey: signer}), then sends
// a few bytes each way. The server certificate is issued for the key by a
// throwaway standard-library CA, so only the handshake signature
// (CertificateVerify) comes from the backend: ECDSA with the curve's hash,
// RSA-PSS with PSSSaltLengthEqualsHash, or Ed25519.
func checkTLS13(r *runner, c *cell, a backend.Algorithm) {
	_, s := r.signer(c, a)
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		c.suiteFatal("make the CA key: %v", err)
	}
	caTmpl := certTemplate("cryptoplug conformance CA", true)
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		c.suiteFatal("make the CA certificate: %v", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafTmpl := certTemplate(tlsServerName, false)
	leafTmpl.DNSNames = []string{tlsServerName}
	leafTmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, s.Public(), caKey)
	if err != nil && !stdlibCanSign(a) {
		c.Unsupported("crypto/x509 and crypto/tls cannot use %s keys: %v", a, err)
	}
	if err != nil {
		c.suiteFatal("issue the server certificate: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)

	server := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: s}},
		MinVersion:   tls.VersionTLS13,
		MaxVersion:   tls.VersionTLS13,
	}
	client := &tls.Config{
		RootCAs:    roots,
		ServerName: tlsServerName,
		MinVersion: tls.VersionTLS13,
		MaxVersion: tls.VersionTLS13,
	}
	err = handshake(c.ctx, server, client)
	if err != nil && !stdlibCanSign(a) {
		c.Unsupported("crypto/tls cannot use %s keys: %v", a, err)
	}
	if err != nil {
		c.fatalf(FaultStore, "a TLS 1.3 handshake", gotErr(err), "TLS 1.3 handshake with the key as the server's private key: %v", err)
	}
}

// handshake connects a TLS client and server over net.Pipe, completes the
// handshake and exchanges a message each way.
func handshake(ctx context.Context, server, client *tls.Config) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	sc, cc := net.Pipe()
	deadline, _ := ctx.Deadline()
	_ = sc.SetDeadline(deadline)
	_ = cc.SetDeadline(deadline)
	// Closing the pipe, not the TLS connections: a TLS Close would wait
	// for the peer to read its close_notify.
	defer sc.Close()
	defer cc.Close()
	srv, cli := tls.Server(sc, server), tls.Client(cc, client)

	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil { // the backend's Signer panicked
				sc.Close()
				done <- fmt.Errorf("server: panic: %v", p)
			}
		}()
		if err := srv.HandshakeContext(ctx); err != nil {
			// The client may still be writing (it flushes after the
			// server's alert), and a pipe write waits for a reader: close
			// this end so the client fails now, not at the deadline.
			sc.Close()
			done <- fmt.Errorf("server: %w", err)
			return
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(srv, buf); err != nil {
			done <- fmt.Errorf("server read: %w", err)
			return
		}
		_, err := srv.Write([]byte("pong!"))
		done <- err
	}()
	if err := cli.HandshakeContext(ctx); err != nil {
		// The server's error says more (it is the side that signed).
		sc.Close()
		if serr := <-done; serr != nil {
			return fmt.Errorf("%w (client: %v)", serr, err)
		}
		return fmt.Errorf("client: %w", err)
	}
	if v := cli.ConnectionState().Version; v != tls.VersionTLS13 {
		return fmt.Errorf("negotiated version %#x, want TLS 1.3", v)
	}
	if _, err := cli.Write([]byte("ping!")); err != nil {
		return fmt.Errorf("client write: %w", err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(cli, buf); err != nil {
		return fmt.Errorf("client read: %w", err)
	}
	return <-done
}
