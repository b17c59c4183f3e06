package client

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"sync"
)

// maxChainPEM bounds a client certificate chain file.
const maxChainPEM = 256 << 10

// WithClientCertificate makes the client present cert as its TLS client
// certificate; build it with [ClientCertificate] to keep the private key in
// a TPM or an HSM. Combine it with [CertificateSession] to authenticate by
// the certificate alone, or with another credential to bind its sessions to
// the certificate. Apply it after [WithTLSConfig], which replaces the whole
// configuration.
func WithClientCertificate(cert tls.Certificate) Option {
	return func(o *options) error {
		if len(cert.Certificate) == 0 || cert.PrivateKey == nil {
			return errors.New("client: a client certificate needs a certificate and a private key")
		}
		if o.tls == nil {
			o.tls = &tls.Config{}
		}
		o.tls.Certificates = []tls.Certificate{cert}
		return nil
	}
}

// ClientCertificate builds a TLS client certificate whose private key is
// key — any crypto.Signer, typically a key held in a TPM or an HSM (a
// backend.Key's Signer), which then signs each handshake without leaving
// its store. chainPEM holds the certificate and any intermediates, leaf
// first, at most 256 KiB. It fails when chainPEM holds no certificate or the
// leaf does not certify key's public key.
func ClientCertificate(chainPEM []byte, key crypto.Signer) (tls.Certificate, error) {
	return certificateFor(chainPEM, key)
}

func certificateFor(chainPEM []byte, key crypto.Signer) (tls.Certificate, error) {
	if len(chainPEM) > maxChainPEM {
		return tls.Certificate{}, fmt.Errorf("client: client certificate chain over %d bytes", maxChainPEM)
	}
	var cert tls.Certificate
	for rest := chainPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			cert.Certificate = append(cert.Certificate, block.Bytes)
		}
	}
	if len(cert.Certificate) == 0 {
		return tls.Certificate{}, errors.New("client: the client certificate file holds no PEM certificate")
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("client: parse client certificate: %w", err)
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if key == nil || !ok || !pub.Equal(key.Public()) {
		return tls.Certificate{}, errors.New("client: the client certificate does not certify the given key")
	}
	cert.PrivateKey, cert.Leaf = key, leaf
	return cert, nil
}

// CertificateSession is the credential of a client that authenticates with
// its TLS client certificate alone ([WithClientCertificate]): on first use
// it creates a session bound to the certificate (POST /sys/v1/session/auth,
// as [Client.LoginWithCertificate]), keeps the token in memory only, and
// when the server refuses it (expired, terminated) logs in again and
// retries the request once. No bearer credential exists outside the
// process. The server must trust the certificate's CA and pin the
// certificate to an application using the certificate method.
func CertificateSession() Credential { return Credential{certSession: true} }

// certSession is the in-memory session of a [CertificateSession] client.
// mu serialises logins, so that a burst of requests after expiry logs in
// once; token is read under it too, as logins are rare and requests only
// copy a string.
type certSession struct {
	mu    sync.Mutex
	token string
}

// current returns the session token, logging in first if there is none or
// if it is still the stale one a request was refused with.
func (s *certSession) current(ctx context.Context, c *Client, stale string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.token != stale {
		return s.token, nil
	}
	sess, err := c.LoginWithCertificate(ctx)
	if err != nil {
		s.token = ""
		return "", fmt.Errorf("client: create a certificate session: %w", err)
	}
	s.token = sess.AccessToken
	return s.token, nil
}

// doCertSession sends a request with the certificate session's token,
// logging in again and resending once when the token is refused. A 401 is
// answered before any handler runs, so resending cannot repeat an effect.
func (c *Client) doCertSession(ctx context.Context, method, path string, body []byte, out any) error {
	tok, err := c.cs.current(ctx, c, "")
	if err != nil {
		return err
	}
	bearer := func(h http.Header) { h.Set("Authorization", "Bearer "+tok) }
	err = c.send(ctx, method, path, body, out, bearer)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized {
		return err
	}
	if tok, err = c.cs.current(ctx, c, tok); err != nil {
		return err
	}
	return c.send(ctx, method, path, body, out, bearer)
}
