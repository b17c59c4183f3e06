package refserver_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver"
)

// BenchmarkSignPath measures the server's own work for POST /v1/sign —
// routing, authentication (a session, served by the authn store's cache),
// the JSON body and answer, the signature, metrics and the audit record
// (JSON, to io.Discard) — through ServeHTTP without TLS or a network
// ("impl=server"), beside the signature alone ("impl=signer"). The
// difference is what the server adds per request before net/http and TLS.
func BenchmarkSignPath(b *testing.B) {
	ctx := context.Background()
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(b.TempDir(), "authn.db"))
	require.NoError(b, err)
	b.Cleanup(func() { store.Close() })
	peppers, err := authn.ParsePeppers("1:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	require.NoError(b, err)
	svc, err := authn.NewService(authn.Config{Store: store, Peppers: peppers, Argon2: authn.Argon2Params{Memory: 64, Time: 1, Threads: 1}})
	require.NoError(b, err)
	be, err := backend.Open(ctx, "software:")
	require.NoError(b, err)
	b.Cleanup(func() { be.Close() })
	k, err := be.GenerateKey(ctx, backend.KeySpec{Label: "k", Algorithm: backend.ECDSAP256})
	require.NoError(b, err)
	const pw = "benchmark password 0123456789"
	_, err = svc.CreateUser(ctx, "bench@localhost", authn.NewSecret(pw), authn.NewRoleSet(authn.RoleKeyOperation))
	require.NoError(b, err)
	sess, err := svc.CreateSession(ctx, authn.Credentials{BasicUser: "bench@localhost", BasicPassword: authn.NewSecret(pw)})
	require.NoError(b, err)
	srv, err := refserver.New(refserver.Options{Backend: be, Auth: svc, Audit: slog.New(slog.NewJSONHandler(io.Discard, nil))})
	require.NoError(b, err)
	digest := sha256.Sum256([]byte("benchmark"))
	body := `{"label":"k","digest":"` + base64.StdEncoding.EncodeToString(digest[:]) + `","hash":"SHA-256"}`
	bearer := "Bearer " + sess.Token.Reveal()

	b.Run("impl=server", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest("POST", "/v1/sign", strings.NewReader(body))
			r.Header.Set("Authorization", bearer)
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatalf("status %d: %s", w.Code, w.Body)
			}
		}
	})
	b.Run("impl=signer", func(b *testing.B) {
		s, err := k.Signer()
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.SignContext(ctx, rand.Reader, digest[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
}
