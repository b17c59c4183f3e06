package remote

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver/client"
)

// maxCertFile bounds the client-cert= file.
const maxCertFile = 256 << 10

// clientCertificate reads client-cert=, client-key= and client-key-by=
// (all three or none): the certificate chain file, and the label of its
// private key in the backend client-key-by names, which stays open in
// b.keyStore so the key can sign each TLS handshake. It returns nil when
// none is given. Errors wrap backend.ErrInvalidInput, or the key backend's
// own (ErrKeyNotFound, ErrAuth, …).
func (b *Backend) clientCertificate(ctx context.Context, u *backend.URI) (client.Option, error) {
	certPath, hasCert, err := u.FilePath("client-cert")
	if err != nil {
		return nil, err
	}
	label, hasKey := u.Get("client-key")
	keyURI, hasBy := u.Get("client-key-by")
	switch {
	case !hasCert && !hasKey && !hasBy:
		return nil, nil
	case !hasCert || !hasKey || !hasBy:
		return nil, fmt.Errorf("%w: a client certificate needs client-cert=/path.pem, client-key=<label> and client-key-by=<backend URI> together", backend.ErrInvalidInput)
	}
	chain, err := readBounded(certPath, maxCertFile)
	if err != nil {
		return nil, fmt.Errorf("client-cert: %w", err)
	}
	ks, err := backend.Open(ctx, keyURI)
	if err != nil {
		return nil, fmt.Errorf("client-key-by: %w", err)
	}
	b.keyStore = ks
	k, err := ks.Key(ctx, backend.ByLabel(label))
	if err != nil {
		return nil, fmt.Errorf("client-key: %w", err)
	}
	signer, err := k.Signer()
	if err != nil {
		return nil, fmt.Errorf("client-key: %w", err)
	}
	// Checked here, not left to the handshake, so that a certificate of
	// another key fails at Open and says so.
	cert, err := client.ClientCertificate(chain, signer)
	if err != nil {
		return nil, fmt.Errorf("%w: client-cert %s and key %q: %v", backend.ErrInvalidInput, certPath, label, err)
	}
	return client.WithClientCertificate(cert), nil
}

func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", backend.ErrInvalidInput, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %v", backend.ErrInvalidInput, path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%w: %s is over %d bytes", backend.ErrInvalidInput, path, max)
	}
	return b, nil
}
