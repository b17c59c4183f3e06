package jwtauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/autherr"
	"github.com/cryptoplug/cryptoplug/authn/jwtauth"
)

// TestKeyRotation follows an issuer rotating its keys behind an HTTPS JWKS:
// a new kid is fetched on first sight, unknown kids cannot make the
// verifier fetch more than once per MinRefreshInterval, and a key the
// issuer withdrew stops working even for tokens verified (and cached)
// before.
func TestKeyRotation(t *testing.T) {
	c := newClock()
	a, b := softwareKey(t, jwtauth.ES256), softwareKey(t, jwtauth.EdDSA)
	s := newJWKSServer(t, a.jwk(false))
	v := newVerifier(t, c, s, nil, baseIssuer(s))
	ctx := context.Background()

	tokA := a.mint(t, claims(c, nil))
	_, err := v.Verify(ctx, tokA, nil)
	require.NoError(t, err)
	require.EqualValues(t, 1, s.fetches.Load())

	// The issuer adds b; its first token triggers a refresh.
	s.publish(t, a.jwk(false), b.jwk(false))
	c.advance(time.Minute)
	_, err = v.Verify(ctx, b.mint(t, claims(c, nil)), nil)
	require.NoError(t, err)
	require.EqualValues(t, 2, s.fetches.Load())

	// A flood of unknown kids, concurrently: no fetch until the interval
	// has passed, then exactly one.
	forged := func(kid string) string {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		return mintWith(t, jose.ES256, k, kid, claims(c, nil))
	}
	flood := func() {
		var wg sync.WaitGroup
		errs := make([]error, 16)
		for i := range errs {
			wg.Go(func() { _, errs[i] = v.Verify(ctx, forged("kid-"+itoa(int64(i))), nil) })
		}
		wg.Wait()
		for _, err := range errs {
			require.ErrorIs(t, err, jwtauth.ErrUnknownKeyID)
		}
	}
	flood()
	require.EqualValues(t, 2, s.fetches.Load(), "refreshed too recently to fetch again")
	c.advance(time.Minute)
	flood()
	require.EqualValues(t, 3, s.fetches.Load(), "one fetch for the whole flood")

	// The issuer withdraws a. Its cached token still passes until the
	// verifier learns of the withdrawal; then it is refused.
	s.publish(t, b.jwk(false))
	_, err = v.Verify(ctx, tokA, nil)
	require.NoError(t, err, "cached, and the verifier has not refreshed yet")
	c.advance(time.Minute)
	_, err = v.Verify(ctx, forged("trigger-refresh"), nil)
	require.ErrorIs(t, err, jwtauth.ErrUnknownKeyID)
	require.EqualValues(t, 4, s.fetches.Load())
	_, err = v.Verify(ctx, tokA, nil)
	require.ErrorIs(t, err, jwtauth.ErrUnknownKeyID, "a withdrawn key's cached verifications no longer count")
}

// TestBackgroundRefresh checks that keys older than RefreshInterval are
// fetched again without failing requests, and that a failed fetch keeps
// the keys the verifier has.
func TestBackgroundRefresh(t *testing.T) {
	c := newClock()
	a := softwareKey(t, jwtauth.ES256)
	s := newJWKSServer(t, a.jwk(false))
	v := newVerifier(t, c, s, func(cfg *jwtauth.Config) { cfg.CacheSize = -1 }, baseIssuer(s))
	ctx := context.Background()
	require.NoError(t, v.Load(ctx))
	require.EqualValues(t, 1, s.fetches.Load())

	s.publishRaw([]byte("server error"), http.StatusInternalServerError)
	c.advance(2 * time.Hour)
	_, err := v.Verify(ctx, a.mint(t, claims(c, nil)), nil)
	require.NoError(t, err, "old keys serve while the refresh runs")
	jwtauth.WaitRefreshes(v)
	require.EqualValues(t, 2, s.fetches.Load())
	_, err = v.Verify(ctx, a.mint(t, claims(c, nil)), nil)
	require.NoError(t, err, "a failed refresh keeps the keys")
}

// TestKeySetRefused covers key sets the verifier must not use.
func TestKeySetRefused(t *testing.T) {
	c := newClock()
	good := softwareKey(t, jwtauth.ES256)
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	require.NoError(t, err)
	raw := func(keys ...jose.JSONWebKey) []byte {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
		require.NoError(t, err)
		return b
	}
	for _, tc := range []struct {
		name   string
		doc    []byte
		status int
		usable bool // good's token verifies
	}{
		{name: "private key published", doc: raw(good.jwk(false), jose.JSONWebKey{Key: ecPriv, KeyID: "leak"})},
		{name: "symmetric key published", doc: raw(good.jwk(false), jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "hmac"})},
		{name: "not JSON", doc: []byte("<html>")},
		{name: "no keys", doc: []byte(`{"keys":[]}`)},
		{name: "HTTP 404", doc: raw(good.jwk(false)), status: http.StatusNotFound},
		{name: "oversized", doc: append(raw(good.jwk(false))[:10], []byte(strings.Repeat(" ", jwtauth.DefaultMaxJWKSSize))...)},
		{name: "too many keys", doc: []byte(`{"keys":[` + strings.Repeat(`{},`, jwtauth.MaxJWKSKeys) + `{}]}`)},
		{name: "unusable keys skipped, good key used", usable: true, doc: raw(good.jwk(false),
			jose.JSONWebKey{Key: &rsa1024.PublicKey, KeyID: "small"}, jose.JSONWebKey{Key: &p521.PublicKey, KeyID: "p521"},
			jose.JSONWebKey{Key: &ecPriv.PublicKey, KeyID: "enc", Use: "enc"}, jose.JSONWebKey{Key: &ecPriv.PublicKey},
			jose.JSONWebKey{Key: &ecPriv.PublicKey, KeyID: "es512", Algorithm: "ES512"})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newJWKSServer(t)
			s.publishRaw(tc.doc, max(tc.status, http.StatusOK))
			v := newVerifier(t, c, s, nil, baseIssuer(s))
			loadErr := v.Load(context.Background())
			_, err := v.Verify(context.Background(), good.mint(t, claims(c, nil)), nil)
			if tc.usable {
				require.NoError(t, loadErr)
				require.NoError(t, err)
				return
			}
			require.Error(t, loadErr)
			require.ErrorIs(t, err, jwtauth.ErrKeysUnavailable)
			require.ErrorIs(t, err, autherr.ErrUnauthenticated)
		})
	}
}

// TestJWKSOverUntrustedTLS: the default HTTP client trusts the system
// roots only, so the test server's certificate is refused.
func TestJWKSOverUntrustedTLS(t *testing.T) {
	c := newClock()
	a := softwareKey(t, jwtauth.ES256)
	s := newJWKSServer(t, a.jwk(false))
	v := newVerifier(t, c, nil, nil, baseIssuer(s))
	err := v.Load(context.Background())
	require.ErrorContains(t, err, "certificate")
	_, err = v.Verify(context.Background(), a.mint(t, claims(c, nil)), nil)
	require.ErrorIs(t, err, jwtauth.ErrKeysUnavailable)
	require.Zero(t, s.fetches.Load(), "no request completed")
}

// TestJWKSFile reads keys from a file and rotates by rewriting it.
func TestJWKSFile(t *testing.T) {
	c := newClock()
	a, b := softwareKey(t, jwtauth.RS256), softwareKey(t, jwtauth.ES384)
	path := writeJWKS(t, "", a.jwk(false))
	is := jwtauth.Issuer{Name: "file-idp", Issuer: testIss, JWKSFile: path, Audiences: []string{testAud}, Algorithms: []string{jwtauth.RS256, jwtauth.ES384}}
	v := newVerifier(t, c, nil, nil, is)
	ctx := context.Background()
	require.NoError(t, v.Load(ctx))
	id, err := v.Verify(ctx, a.mint(t, claims(c, nil)), nil)
	require.NoError(t, err)
	require.Equal(t, "file-idp", id.Issuer)

	writeJWKS(t, path, a.jwk(false), b.jwk(false))
	c.advance(time.Minute)
	_, err = v.Verify(ctx, b.mint(t, claims(c, nil)), nil)
	require.NoError(t, err, "an unknown kid re-reads the file")

	require.NoError(t, os.Remove(path))
	c.advance(time.Minute)
	_, err = v.Verify(ctx, a.mint(t, claims(c, map[string]any{"sub": "bob"})), nil)
	require.NoError(t, err, "a vanished file keeps the keys read before")
}

// TestCacheRechecks: a cached token is still checked for time and binding
// on every use, and not cached at all when its ID must be single-use.
func TestCacheRechecks(t *testing.T) {
	c := newClock()
	a := softwareKey(t, jwtauth.ES256)
	s := newJWKSServer(t, a.jwk(false))
	v := newVerifier(t, c, s, nil, baseIssuer(s))
	ctx := context.Background()
	certA, certB := clientCert(t, "a"), clientCert(t, "b")

	tok := a.mint(t, claims(c, map[string]any{"cnf": map[string]string{"x5t#S256": thumbprint(certA)}}))
	id, err := v.Verify(ctx, tok, certA)
	require.NoError(t, err)
	require.True(t, id.CertBound)
	require.Equal(t, 1, jwtauth.CacheLen(v))
	_, err = v.Verify(ctx, tok, certB)
	require.ErrorIs(t, err, jwtauth.ErrBindingMismatch)
	_, err = v.Verify(ctx, tok, nil)
	require.ErrorIs(t, err, jwtauth.ErrBindingMismatch)
	_, err = v.Verify(ctx, tok, certA)
	require.NoError(t, err)
	c.advance(11 * time.Minute) // exp was +10m, skew 1m
	_, err = v.Verify(ctx, tok, certA)
	require.ErrorIs(t, err, jwtauth.ErrExpired)

	nbf := a.mint(t, claims(c, map[string]any{"nbf": c.at(30 * time.Second)}))
	_, err = v.Verify(ctx, nbf, nil)
	require.NoError(t, err, "within skew")
	c.set(c.now().Add(-5 * time.Minute)) // the clock steps back
	_, err = v.Verify(ctx, nbf, nil)
	require.ErrorIs(t, err, jwtauth.ErrNotYetValid, "the cached token's nbf is checked again")

	is := baseIssuer(s)
	is.RequireTokenID = true
	v2 := newVerifier(t, c, s, nil, is)
	_, err = v2.Verify(ctx, a.mint(t, claims(c, map[string]any{"jti": "once"})), nil)
	require.NoError(t, err)
	require.Zero(t, jwtauth.CacheLen(v2), "single-use tokens are never cached")
}

// TestReplayAcrossVerifiers: two verifiers sharing one replay store (as two
// server instances share the authn database) accept a token once between
// them, however the uses race.
func TestReplayAcrossVerifiers(t *testing.T) {
	c := newClock()
	a := softwareKey(t, jwtauth.ES256)
	s := newJWKSServer(t, a.jwk(false))
	is := baseIssuer(s)
	is.RequireTokenID = true
	store := jwtauth.NewMemoryReplayStore(100)
	shared := func(cfg *jwtauth.Config) { cfg.ReplayStore = store }
	v1, v2 := newVerifier(t, c, s, shared, is), newVerifier(t, c, s, shared, is)
	tok := a.mint(t, claims(c, map[string]any{"jti": "race"}))
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		v := v1
		if i%2 == 1 {
			v = v2
		}
		wg.Go(func() { _, errs[i] = v.Verify(context.Background(), tok, nil) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			require.ErrorIs(t, err, jwtauth.ErrReplay)
		}
	}
	require.Equal(t, 1, ok)

	// Once the token has expired its record may go, but the token is
	// refused as expired anyway.
	c.advance(20 * time.Minute)
	_, err := v1.Verify(context.Background(), tok, nil)
	require.ErrorIs(t, err, jwtauth.ErrExpired)
}

// TestMemoryReplayStoreFull: a full store refuses new IDs instead of
// forgetting one that could then be replayed, and makes room as records
// expire.
func TestMemoryReplayStoreFull(t *testing.T) {
	m := jwtauth.NewMemoryReplayStore(2)
	ctx, now := context.Background(), time.Now()
	for _, k := range []string{"a", "b"} {
		first, err := m.RecordTokenUse(ctx, []byte(k), now.Add(time.Minute), now)
		require.NoError(t, err)
		require.True(t, first)
	}
	_, err := m.RecordTokenUse(ctx, []byte("c"), now.Add(time.Minute), now)
	require.ErrorIs(t, err, jwtauth.ErrReplayStoreFull)
	first, err := m.RecordTokenUse(ctx, []byte("a"), now.Add(time.Minute), now)
	require.NoError(t, err)
	require.False(t, first)
	first, err = m.RecordTokenUse(ctx, []byte("c"), now.Add(3*time.Minute), now.Add(2*time.Minute))
	require.NoError(t, err)
	require.True(t, first, "expired records make room")
}
