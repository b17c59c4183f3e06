package jwtauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/pkcs11"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
)

const (
	testIss = "https://idp.example.test"
	testAud = "cryptoplug"
)

var testRoles = []string{"keyManagement", "keyOperation", "approver", "service", "approverKeyManagement", "admin"}

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock { c := &clock{}; c.set(time.Now()); return c }

func (c *clock) now() time.Time           { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time)          { c.ns.Store(t.UnixNano()) }
func (c *clock) advance(d time.Duration)  { c.ns.Add(int64(d)) }
func (c *clock) at(d time.Duration) int64 { return c.now().Add(d).Unix() }

// signingKey is a key held in a cryptoplug backend, signing JWTs through
// its crypto.Signer.
type signingKey struct {
	kid    string
	alg    string
	signer crypto.Signer
}

var backendAlgorithm = map[string]backend.Algorithm{
	jwtauth.ES256: backend.ECDSAP256, jwtauth.ES384: backend.ECDSAP384,
	jwtauth.RS256: backend.RSA2048, jwtauth.PS256: backend.RSA2048, jwtauth.EdDSA: backend.Ed25519,
}

// openBackend opens uri for the test and closes it at the end.
func openBackend(t testing.TB, uri string) backend.Backend {
	t.Helper()
	b, err := backend.Open(context.Background(), uri)
	require.NoError(t, err, "open backend %s", uri)
	t.Cleanup(func() { require.NoError(t, b.Close()) })
	return b
}

// softhsm opens a fresh SoftHSM2 token.
func softhsm(t testing.TB) backend.Backend {
	t.Helper()
	return openBackend(t, softhsmtest.NewToken(t))
}

var keySeq atomic.Int64

// newKey generates a key for alg in b.
func newKey(t testing.TB, b backend.Backend, alg string) *signingKey {
	t.Helper()
	n := keySeq.Add(1)
	label := "jwt-" + alg + "-" + big.NewInt(n).String()
	k, err := b.GenerateKey(context.Background(), backend.KeySpec{Algorithm: backendAlgorithm[alg], Label: label})
	require.NoError(t, err)
	s, err := k.Signer()
	require.NoError(t, err)
	return &signingKey{kid: label, alg: alg, signer: s}
}

// softwareKey is a key in cryptoplug's in-memory software backend.
func softwareKey(t testing.TB, alg string) *signingKey {
	t.Helper()
	return newKey(t, openBackend(t, "software:"), alg)
}

// jwk is the key's public JWK, with its alg unless noAlg.
func (k *signingKey) jwk(noAlg bool) jose.JSONWebKey {
	j := jose.JSONWebKey{Key: k.signer.Public(), KeyID: k.kid, Use: "sig", Algorithm: k.alg}
	if noAlg {
		j.Algorithm = ""
	}
	return j
}

// mint signs claims with the key: alg and kid headers from the key unless
// opts change them.
func (k *signingKey) mint(t testing.TB, claims map[string]any, opts ...func(*jose.SignerOptions)) string {
	t.Helper()
	return mintWith(t, jose.SignatureAlgorithm(k.alg), cryptosigner.Opaque(k.signer), k.kid, claims, opts...)
}

func mintWith(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any, opts ...func(*jose.SignerOptions)) string {
	t.Helper()
	o := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		o = o.WithHeader("kid", kid)
	}
	for _, f := range opts {
		f(o)
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, o)
	require.NoError(t, err)
	tok, err := jwt.Signed(sig).Claims(claims).Serialize()
	require.NoError(t, err)
	return tok
}

// claims returns valid claims at clock c, with changes applied (a nil
// value deletes the claim).
func claims(c *clock, changes map[string]any) map[string]any {
	m := map[string]any{
		"iss": testIss, "aud": testAud, "sub": "alice", "roles": []string{"keyOperation"},
		"iat": c.at(0), "exp": c.at(10 * time.Minute),
	}
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// jwksServer serves a JWKS over HTTPS on loopback and counts fetches.
type jwksServer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	doc     []byte
	status  int
	fetches atomic.Int32
}

func newJWKSServer(t testing.TB, keys ...jose.JSONWebKey) *jwksServer {
	t.Helper()
	s := &jwksServer{status: http.StatusOK}
	s.publish(t, keys...)
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		doc, status := s.doc, s.status
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.WriteHeader(status)
		w.Write(doc)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) publish(t testing.TB, keys ...jose.JSONWebKey) {
	t.Helper()
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	require.NoError(t, err)
	s.publishRaw(doc, http.StatusOK)
}

func (s *jwksServer) publishRaw(doc []byte, status int) {
	s.mu.Lock()
	s.doc, s.status = doc, status
	s.mu.Unlock()
}

func (s *jwksServer) url() string { return s.srv.URL + "/.well-known/jwks.json" }

// writeJWKS writes a JWKS file in a temp dir and returns its path.
func writeJWKS(t testing.TB, path string, keys ...jose.JSONWebKey) string {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "jwks.json")
	}
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, doc, 0o600))
	return path
}

// baseIssuer is the test issuer's configuration, over the JWKS server s.
func baseIssuer(s *jwksServer) jwtauth.Issuer {
	return jwtauth.Issuer{
		Name: "idp", Issuer: testIss, JWKSURL: s.url(), Audiences: []string{testAud},
		Algorithms: []string{jwtauth.ES256, jwtauth.ES384, jwtauth.RS256, jwtauth.PS256, jwtauth.EdDSA},
	}
}

// newVerifier returns a verifier over issuers, fetching through s's
// client, at clock c.
func newVerifier(t testing.TB, c *clock, s *jwksServer, mod func(*jwtauth.Config), issuers ...jwtauth.Issuer) *jwtauth.Verifier {
	t.Helper()
	cfg := jwtauth.Config{
		Issuers: issuers, RoleNames: testRoles, Clock: c.now,
		ReplayStore: jwtauth.NewMemoryReplayStore(1000),
	}
	if s != nil {
		cfg.HTTPClient = s.srv.Client()
	}
	if mod != nil {
		mod(&cfg)
	}
	v, err := jwtauth.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { v.Close() })
	return v
}

// clientCert returns a self-signed client certificate.
func clientCert(t testing.TB, cn string) *x509.Certificate {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert
}

func thumbprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// attackerRSA is an RSA key outside any backend, for forged tokens.
func attackerRSA(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return k
}
