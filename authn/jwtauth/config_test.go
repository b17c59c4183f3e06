package jwtauth_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/autherr"
	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
)

func TestConfigRefused(t *testing.T) {
	good := func() jwtauth.Config {
		return jwtauth.Config{RoleNames: testRoles, Issuers: []jwtauth.Issuer{{
			Name: "idp", Issuer: testIss, JWKSURL: "https://idp.example.test/jwks", Audiences: []string{testAud}, Algorithms: []string{jwtauth.ES256},
		}}}
	}
	v, err := jwtauth.New(good())
	require.NoError(t, err)
	require.NoError(t, v.Close())

	for _, tc := range []struct {
		name string
		mod  func(*jwtauth.Config)
	}{
		{"no issuers", func(c *jwtauth.Config) { c.Issuers = nil }},
		{"no role names", func(c *jwtauth.Config) { c.RoleNames = nil }},
		{"bad issuer name", func(c *jwtauth.Config) { c.Issuers[0].Name = "IdP One" }},
		{"issuer name too long", func(c *jwtauth.Config) { c.Issuers[0].Name = "abcdefghijabcdefghijabcdefghijabc" }},
		{"issuer twice", func(c *jwtauth.Config) { c.Issuers = append(c.Issuers, c.Issuers[0]) }},
		{"same iss under two names", func(c *jwtauth.Config) { i := c.Issuers[0]; i.Name = "other"; c.Issuers = append(c.Issuers, i) }},
		{"no iss", func(c *jwtauth.Config) { c.Issuers[0].Issuer = "" }},
		{"no JWKS", func(c *jwtauth.Config) { c.Issuers[0].JWKSURL = "" }},
		{"file and URL", func(c *jwtauth.Config) { c.Issuers[0].JWKSFile = "/etc/jwks.json" }},
		{"plain http JWKS", func(c *jwtauth.Config) { c.Issuers[0].JWKSURL = "http://idp.example.test/jwks" }},
		{"JWKS URL with userinfo", func(c *jwtauth.Config) { c.Issuers[0].JWKSURL = "https://u:p@idp.example.test/jwks" }},
		{"no audience", func(c *jwtauth.Config) { c.Issuers[0].Audiences = nil }},
		{"empty audience", func(c *jwtauth.Config) { c.Issuers[0].Audiences = []string{""} }},
		{"no algorithm", func(c *jwtauth.Config) { c.Issuers[0].Algorithms = nil }},
		{"none", func(c *jwtauth.Config) { c.Issuers[0].Algorithms = []string{"none"} }},
		{"HMAC", func(c *jwtauth.Config) { c.Issuers[0].Algorithms = []string{"HS256"} }},
		{"ES512", func(c *jwtauth.Config) { c.Issuers[0].Algorithms = []string{"ES512"} }},
		{"algorithm in lower case", func(c *jwtauth.Config) { c.Issuers[0].Algorithms = []string{"es256"} }},
		{"role map to unknown role", func(c *jwtauth.Config) { c.Issuers[0].RoleMap = map[string][]string{"x": {"root"}} }},
		{"jti without replay store", func(c *jwtauth.Config) { c.Issuers[0].RequireTokenID = true }},
		{"lifetime over 24h", func(c *jwtauth.Config) { c.Issuers[0].MaxLifetime = 25 * time.Hour }},
		{"skew over 5m", func(c *jwtauth.Config) { c.ClockSkew = 6 * time.Minute }},
		{"negative skew", func(c *jwtauth.Config) { c.ClockSkew = -time.Second }},
		{"token size too large", func(c *jwtauth.Config) { c.MaxTokenSize = jwtauth.MaxMaxTokenSize + 1 }},
		{"token size too small", func(c *jwtauth.Config) { c.MaxTokenSize = 10 }},
		{"refresh below min refresh", func(c *jwtauth.Config) { c.RefreshInterval = time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			tc.mod(&c)
			_, err := jwtauth.New(c)
			require.ErrorIs(t, err, autherr.ErrInvalidArgument)
		})
	}
}
