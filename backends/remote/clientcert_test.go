package remote_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/tpm"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
	"github.com/cryptoplug/cryptoplug/sealedfile"
)

// tpmClientKey generates an ECDSA P-256 key in a fresh swtpm and returns
// the URI of that TPM backend and the key's public half.
func tpmClientKey(t *testing.T, label string) (uri string, pub crypto.PublicKey) {
	t.Helper()
	uri = swtpmtest.Start(t).URI(t.TempDir())
	b, err := backend.Open(t.Context(), uri)
	require.NoError(t, err)
	defer b.Close()
	k, err := b.GenerateKey(t.Context(), backend.KeySpec{Algorithm: backend.ECDSAP256, Label: label})
	require.NoError(t, err)
	return uri, k.Public()
}

// remoteURI is the remote backend URI that authenticates with the client
// certificate in certFile, whose key is label in the backend keyURI.
func remoteURI(in *refservertest.Instance, certFile, label, keyURI string) string {
	u := &backend.URI{Scheme: "remote", Path: []backend.Attr{{Name: in.URL}}, Query: []backend.Attr{
		{Name: "ca-file", Value: in.CAFile, HasValue: true},
		{Name: "client-cert", Value: certFile, HasValue: true},
		{Name: "client-key", Value: label, HasValue: true},
		{Name: "client-key-by", Value: keyURI, HasValue: true},
	}}
	return u.String()
}

// The remote backend signs through the server with a client certificate
// whose key lives in swtpm, and no credential anywhere on the client: its
// certificate session is made at Open, kept in memory, and made again when
// the server ends it.
func TestClientCertificateInTPM(t *testing.T) {
	ctx := context.Background()
	in := refservertest.Start(t, refservertest.Options{ClientCertificates: true})
	keyURI, pub := tpmClientKey(t, "client")
	appID, certFile := in.CertificateApplication(t, pub, authn.RoleKeyManagement, authn.RoleKeyOperation)
	uri := remoteURI(in, certFile, "client", keyURI)
	for _, attr := range []string{"source", "api-key", "pin"} {
		require.NotContains(t, uri, attr, "no credential of any kind")
	}

	b, err := backend.Open(ctx, uri)
	require.NoError(t, err)
	defer b.Close()
	k, err := b.GenerateKey(ctx, backend.KeySpec{Label: "web", Algorithm: backend.ECDSAP256})
	require.NoError(t, err)
	s, err := k.Signer()
	require.NoError(t, err)
	d := sha256.Sum256([]byte("signed over mTLS"))
	sig, err := s.Sign(nil, d[:], crypto.SHA256)
	require.NoError(t, err)
	require.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig))

	// The server ends the application's sessions: the next call logs in
	// again with the certificate.
	n, err := in.Auth.TerminateSessions(ctx, appID)
	require.NoError(t, err)
	require.Equal(t, 1, n, "Open made one session, the calls reused it")
	_, err = s.Sign(nil, d[:], crypto.SHA256)
	require.NoError(t, err)
	require.NoError(t, b.Close())
}

func TestClientCertificateRefused(t *testing.T) {
	ctx := context.Background()
	in := refservertest.Start(t, refservertest.Options{ClientCertificates: true})
	keyURI, pub := tpmClientKey(t, "client")
	_, certFile := in.CertificateApplication(t, pub, authn.RoleKeyOperation)

	// A certificate for another key: refused at Open, before any request.
	other, err := backend.Open(ctx, "software:")
	require.NoError(t, err)
	defer other.Close()
	ok, err := other.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "x"})
	require.NoError(t, err)
	_, otherCert := in.CertificateApplication(t, ok.Public(), authn.RoleKeyOperation)
	garbage := in.WriteSecret(t, "not a certificate")

	// A certificate of another server's CA: the handshake fails.
	foreign := refservertest.Start(t, refservertest.Options{ClientCertificates: true})
	_, foreignCert := foreign.CertificateApplication(t, pub, authn.RoleKeyOperation)
	require.NoError(t, os.WriteFile(certFile+".copy", mustRead(t, foreignCert), 0o644))
	// A certificate of this server's CA whose application is gone: the
	// certificate login is unauthenticated.
	keyURI2, pub2 := tpmClientKey(t, "gone")
	goneID, goneCert := in.CertificateApplication(t, pub2, authn.RoleKeyOperation)
	require.NoError(t, in.Auth.DeleteAccount(ctx, goneID))

	for _, c := range []struct {
		name, uri string
		want      error
	}{
		{"certificate of another key", remoteURI(in, otherCert, "client", keyURI), backend.ErrInvalidInput},
		{"not a certificate", remoteURI(in, garbage, "client", keyURI), backend.ErrInvalidInput},
		{"no such key", remoteURI(in, certFile, "nope", keyURI), backend.ErrKeyNotFound},
		{"a CA the server does not trust", remoteURI(in, certFile+".copy", "client", keyURI), nil},
		{"a certificate no application pins", remoteURI(in, goneCert, "gone", keyURI2), backend.ErrAuth},
		{"client-key-by missing", "remote:" + in.URL + "?ca-file=" + in.CAFile + "&client-cert=" + certFile + "&client-key=client", backend.ErrInvalidInput},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := backend.Open(ctx, c.uri)
			require.Error(t, err)
			require.Nil(t, b)
			if c.want != nil {
				require.ErrorIs(t, err, c.want)
			}
			t.Logf("%v", err)
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

// A session credential sealed to a TPM key: the file on disk is
// ciphertext, and the backend opens with it.
func TestSealedCredentialSource(t *testing.T) {
	ctx := context.Background()
	in := refservertest.Start(t, refservertest.Options{})
	_, sess := in.User(t, authn.RoleKeyManagement, authn.RoleKeyOperation)
	tpmURI := swtpmtest.Start(t).URI(t.TempDir())
	tb, err := backend.Open(ctx, tpmURI)
	require.NoError(t, err)
	_, err = tb.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.RSA2048, Label: "seal", Usage: backend.UsageDecrypt})
	require.NoError(t, err)
	require.NoError(t, tb.Close())
	src := backend.SealedSource{Path: filepath.Join(t.TempDir(), "session.sealed"), By: tpmURI, Key: "seal"}
	_, err = sealedfile.Seal(ctx, src, []byte(sess), sealedfile.Options{})
	require.NoError(t, err)
	require.NotContains(t, string(mustRead(t, src.Path)), sess)

	u := &backend.URI{Scheme: "remote", Path: []backend.Attr{{Name: in.URL}}, Query: []backend.Attr{
		{Name: "ca-file", Value: in.CAFile, HasValue: true},
		{Name: "session-source", Value: src.String(), HasValue: true},
	}}
	b, err := backend.Open(ctx, u.String())
	require.NoError(t, err)
	_, err = b.GenerateKey(ctx, backend.KeySpec{Label: "k", Algorithm: backend.ECDSAP256})
	require.NoError(t, err)
	require.NoError(t, b.Close())

	// Sealed to another key: a clear error, not a request with garbage.
	src.Key = "nope"
	u.Query[1].Value = src.String()
	_, err = backend.Open(ctx, u.String())
	require.ErrorIs(t, err, backend.ErrKeyNotFound)
	require.NotContains(t, err.Error(), sess)
}
