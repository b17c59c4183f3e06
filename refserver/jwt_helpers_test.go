package refserver_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
	"github.com/cryptoplug/cryptoplug/backend"
)

const (
	idpIssuer   = "https://idp.example.test"
	idpAudience = "cryptoplug"
)

// idp is an identity provider for the server's tests: its signing key is
// held in cryptoplug's software backend and used through crypto.Signer;
// its JWKS is a file (the HTTPS JWKS is exercised by jwtauth and by the
// configuration test).
type idp struct {
	kid  string
	key  crypto.Signer
	jwks string
}

func newIDP(t testing.TB) *idp {
	t.Helper()
	b, err := backend.Open(context.Background(), "software:")
	require.NoError(t, err)
	t.Cleanup(func() { b.Close() })
	k, err := b.GenerateKey(context.Background(), backend.KeySpec{Algorithm: backend.Ed25519, Label: "idp"})
	require.NoError(t, err)
	s, err := k.Signer()
	require.NoError(t, err)
	i := &idp{kid: "idp-ed25519", key: s, jwks: filepath.Join(t.TempDir(), "jwks.json")}
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: s.Public(), KeyID: i.kid, Use: "sig", Algorithm: "EdDSA"}}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(i.jwks, doc, 0o600))
	return i
}

// issuer is i's configuration as issuer "idp".
func (i *idp) issuer(mod func(*jwtauth.Issuer)) jwtauth.Issuer {
	is := jwtauth.Issuer{Name: "idp", Issuer: idpIssuer, JWKSFile: i.jwks, Audiences: []string{idpAudience}, Algorithms: []string{jwtauth.EdDSA}}
	if mod != nil {
		mod(&is)
	}
	return is
}

// token signs a JWT for subject "alice" holding roles, valid for ten
// minutes, with changes applied (nil deletes a claim).
func (i *idp) token(t testing.TB, roles []authn.Role, changes map[string]any) string {
	t.Helper()
	names := make([]string, len(roles))
	for n, r := range roles {
		names[n] = r.String()
	}
	now := time.Now()
	c := map[string]any{"iss": idpIssuer, "aud": idpAudience, "sub": "alice", "roles": names, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	for k, v := range changes {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: cryptosigner.Opaque(i.key)}, (&jose.SignerOptions{}).WithHeader("kid", i.kid))
	require.NoError(t, err)
	s, err := jwt.Signed(sig).Claims(c).Serialize()
	require.NoError(t, err)
	return s
}

// boundTo is the RFC 8705 confirmation claim binding a token to cert.
func boundTo(cert *x509.Certificate) map[string]string {
	sum := sha256.Sum256(cert.Raw)
	return map[string]string{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}
}
