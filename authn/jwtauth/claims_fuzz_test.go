package jwtauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	josejson "github.com/go-jose/go-jose/v4/json"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/autherr"
)

// FuzzCheckClaims feeds arbitrary payloads to the claim checks this
// package owns (time window, audience, the principal and role claims with
// their nested paths and role map, jti, the cnf thumbprint), as they run
// after a signature verified: FuzzVerify cannot reach them, since a
// mutated token no longer verifies. An issuer's payload is trusted only
// as far as these checks go, so nothing may panic, every refusal must be
// an authentication failure, and whatever is accepted must hold the
// promised invariants.
func FuzzCheckClaims(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	jwks := filepath.Join(f.TempDir(), "jwks.json")
	require.NoError(f, os.WriteFile(jwks, []byte(`{"keys":[]}`), 0o600))
	roles := []string{"admin", "keyManagement", "keyOperation", "service"}
	v, err := New(Config{RoleNames: roles, Clock: func() time.Time { return now }, CacheSize: -1, ReplayStore: NewMemoryReplayStore(16), Issuers: []Issuer{
		{Name: "plain", Issuer: "https://plain.test", JWKSFile: jwks, Audiences: []string{"cp"}, Algorithms: []string{ES256}},
		{Name: "mapped", Issuer: "https://mapped.test", JWKSFile: jwks, Audiences: []string{"cp"}, Algorithms: []string{ES256},
			PrincipalClaim: "client_id", RoleClaim: "realm_access.roles", RoleMap: map[string][]string{"hsm.sign": {"keyOperation", "service"}},
			RequireTokenID: true, MaxLifetime: 5 * time.Minute},
	}})
	require.NoError(f, err)
	f.Cleanup(func() { v.Close() })
	cert := fuzzCert(f)
	sum := sha256.Sum256(cert.Raw)

	exp, iat := now.Add(time.Minute).Unix(), now.Add(-time.Minute).Unix()
	for n, seed := range []map[string]any{
		{"iss": "https://plain.test", "aud": "cp", "sub": "alice", "exp": exp, "iat": iat, "roles": []string{"admin", "admin", "x"}},
		{"iss": "https://plain.test", "aud": []string{"x", "cp"}, "sub": "bob", "exp": exp, "nbf": iat, "roles": "service keyOperation",
			"cnf": map[string]string{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}},
		{"iss": "https://mapped.test", "aud": "cp", "client_id": "svc", "exp": exp, "jti": "j-1",
			"realm_access": map[string]any{"roles": []string{"hsm.sign"}}},
		{"iss": "https://mapped.test", "aud": "cp", "client_id": "svc", "exp": now.Add(time.Hour).Unix(), "realm_access.roles": "hsm.sign"},
		{"iss": "https://plain.test", "aud": "cp", "sub": "a\u0000b", "exp": 1e300, "roles": []any{1, "admin"}, "cnf": map[string]any{}},
	} {
		b, err := josejson.Marshal(seed)
		require.NoError(f, err)
		f.Add(b, true)
		if n < 3 { // the honest seeds pass, so the checks on acceptance run
			var c claimSet
			var extra rawClaims
			require.NoError(f, josejson.Unmarshal(b, &c))
			require.NoError(f, josejson.Unmarshal(b, &extra))
			accepted := 0
			for _, it := range v.ordered {
				if _, err := v.checkClaims(it, &c, extra, cert); err == nil {
					accepted++
				}
			}
			require.Equal(f, 1, accepted, "seed %d", n)
		}
	}
	f.Fuzz(func(t *testing.T, payload []byte, withCert bool) {
		// As Verify decodes a verified payload (jwt.JSONWebToken.Claims).
		var c claimSet
		var extra rawClaims
		if josejson.Unmarshal(payload, &c) != nil || josejson.Unmarshal(payload, &extra) != nil {
			return
		}
		var presented *x509.Certificate
		if withCert {
			presented = cert
		}
		for _, it := range v.ordered {
			e, err := v.checkClaims(it, &c, extra, presented)
			if err != nil {
				if !errors.Is(err, autherr.ErrUnauthenticated) {
					t.Fatalf("%s: refusal %v is not an authentication failure", it.Name, err)
				}
				continue
			}
			checkAccepted(t, it, e, now, v.cfg.ClockSkew, roles, presented)
		}
	})
}

// checkAccepted fails t unless e, accepted for it, keeps the promises
// Identity and Issuer make.
func checkAccepted(t *testing.T, it *issuer, e *verified, now time.Time, skew time.Duration, roleNames []string, cert *x509.Certificate) {
	t.Helper()
	id := e.id
	s := id.Subject
	if id.Issuer != it.Name || s == "" || len(s) > maxClaimLen || !utf8.ValidString(s) || slices.ContainsFunc([]rune(s), unicode.IsControl) {
		t.Fatalf("%s: accepted subject %q", it.Name, s)
	}
	if len(id.Roles) == 0 || !slices.IsSortedFunc(id.Roles, func(a, b string) int {
		return slices.Index(roleNames, a) - slices.Index(roleNames, b)
	}) || slices.ContainsFunc(id.Roles, func(r string) bool { return !slices.Contains(roleNames, r) }) || len(slices.Compact(slices.Clone(id.Roles))) != len(id.Roles) {
		t.Fatalf("%s: accepted roles %q", it.Name, id.Roles)
	}
	if !now.Before(e.notAfter) || id.ExpiresAt.Sub(now) > it.MaxLifetime+skew || now.Before(e.notBefor) {
		t.Fatalf("%s: accepted outside its window: expires %v, not before %v, now %v", it.Name, id.ExpiresAt, e.notBefor, now)
	}
	if it.RequireTokenID && (id.TokenID == "" || len(id.TokenID) > maxClaimLen) {
		t.Fatalf("%s: accepted jti %q", it.Name, id.TokenID)
	}
	if id.CertBound != (e.bound != nil) || (e.bound != nil && (cert == nil || *e.bound != sha256.Sum256(cert.Raw))) {
		t.Fatalf("%s: accepted a binding the certificate does not meet", it.Name)
	}
}

func fuzzCert(f *testing.F) *x509.Certificate {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(f, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(4_000_000_000, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(f, err)
	c, err := x509.ParseCertificate(der)
	require.NoError(f, err)
	return c
}
