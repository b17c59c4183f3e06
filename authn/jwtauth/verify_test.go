package jwtauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/autherr"
	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
	"github.com/cryptoplug/cryptoplug/backend"
)

// TestBackendKeysSignTokens signs tokens with keys held in cryptoplug's
// software backend and in SoftHSM2, through crypto.Signer, for every
// allowed algorithm, and verifies them against a JWKS served over HTTPS.
func TestBackendKeysSignTokens(t *testing.T) {
	for _, bc := range []struct {
		name string
		open func(testing.TB) backend.Backend
	}{
		{"software", func(t testing.TB) backend.Backend { return openBackend(t, "software:") }},
		{"softhsm2", softhsm},
	} {
		t.Run(bc.name, func(t *testing.T) {
			b := bc.open(t)
			c := newClock()
			var keys []*signingKey
			var jwks []jose.JSONWebKey
			for _, alg := range []string{jwtauth.ES256, jwtauth.ES384, jwtauth.RS256, jwtauth.PS256, jwtauth.EdDSA} {
				k := newKey(t, b, alg)
				keys = append(keys, k)
				jwks = append(jwks, k.jwk(false))
			}
			s := newJWKSServer(t, jwks...)
			v := newVerifier(t, c, s, nil, baseIssuer(s))
			for _, k := range keys {
				t.Run(k.alg, func(t *testing.T) {
					tok := k.mint(t, claims(c, map[string]any{"sub": "app-" + k.alg, "roles": []string{"keyOperation", "service", "notARole"}}))
					id, err := v.Verify(context.Background(), tok, nil)
					require.NoError(t, err)
					require.Equal(t, jwtauth.Identity{Issuer: "idp", Subject: "app-" + k.alg, Roles: []string{"keyOperation", "service"},
						ExpiresAt: time.Unix(c.at(10*time.Minute), 0)}, id)
				})
			}
			require.EqualValues(t, 1, s.fetches.Load(), "one JWKS fetch serves every key")
		})
	}
}

// keyring is the set of keys the refusal cases sign with.
type keyring struct {
	c                     *clock
	es, es384, rs, ps, ed *signingKey
	attackerEC            *ecdsa.PrivateKey
	attackerP384          *ecdsa.PrivateKey
	certA, certB          *x509.Certificate
	rsaPublicPEM          []byte
}

func newKeyring(t *testing.T) *keyring {
	b := openBackend(t, "software:")
	k := &keyring{c: newClock(), es: newKey(t, b, jwtauth.ES256), es384: newKey(t, b, jwtauth.ES384), rs: newKey(t, b, jwtauth.RS256),
		ps: newKey(t, b, jwtauth.PS256), ed: newKey(t, b, jwtauth.EdDSA), certA: clientCert(t, "a"), certB: clientCert(t, "b")}
	var err error
	k.attackerEC, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	k.attackerP384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(k.rs.signer.Public())
	require.NoError(t, err)
	k.rsaPublicPEM = append([]byte("-----BEGIN PUBLIC KEY-----\n"+base64.StdEncoding.EncodeToString(der)+"\n-----END PUBLIC KEY-----\n"), der...)
	return k
}

func (k *keyring) jwks() []jose.JSONWebKey {
	return []jose.JSONWebKey{k.es.jwk(false), k.es384.jwk(false), k.rs.jwk(false), k.ps.jwk(false), k.ed.jwk(true)}
}

// unsigned builds a compact JWS by hand with the given header, for
// algorithms no honest library signs with.
func unsigned(header string, payload string, sig []byte) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "." + enc(sig)
}

// TestRefusals covers every reason a token is refused, with accepted
// neighbours that show the check is not over-eager.
func TestRefusals(t *testing.T) {
	k := newKeyring(t)
	c := k.c
	s := newJWKSServer(t, k.jwks()...)
	std := func(changes map[string]any) func(*testing.T) string {
		return func(t *testing.T) string { return k.es.mint(t, claims(c, changes)) }
	}
	cases := []struct {
		name   string
		token  func(t *testing.T) string
		cert   *x509.Certificate
		issuer func(*jwtauth.Issuer)
		uses   int      // Verify calls; the last is checked (default 1)
		want   error    // nil: accepted
		roles  []string // when accepted: the roles granted, if not just keyOperation
	}{
		{name: "valid", token: std(nil)},
		{name: "expired", token: std(map[string]any{"exp": c.at(-2 * time.Minute), "iat": c.at(-time.Hour)}), want: jwtauth.ErrExpired},
		{name: "expired within skew", token: std(map[string]any{"exp": c.at(-30 * time.Second), "iat": c.at(-time.Hour)})},
		{name: "no exp", token: std(map[string]any{"exp": nil}), want: jwtauth.ErrMissingClaim},
		{name: "exp not a number", token: std(map[string]any{"exp": "tomorrow"}), want: jwtauth.ErrMalformed},
		{name: "nbf in the future", token: std(map[string]any{"nbf": c.at(5 * time.Minute)}), want: jwtauth.ErrNotYetValid},
		{name: "nbf within skew", token: std(map[string]any{"nbf": c.at(30 * time.Second)})},
		{name: "iat in the future", token: std(map[string]any{"iat": c.at(5 * time.Minute)}), want: jwtauth.ErrNotYetValid},
		{name: "lifetime too long", token: std(map[string]any{"exp": c.at(3 * time.Hour)}), want: jwtauth.ErrLifetimeTooLong},
		{name: "lifetime raised by issuer", token: std(map[string]any{"exp": c.at(3 * time.Hour)}),
			issuer: func(is *jwtauth.Issuer) { is.MaxLifetime = 4 * time.Hour }},
		{name: "wrong issuer", token: std(map[string]any{"iss": "https://evil.example.test"}), want: jwtauth.ErrUnknownIssuer},
		{name: "no issuer", token: std(map[string]any{"iss": nil}), want: jwtauth.ErrUnknownIssuer},
		{name: "wrong audience", token: std(map[string]any{"aud": "someone-else"}), want: jwtauth.ErrWrongAudience},
		{name: "no audience", token: std(map[string]any{"aud": nil}), want: jwtauth.ErrWrongAudience},
		{name: "audience among several", token: std(map[string]any{"aud": []string{"other", testAud}})},
		{name: "unknown kid", token: func(t *testing.T) string {
			return mintWith(t, jose.ES256, k.attackerEC, "no-such-kid", claims(c, nil))
		}, want: jwtauth.ErrUnknownKeyID},
		{name: "no kid", token: func(t *testing.T) string {
			return mintWith(t, jose.ES256, k.attackerEC, "", claims(c, nil))
		}, want: jwtauth.ErrUnknownKeyID},
		{name: "alg none", token: func(t *testing.T) string {
			return unsigned(`{"alg":"none","kid":"`+k.es.kid+`"}`, `{"iss":"`+testIss+`","aud":"`+testAud+`","sub":"alice","roles":["admin"],"exp":`+itoa(c.at(time.Minute))+`}`, nil)
		}, want: jwtauth.ErrAlgorithmNotAllowed},
		{name: "HS256 keyed with the RSA public key", token: func(t *testing.T) string {
			return mintWith(t, jose.HS256, k.rsaPublicPEM, k.rs.kid, claims(c, nil))
		}, want: jwtauth.ErrAlgorithmNotAllowed},
		{name: "ES512 not on any allow-list", token: func(t *testing.T) string {
			p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
			require.NoError(t, err)
			return mintWith(t, jose.ES512, p521, k.es.kid, claims(c, nil))
		}, want: jwtauth.ErrAlgorithmNotAllowed},
		{name: "alg allowed elsewhere but not for this issuer", token: func(t *testing.T) string { return k.ed.mint(t, claims(c, nil)) },
			issuer: func(is *jwtauth.Issuer) { is.Algorithms = []string{jwtauth.ES256} }, want: jwtauth.ErrAlgorithmNotAllowed},
		{name: "ES384 header on a P-256 kid", token: func(t *testing.T) string {
			return mintWith(t, jose.ES384, k.attackerP384, k.es.kid, claims(c, nil))
		}, want: jwtauth.ErrAlgorithmConfused},
		{name: "RS256 header on an EC kid", token: func(t *testing.T) string {
			return mintWith(t, jose.RS256, attackerRSA(t), k.es.kid, claims(c, nil))
		}, want: jwtauth.ErrAlgorithmConfused},
		{name: "EdDSA header on an RSA kid", token: func(t *testing.T) string {
			_, ed, err := ed25519.GenerateKey(rand.Reader)
			require.NoError(t, err)
			return mintWith(t, jose.EdDSA, ed, k.rs.kid, claims(c, nil))
		}, want: jwtauth.ErrAlgorithmConfused},
		{name: "PS256 with a key whose JWK says RS256", token: func(t *testing.T) string {
			return mintWith(t, jose.PS256, cryptosigner.Opaque(k.rs.signer), k.rs.kid, claims(c, nil))
		}, want: jwtauth.ErrAlgorithmConfused},
		{name: "PS256 key", token: func(t *testing.T) string { return k.ps.mint(t, claims(c, nil)) }},
		{name: "EdDSA key whose JWK has no alg", token: func(t *testing.T) string { return k.ed.mint(t, claims(c, nil)) }},
		{name: "signed by another key under a real kid", token: func(t *testing.T) string {
			return mintWith(t, jose.ES256, k.attackerEC, k.es.kid, claims(c, nil))
		}, want: jwtauth.ErrBadSignature},
		{name: "attacker key embedded as jwk header", token: func(t *testing.T) string {
			return mintWith(t, jose.ES256, k.attackerEC, k.es.kid, claims(c, nil), func(o *jose.SignerOptions) { o.EmbedJWK = true })
		}, want: jwtauth.ErrBadSignature},
		{name: "signature bit flipped", token: func(t *testing.T) string {
			tok := k.es.mint(t, claims(c, nil))
			i := strings.LastIndexByte(tok, '.') + 5
			return tok[:i] + flip(tok[i]) + tok[i+1:]
		}, want: jwtauth.ErrBadSignature},
		{name: "payload swapped after signing", token: func(t *testing.T) string {
			tok := k.es.mint(t, claims(c, nil))
			parts := strings.Split(tok, ".")
			evil := k.es.mint(t, claims(c, map[string]any{"roles": []string{"admin"}}))
			return parts[0] + "." + strings.Split(evil, ".")[1] + "." + parts[2]
		}, want: jwtauth.ErrBadSignature},
		{name: "oversized", token: std(map[string]any{"pad": strings.Repeat("x", jwtauth.DefaultMaxTokenSize)}), want: jwtauth.ErrOversized},
		{name: "empty", token: func(*testing.T) string { return "" }, want: jwtauth.ErrMalformed},
		{name: "two parts", token: func(*testing.T) string { return "eyJhbGciOiJFUzI1NiJ9.e30" }, want: jwtauth.ErrMalformed},
		{name: "four parts", token: func(t *testing.T) string { return k.es.mint(t, claims(c, nil)) + ".x" }, want: jwtauth.ErrMalformed},
		{name: "bad base64", token: func(*testing.T) string { return "e!!.e30.AAAA" }, want: jwtauth.ErrMalformed},
		{name: "JSON serialization", token: func(*testing.T) string {
			return `{"payload":"e30","protected":"eyJhbGciOiJFUzI1NiJ9","signature":"AAAA"}`
		}, want: jwtauth.ErrMalformed},
		{name: "payload not JSON", token: func(*testing.T) string {
			return unsigned(`{"alg":"ES256","kid":"x"}`, `not json`, []byte{1})
		}, want: jwtauth.ErrMalformed},
		{name: "unknown critical header", token: func(t *testing.T) string {
			return k.es.mint(t, claims(c, nil), func(o *jose.SignerOptions) {
				o.WithHeader("crit", []string{"urn:example:must-understand"}).WithHeader("urn:example:must-understand", true)
			})
		}, want: jwtauth.ErrMalformed},
		{name: "no sub", token: std(map[string]any{"sub": nil}), want: jwtauth.ErrMissingClaim},
		{name: "sub not a string", token: std(map[string]any{"sub": 42}), want: jwtauth.ErrMalformed},
		{name: "principal claim not a string", token: std(map[string]any{"client_id": []string{"a"}}),
			issuer: func(is *jwtauth.Issuer) { is.PrincipalClaim = "client_id" }, want: jwtauth.ErrMissingClaim},
		{name: "sub with a control character", token: std(map[string]any{"sub": "alice\nadmin"}), want: jwtauth.ErrMissingClaim},
		{name: "sub overlong", token: std(map[string]any{"sub": strings.Repeat("a", 257)}), want: jwtauth.ErrMissingClaim},
		{name: "principal from another claim", token: std(map[string]any{"sub": nil, "client_id": "svc-1"}),
			issuer: func(is *jwtauth.Issuer) { is.PrincipalClaim = "client_id" }},
		{name: "no role claim", token: std(map[string]any{"roles": nil}), want: jwtauth.ErrMissingRole},
		{name: "roles all unknown", token: std(map[string]any{"roles": []string{"root", "Admin"}}), want: jwtauth.ErrMissingRole},
		{name: "roles not strings", token: std(map[string]any{"roles": []int{1, 2}}), want: jwtauth.ErrMissingRole},
		{name: "roles as a space-separated string", token: std(map[string]any{"roles": "service keyOperation"}), roles: []string{"keyOperation", "service"}},
		{name: "nested role claim", token: std(map[string]any{"roles": nil, "realm_access": map[string]any{"roles": []string{"admin"}}}),
			issuer: func(is *jwtauth.Issuer) { is.RoleClaim = "realm_access.roles" }, roles: []string{"admin"}},
		{name: "role claim name with dots", token: std(map[string]any{"roles": nil, "https://example.test/roles": []string{"admin"}}),
			issuer: func(is *jwtauth.Issuer) { is.RoleClaim = "https://example.test/roles" }, roles: []string{"admin"}},
		{name: "role map grants", token: std(map[string]any{"roles": nil, "scope": "hsm.sign openid"}),
			issuer: func(is *jwtauth.Issuer) {
				is.RoleClaim, is.RoleMap = "scope", map[string][]string{"hsm.sign": {"keyOperation", "service"}}
			}, roles: []string{"keyOperation", "service"}},
		{name: "role map ignores raw role names", token: std(map[string]any{"roles": []string{"admin"}}),
			issuer: func(is *jwtauth.Issuer) { is.RoleMap = map[string][]string{"hsm.sign": {"keyOperation"}} }, want: jwtauth.ErrMissingRole},
		{name: "jti required but absent", token: std(nil), issuer: requireJTI, want: jwtauth.ErrMissingClaim},
		{name: "jti used once", token: std(map[string]any{"jti": "t-1"}), issuer: requireJTI},
		{name: "jti replayed", token: std(map[string]any{"jti": "t-2"}), issuer: requireJTI, uses: 2, want: jwtauth.ErrReplay},
		{name: "no jti needed: reuse is fine", token: std(map[string]any{"jti": "t-3"}), uses: 3},
		{name: "bound token over its certificate", token: std(map[string]any{"cnf": map[string]string{"x5t#S256": thumbprint(k.certA)}}), cert: k.certA, uses: 2},
		{name: "bound token without a certificate", token: std(map[string]any{"cnf": map[string]string{"x5t#S256": thumbprint(k.certA)}}), want: jwtauth.ErrBindingMismatch},
		{name: "bound token over another certificate", token: std(map[string]any{"cnf": map[string]string{"x5t#S256": thumbprint(k.certA)}}), cert: k.certB, want: jwtauth.ErrBindingMismatch},
		{name: "cnf by key thumbprint only", token: std(map[string]any{"cnf": map[string]string{"jkt": "abc"}}), cert: k.certA, want: jwtauth.ErrBindingMismatch},
		{name: "cnf thumbprint not base64url", token: std(map[string]any{"cnf": map[string]string{"x5t#S256": "!!"}}), cert: k.certA, want: jwtauth.ErrMalformed},
		{name: "cnf thumbprint wrong length", token: std(map[string]any{"cnf": map[string]string{"x5t#S256": "AAAA"}}), cert: k.certA, want: jwtauth.ErrMalformed},
		{name: "binding required, token unbound", token: std(nil), cert: k.certA,
			issuer: func(is *jwtauth.Issuer) { is.RequireCertBinding = true }, want: jwtauth.ErrBindingMismatch},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			is := baseIssuer(s)
			if tc.issuer != nil {
				tc.issuer(&is)
			}
			v := newVerifier(t, c, s, nil, is)
			tok := tc.token(t)
			var err error
			var id jwtauth.Identity
			for range max(tc.uses, 1) {
				id, err = v.Verify(context.Background(), tok, tc.cert)
			}
			if tc.want == nil {
				require.NoError(t, err)
				require.Equal(t, "idp", id.Issuer)
				require.Equal(t, tc.cert != nil && strings.Contains(tc.name, "bound"), id.CertBound)
				if tc.roles == nil {
					tc.roles = []string{"keyOperation"}
				}
				require.Equal(t, tc.roles, id.Roles)
				return
			}
			require.ErrorIs(t, err, tc.want)
			require.ErrorIs(t, err, autherr.ErrUnauthenticated)
			var je *jwtauth.Error
			require.True(t, errors.As(err, &je), "refusals are *jwtauth.Error")
			if len(tok) > 20 {
				require.NotContains(t, err.Error(), tok[len(tok)-20:], "the error never carries the token")
			}
		})
	}
}

func requireJTI(is *jwtauth.Issuer) { is.RequireTokenID = true }

func flip(b byte) string {
	if b == 'A' {
		return "B"
	}
	return "A"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestErrorsHoldNothingTheCallerChose: refusals go to logs, so they must
// not carry the token's unverified header or claims.
func TestErrorsHoldNothingTheCallerChose(t *testing.T) {
	k := newKeyring(t)
	c := k.c
	s := newJWKSServer(t, k.jwks()...)
	v := newVerifier(t, c, s, nil, baseIssuer(s))
	const marker = "MARKER-7f3a"
	for _, tok := range []string{
		unsigned(`{"alg":"`+marker+`","kid":"`+marker+`"}`, `{"iss":"`+marker+`"}`, nil),
		unsigned(`{"alg":"ES256","kid":"`+marker+`"}`, `{"iss":"`+testIss+`"}`, make([]byte, 64)),
		unsigned(`{"alg":"ES256","kid":"`+marker+`"}`, `{"iss":"`+marker+`"}`, make([]byte, 64)),
		unsigned(`{"alg":"ES256","kid":"`+marker+`"}`, `not json `+marker, nil),
		unsigned(`{"alg":"HS256","kid":"`+marker+`"}`, `{"iss":"`+testIss+`"}`, make([]byte, 32)),
		mintWith(t, jose.ES256, k.attackerEC, marker, claims(c, nil)),
		marker + "." + marker + "." + marker,
	} {
		_, err := v.Verify(context.Background(), tok, nil)
		require.ErrorIs(t, err, autherr.ErrUnauthenticated)
		require.NotContains(t, err.Error(), marker)
	}
}
