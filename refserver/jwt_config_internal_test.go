package refserver

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/ocspcheck/ocsptest"
	"github.com/cryptoplug/cryptoplug/backend"
)

// configIDP is an identity provider with its key in the software backend
// and its JWKS served over HTTPS on loopback.
type configIDP struct {
	signer jose.Signer
	jwks   *httptest.Server
	caFile string // the JWKS server's certificate, for jwks_ca_file
}

func newConfigIDP(t *testing.T, dir string) *configIDP {
	b, err := backend.Open(context.Background(), "software:")
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	k, err := b.GenerateKey(context.Background(), backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "idp"})
	require.NoError(t, err)
	s, err := k.Signer()
	require.NoError(t, err)
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: s.Public(), KeyID: "k1", Use: "sig", Algorithm: "ES256"}}})
	require.NoError(t, err)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write(doc) }))
	t.Cleanup(srv.Close)
	caFile := filepath.Join(dir, "jwks-ca.pem")
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: cryptosigner.Opaque(s)}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	require.NoError(t, err)
	return &configIDP{signer: signer, jwks: srv, caFile: caFile}
}

func (i *configIDP) token(t *testing.T, scope string, bound *x509.Certificate) string {
	now := time.Now()
	c := map[string]any{"iss": "https://idp.example.test", "aud": "cryptoplug", "sub": "alice", "scope": scope,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
	if bound != nil {
		sum := sha256.Sum256(bound.Raw)
		c["cnf"] = map[string]string{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}
	}
	s, err := jwt.Signed(i.signer).Claims(c).Serialize()
	require.NoError(t, err)
	return s
}

// configFile writes the JWT and OCSP part of a configuration file as an
// operator would.
func configFile(t *testing.T, dir string, idp *configIDP, pki *ocsptest.PKI, failOpen bool) string {
	cfg := map[string]any{
		"jwt_issuers": []map[string]any{{
			"name": "idp", "issuer": "https://idp.example.test", "jwks_url": idp.jwks.URL + "/.well-known/jwks.json",
			"audiences": []string{"cryptoplug"}, "algorithms": []string{"ES256"},
			"role_claim": "scope", "role_map": map[string][]string{"hsm.use": {"keyOperation", "keyManagement"}},
			"max_lifetime": "15m",
		}},
		"jwks_ca_file":       idp.caFile,
		"jwt_clock_skew":     "30s",
		"client_ca":          pki.CAFile,
		"ocsp":               []map[string]any{{"ca_file": pki.CAFile, "responder_url": pki.ResponderURL()}},
		"ocsp_fail_open":     failOpen,
		"ocsp_timeout":       "3s",
		"ocsp_max_cache_age": "1ns", // every request asks: a revocation shows at once
	}
	b, err := json.Marshal(cfg)
	require.NoError(t, err)
	path := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return path
}

// startConfigured initialises a data directory and runs the server on the
// configuration file, returning its address and a function that stops it.
func startConfigured(t *testing.T, dir, file string, r *ocsptest.Responder, logs io.Writer) (Config, string, func()) {
	c, err := LoadConfig(flag.NewFlagSet("serve", flag.ContinueOnError),
		[]string{"-config", file, "-data", filepath.Join(dir, "data"), "-backend", "software:", "-listen", "127.0.0.1:0",
			"-audit-log", filepath.Join(dir, "audit.log")}, func(string) string { return "" })
	require.NoError(t, err)
	c.Argon2MemoryKiB = 64
	c.ocspHTTPClient = r.HTTPClient() // the responder lives in its own network namespace
	require.NoError(t, Init(context.Background(), c, InitOptions{CredentialFile: filepath.Join(dir, "admin.cred"), Out: io.Discard}))
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, c, slog.New(slog.NewJSONHandler(logs, nil)), func(a net.Addr) { addr <- a.String() })
	}()
	select {
	case a := <-addr:
		return c, a, func() { cancel(); require.NoError(t, <-done) }
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	}
	return c, "", nil
}

// client returns an HTTPS client trusting the server's certificate and
// presenting cert (if any).
func configClient(t *testing.T, c Config, cert *tls.Certificate) *http.Client {
	pemBytes, err := os.ReadFile(c.TLSCert)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pemBytes))
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
}

func getStatus(t *testing.T, hc *http.Client, addr, path, token string) int {
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestJWTAndOCSPFromConfiguration runs the server as an operator would
// configure it — jwt_issuers with an HTTPS JWKS, jwks_ca_file, a role map;
// client_ca with ocsp — and checks over real TLS: a JWT authenticates with
// the roles its scope maps to; a certificate-bound one only over its
// certificate; a certificate revoked at the real openssl responder is
// refused on the next request; a stopped responder refuses (fail closed),
// or, with ocsp_fail_open, lets through and says so in the log.
func TestJWTAndOCSPFromConfiguration(t *testing.T) {
	dir := t.TempDir()
	idp := newConfigIDP(t, dir)
	pki := ocsptest.NewPKI(t, "configured-ca")
	leaf, other := pki.Issue(t, "client", ""), pki.Issue(t, "other client", "")
	resp := pki.StartResponder(t, ocsptest.ResponderOptions{})
	var logs syncBuf
	c, addr, stop := startConfigured(t, dir, configFile(t, dir, idp, pki, false), resp, &logs)

	plain := configClient(t, c, nil)
	overLeaf, overOther := configClient(t, c, &leaf.TLS), configClient(t, c, &other.TLS)
	tok := idp.token(t, "openid hsm.use", nil)
	require.Equal(t, http.StatusOK, getStatus(t, plain, addr, "/v1/capabilities", tok))
	require.Equal(t, http.StatusOK, getStatus(t, plain, addr, "/v1/key", tok), "keyManagement from the role map")
	require.Equal(t, http.StatusForbidden, getStatus(t, plain, addr, "/sys/v1/users", tok), "no admin in the map")
	require.Equal(t, http.StatusUnauthorized, getStatus(t, plain, addr, "/v1/capabilities", idp.token(t, "openid", nil)), "a scope that maps to no role")

	bound := idp.token(t, "hsm.use", leaf.Cert)
	require.Equal(t, http.StatusOK, getStatus(t, overLeaf, addr, "/v1/capabilities", bound))
	require.Equal(t, http.StatusUnauthorized, getStatus(t, overOther, addr, "/v1/capabilities", bound), "bound to another certificate")
	require.Equal(t, http.StatusUnauthorized, getStatus(t, plain, addr, "/v1/capabilities", bound), "bound, without a certificate")

	pki.Revoke(t, leaf)
	resp.Restart(t)
	require.Equal(t, http.StatusUnauthorized, getStatus(t, overLeaf, addr, "/v1/capabilities", bound), "revoked at the responder")
	require.Equal(t, http.StatusOK, getStatus(t, overOther, addr, "/v1/capabilities", tok), "another certificate of the CA is still good")

	resp.Stop()
	require.Equal(t, http.StatusUnauthorized, getStatus(t, overOther, addr, "/v1/capabilities", tok), "responder unreachable: fail closed")
	stop()
	audit, err := os.ReadFile(filepath.Join(dir, "audit.log"))
	require.NoError(t, err)
	require.Contains(t, string(audit), `"subject":"idp:alice"`)
	for _, secret := range []string{tok, bound} {
		sig := secret[strings.LastIndexByte(secret, '.')+1:]
		require.NotContains(t, string(audit), sig)
		require.NotContains(t, logs.String(), sig)
	}
	require.Contains(t, logs.String(), "certificate revoked", "authn's log says why")

	// The same with ocsp_fail_open, its responder down from the start.
	dir2 := t.TempDir()
	var logs2 syncBuf
	c2, addr2, stop2 := startConfigured(t, dir2, configFile(t, dir2, idp, pki, true), resp, &logs2)
	require.Equal(t, http.StatusOK, getStatus(t, configClient(t, c2, &other.TLS), addr2, "/v1/capabilities", tok), "fail open")
	stop2()
	require.Contains(t, logs2.String(), "failing open")
}

// TestJWTAndOCSPConfigurationRefused: mistakes an operator can make are
// refused at start, naming the setting.
func TestJWTAndOCSPConfigurationRefused(t *testing.T) {
	dir := t.TempDir()
	pki := ocsptest.NewPKI(t, "refused-ca")
	other := ocsptest.NewPKI(t, "untrusted-ca")
	for _, tc := range []struct {
		name, want string
		mod        func(*Config)
	}{
		{"ocsp without client_ca", "ocsp needs client_ca", func(c *Config) { c.ClientCA = "" }},
		{"ocsp for a CA client_ca does not trust", "not one of client_ca's", func(c *Config) { c.OCSP[0].CAFile = other.CAFile }},
		{"missing JWKS file", "jwks_file", func(c *Config) {
			c.JWTIssuers[0].JWKSURL, c.JWTIssuers[0].JWKSFile = "", filepath.Join(dir, "nope.json")
		}},
		{"plain http JWKS", "jwt_issuers", func(c *Config) { c.JWTIssuers[0].JWKSURL = "http://idp.example.test/jwks" }},
		{"HMAC allowed", "jwt_issuers", func(c *Config) { c.JWTIssuers[0].Algorithms = []string{"HS256"} }},
		{"role map to a role that does not exist", "jwt_issuers", func(c *Config) { c.JWTIssuers[0].RoleMap = map[string][]string{"x": {"root"}} }},
		{"a group name, not an ID", "JWT groups", func(c *Config) { c.JWTIssuers[0].Groups = []string{"payments"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{DataDir: filepath.Join(t.TempDir(), "data"), Backend: "software:", ClientCA: pki.CAFile, Argon2MemoryKiB: 64,
				JWTIssuers: []JWTIssuer{{Name: "idp", Issuer: "https://idp.example.test", JWKSURL: "https://idp.example.test/jwks",
					Audiences: []string{"cryptoplug"}, Algorithms: []string{"ES256"}}},
				OCSP: []OCSPCA{{CAFile: pki.CAFile}}}
			tc.mod(&c)
			err := c.Resolve()
			if err == nil {
				err = Init(context.Background(), c, InitOptions{Out: io.Discard})
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

// TestREADMEJWTConfiguration: the README's JWT and OCSP example is a
// configuration file the server reads, field for field, and its issuer is
// one the verifier accepts.
func TestREADMEJWTConfiguration(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(b), "**JWTs and OCSP.**")
	require.True(t, ok, "the README has the JWT and OCSP paragraph")
	_, rest, ok := strings.Cut(after, "```json\n")
	require.True(t, ok)
	block, _, ok := strings.Cut(rest, "```")
	require.True(t, ok)
	file := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(file, []byte(block), 0o600))
	c, err := LoadConfig(flag.NewFlagSet("serve", flag.ContinueOnError), []string{"-config", file, "-data", t.TempDir()},
		func(string) string { return "" })
	require.NoError(t, err, "unknown fields are refused, so every field the README shows exists")
	require.Len(t, c.JWTIssuers, 1)
	require.Equal(t, Duration(15*time.Minute), c.JWTIssuers[0].MaxLifetime)
	require.Len(t, c.OCSP, 1)
	v, groups, err := c.jwtVerifier(nil, nil)
	require.NoError(t, err)
	require.NoError(t, v.Close())
	require.Equal(t, map[string][]string{"idp": {"grp_00000000000000000000000000000000"}}, groups)
}
