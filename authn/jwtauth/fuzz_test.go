package jwtauth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/autherr"
	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
)

// FuzzVerify feeds arbitrary bytes to the token path: size check, compact
// JWS parsing, header and claim decoding, key choice. Nothing may panic,
// every refusal must be an authentication failure, and whatever is
// accepted must carry a principal and a role.
func FuzzVerify(f *testing.F) {
	c := newClock()
	es, ed := softwareKey(f, jwtauth.ES256), softwareKey(f, jwtauth.EdDSA)
	is := jwtauth.Issuer{Name: "fuzz", Issuer: testIss, JWKSFile: writeJWKS(f, "", es.jwk(false), ed.jwk(true)),
		Audiences: []string{testAud}, Algorithms: []string{jwtauth.ES256, jwtauth.EdDSA}, RequireTokenID: false}
	v, err := jwtauth.New(jwtauth.Config{Issuers: []jwtauth.Issuer{is}, RoleNames: testRoles, Clock: c.now, CacheSize: 64})
	require.NoError(f, err)
	f.Cleanup(func() { v.Close() })
	cert := clientCert(f, "fuzz")

	f.Add(es.mint(f, claims(c, nil)))
	f.Add(ed.mint(f, claims(c, map[string]any{"roles": "admin service", "aud": []string{"x", testAud}})))
	f.Add(es.mint(f, claims(c, map[string]any{"cnf": map[string]string{"x5t#S256": thumbprint(cert)}})))
	f.Add(es.mint(f, claims(c, map[string]any{"realm_access": map[string]any{"roles": []string{"admin"}}})))
	f.Add(unsigned(`{"alg":"none"}`, `{"iss":"`+testIss+`"}`, nil))
	f.Add(unsigned(`{"alg":"ES256","kid":"`+es.kid+`","crit":["b64"],"b64":false}`, `{}`, make([]byte, 64)))
	f.Add(mintWith(f, jose.HS256, []byte("0123456789abcdef0123456789abcdef"), es.kid, claims(c, nil)))
	f.Add(`{"payload":"e30","signatures":[]}`)
	f.Add("..")
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(context.Background(), token, cert)
		if err != nil {
			if !errors.Is(err, autherr.ErrUnauthenticated) {
				t.Fatalf("refusal %v is not an authentication failure", err)
			}
			return
		}
		if id.Subject == "" || len(id.Roles) == 0 || id.Issuer != "fuzz" {
			t.Fatalf("accepted token without principal or role: %+v", id)
		}
	})
}
