package ocspcheck_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ocsp"

	"github.com/cryptoplug/cryptoplug/authn/autherr"
	"github.com/cryptoplug/cryptoplug/authn/ocspcheck"
	"github.com/cryptoplug/cryptoplug/authn/ocspcheck/ocsptest"
)

// TestStatuses asks a real openssl responder about a good, a revoked and an
// unknown certificate, with every way it can sign and be found.
func TestStatuses(t *testing.T) {
	p := ocsptest.NewPKI(t, "status-ca")
	good := p.Issue(t, "good", p.ResponderURL())
	revoked := p.Issue(t, "revoked", p.ResponderURL())
	unknown := p.IssueUnlisted(t, "unknown", p.ResponderURL())
	p.Revoke(t, revoked)
	delegateCert, delegateKey, _ := p.IssueResponder(t, "status responder", false)

	for _, tc := range []struct {
		name string
		opts ocsptest.ResponderOptions
		mod  func(*ocspcheck.Config, *ocspcheck.CA)
	}{
		{name: "signed by the CA"},
		{name: "signed by a delegated responder", opts: ocsptest.ResponderOptions{SignerCert: delegateCert, SignerKey: delegateKey}},
		{name: "CA-signed without certificates", opts: ocsptest.ResponderOptions{Args: []string{"-resp_no_certs"}}},
		{name: "responder named by key hash", opts: ocsptest.ResponderOptions{Args: []string{"-resp_key_id"}}},
		{name: "with nextUpdate", opts: ocsptest.ResponderOptions{Args: []string{"-nmin", "5"}}},
		{name: "responder from the certificate's AIA", mod: func(_ *ocspcheck.Config, ca *ocspcheck.CA) { ca.ResponderURL = "" }},
		{name: "no nonce", mod: func(_ *ocspcheck.Config, ca *ocspcheck.CA) { ca.NoNonce = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := p.StartResponder(t, tc.opts)
			ch := newChecker(t, newClock(), p, r, tc.mod)
			ctx := context.Background()
			require.NoError(t, ch.Check(ctx, good.Cert))
			err := ch.Check(ctx, revoked.Cert)
			require.ErrorIs(t, err, ocspcheck.ErrRevoked)
			require.ErrorIs(t, err, autherr.ErrUnauthenticated)
			require.ErrorContains(t, err, revoked.Cert.SerialNumber.Text(16))
			require.ErrorIs(t, ch.Check(ctx, unknown.Cert), ocspcheck.ErrUnknownCertificate)
			require.True(t, ch.Covers(good.Cert))
		})
	}
}

// TestRevocationReachesCheck revokes a certificate at the running
// responder: the cached "good" holds until nextUpdate (or MaxCacheAge),
// then the next check is refused.
func TestRevocationReachesCheck(t *testing.T) {
	p := ocsptest.NewPKI(t, "revocation-ca")
	leaf := p.Issue(t, "client", "")
	r := p.StartResponder(t, ocsptest.ResponderOptions{Args: []string{"-nmin", "1"}})
	c := newClock()
	ch := newChecker(t, c, p, r, func(cfg *ocspcheck.Config, _ *ocspcheck.CA) { cfg.MaxCacheAge = time.Hour })
	ctx := context.Background()
	require.NoError(t, ch.Check(ctx, leaf.Cert))

	p.Revoke(t, leaf)
	r.Restart(t)
	c.advance(30 * time.Second)
	require.NoError(t, ch.Check(ctx, leaf.Cert), "the cached answer holds until its nextUpdate")
	c.advance(31 * time.Second)
	require.ErrorIs(t, ch.Check(ctx, leaf.Cert), ocspcheck.ErrRevoked, "past nextUpdate the responder is asked again")

	// Without nextUpdate, MaxCacheAge bounds the cache.
	leaf2 := p.Issue(t, "client2", "")
	r2 := p.StartResponder(t, ocsptest.ResponderOptions{})
	c2 := newClock()
	ch2 := newChecker(t, c2, p, r2, func(cfg *ocspcheck.Config, _ *ocspcheck.CA) { cfg.MaxCacheAge = 2 * time.Minute })
	require.NoError(t, ch2.Check(ctx, leaf2.Cert))
	p.Revoke(t, leaf2)
	r2.Restart(t)
	c2.advance(time.Minute)
	require.NoError(t, ch2.Check(ctx, leaf2.Cert))
	c2.advance(time.Minute)
	require.ErrorIs(t, ch2.Check(ctx, leaf2.Cert), ocspcheck.ErrRevoked)
}

// TestUnreachableResponder stops the responder mid-test: cached answers
// still hold; past them, the default refuses and FailOpen lets the
// certificate through with a warning — but never a revoked one.
func TestUnreachableResponder(t *testing.T) {
	p := ocsptest.NewPKI(t, "unreachable-ca")
	good := p.Issue(t, "good", "")
	revoked := p.Issue(t, "revoked", "")
	p.Revoke(t, revoked)
	r := p.StartResponder(t, ocsptest.ResponderOptions{})
	ctx := context.Background()

	c := newClock()
	var logs logBuffer
	closed := newChecker(t, c, p, r, nil)
	open := newChecker(t, c, p, r, func(cfg *ocspcheck.Config, _ *ocspcheck.CA) {
		cfg.FailOpen, cfg.Logger = true, textLogger(&logs)
	})
	for _, ch := range []*ocspcheck.Checker{closed, open} {
		require.NoError(t, ch.Check(ctx, good.Cert))
		require.ErrorIs(t, ch.Check(ctx, revoked.Cert), ocspcheck.ErrRevoked)
	}

	r.Stop()
	require.NoError(t, closed.Check(ctx, good.Cert), "cached")
	c.advance(6 * time.Minute) // past the default MaxCacheAge of 5m
	err := closed.Check(ctx, good.Cert)
	require.ErrorIs(t, err, ocspcheck.ErrUnavailable)
	require.ErrorIs(t, err, autherr.ErrUnauthenticated)
	require.NoError(t, open.Check(ctx, good.Cert), "fail open")
	require.Contains(t, logs.String(), "failing open")
	require.Contains(t, logs.String(), good.Cert.SerialNumber.Text(16))
	require.ErrorIs(t, open.Check(ctx, revoked.Cert), ocspcheck.ErrRevoked,
		"a revocation is remembered past the cache age: fail open does not resurrect it")

	// Back up: after RetryAfter the responder is asked again.
	r.Restart(t)
	require.ErrorIs(t, closed.Check(ctx, good.Cert), ocspcheck.ErrUnavailable, "the failure is cached for RetryAfter")
	c.advance(11 * time.Second)
	require.NoError(t, closed.Check(ctx, good.Cert))
}

// TestFailOpenRefusesRevoked: with FailOpen, a revoked answer still
// refuses; only an unanswerable question passes.
func TestFailOpenRefusesRevoked(t *testing.T) {
	p := ocsptest.NewPKI(t, "failopen-ca")
	revoked := p.Issue(t, "revoked", "")
	p.Revoke(t, revoked)
	r := p.StartResponder(t, ocsptest.ResponderOptions{})
	ch := newChecker(t, newClock(), p, r, func(cfg *ocspcheck.Config, _ *ocspcheck.CA) { cfg.FailOpen = true })
	require.ErrorIs(t, ch.Check(context.Background(), revoked.Cert), ocspcheck.ErrRevoked)
}

// TestInvalidResponses puts a man in the middle, or a wrong signer, between
// the checker and the real responder. Every forged or unusable answer is
// refused, whatever FailOpen says about unavailable ones.
func TestInvalidResponses(t *testing.T) {
	p := ocsptest.NewPKI(t, "invalid-ca")
	good := p.Issue(t, "good", "")
	other := p.Issue(t, "other", "")
	revoked := p.Issue(t, "revoked", "")
	r := p.StartResponder(t, ocsptest.ResponderOptions{Args: []string{"-nmin", "1"}})
	ctx := context.Background()

	// A "good" for revoked, recorded before it was revoked.
	mitm := newProxy(t, r)
	recorder := newChecker(t, newClock(), p, nil, func(cfg *ocspcheck.Config, ca *ocspcheck.CA) { ca.ResponderURL = mitm.srv.URL })
	var recorded []byte
	mitm.setRewrite(func(_, resp []byte) (int, []byte) { recorded = resp; return http.StatusOK, resp })
	require.NoError(t, recorder.Check(ctx, revoked.Cert))
	p.Revoke(t, revoked)
	r.Restart(t)
	otherCA := ocsptest.NewPKI(t, "other-ca")
	forged, err := ocsp.CreateResponse(otherCA.CA, otherCA.CA, ocsp.Response{
		Status: ocsp.Good, SerialNumber: good.Cert.SerialNumber, ThisUpdate: time.Now().Add(-time.Minute), NextUpdate: time.Now().Add(time.Hour),
	}, otherCA.CAKey)
	require.NoError(t, err)
	aboutOther := func(req, _ []byte) (int, []byte) {
		resp, err := mitm.forward(requestFor(t, other.Cert, p.CA))
		require.NoError(t, err)
		return http.StatusOK, resp
	}

	for _, tc := range []struct {
		name    string
		leaf    *ocsptest.Leaf
		rewrite func(req, resp []byte) (int, []byte)
		clock   time.Duration
		want    error
	}{
		{name: "replayed good for a revoked certificate: nonce mismatch", leaf: revoked,
			rewrite: func(_, _ []byte) (int, []byte) { return http.StatusOK, recorded }, want: ocspcheck.ErrInvalidResponse},
		{name: "answer about another certificate", leaf: good, rewrite: aboutOther, want: ocspcheck.ErrInvalidResponse},
		{name: "signed by another CA", leaf: good, rewrite: func(_, _ []byte) (int, []byte) { return http.StatusOK, forged }, want: ocspcheck.ErrInvalidResponse},
		{name: "signature corrupted", leaf: good, rewrite: func(_, resp []byte) (int, []byte) {
			b := append([]byte(nil), resp...)
			b[len(b)-len(p.CA.Raw)-20] ^= 1 // inside the signature, before the embedded certificate
			return http.StatusOK, b
		}, want: ocspcheck.ErrInvalidResponse},
		{name: "stale: nextUpdate long past", leaf: good, clock: time.Hour, want: ocspcheck.ErrInvalidResponse},
		{name: "thisUpdate in the future", leaf: good, clock: -time.Hour, want: ocspcheck.ErrInvalidResponse},
		{name: "HTML error page", leaf: good, rewrite: func(_, _ []byte) (int, []byte) { return http.StatusOK, []byte("<html>oops</html>") }, want: ocspcheck.ErrUnavailable},
		{name: "HTTP 503", leaf: good, rewrite: func(_, resp []byte) (int, []byte) { return http.StatusServiceUnavailable, resp }, want: ocspcheck.ErrUnavailable},
		{name: "tryLater", leaf: good, rewrite: func(_, _ []byte) (int, []byte) { return http.StatusOK, ocsp.TryLaterErrorResponse }, want: ocspcheck.ErrUnavailable},
		{name: "oversized", leaf: good, rewrite: func(_, resp []byte) (int, []byte) {
			return http.StatusOK, append(resp, make([]byte, 70<<10)...)
		}, want: ocspcheck.ErrUnavailable},
		{name: "honest answer through the proxy", leaf: good},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mitm.setRewrite(tc.rewrite)
			c := newClock()
			c.advance(tc.clock)
			ch := newChecker(t, c, p, nil, func(cfg *ocspcheck.Config, ca *ocspcheck.CA) {
				ca.ResponderURL = mitm.srv.URL
				cfg.FailOpen = tc.want == ocspcheck.ErrInvalidResponse // invalid is refused even so
			})
			err := ch.Check(ctx, tc.leaf.Cert)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
			t.Log(err)
		})
	}
}

// TestUntrustedSigners: a responder signing with a certificate the CA
// issued without the OCSP signing EKU, or one another CA issued, is not
// believed.
func TestUntrustedSigners(t *testing.T) {
	p := ocsptest.NewPKI(t, "signer-ca")
	good := p.Issue(t, "good", "")
	noEKUCert, noEKUKey, _ := p.IssueResponder(t, "no eku responder", true)
	otherCA := ocsptest.NewPKI(t, "stranger-ca")
	strangerCert, strangerKey, _ := otherCA.IssueResponder(t, "stranger responder", false)
	for _, tc := range []struct {
		name      string
		cert, key string
	}{
		{"delegated certificate without the OCSP signing EKU", noEKUCert, noEKUKey},
		{"responder certificate of another CA", strangerCert, strangerKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := p.StartResponder(t, ocsptest.ResponderOptions{SignerCert: tc.cert, SignerKey: tc.key})
			ch := newChecker(t, newClock(), p, r, nil)
			err := ch.Check(context.Background(), good.Cert)
			require.ErrorIs(t, err, ocspcheck.ErrInvalidResponse)
			require.True(t, strings.Contains(err.Error(), "OCSP signing") || strings.Contains(err.Error(), "not issued by the CA"), err.Error())
		})
	}
}

// TestConcurrentChecksShareOneQuery: a burst of checks of one certificate
// costs the responder one request, and other CAs' certificates are not
// checked at all.
func TestConcurrentChecksShareOneQuery(t *testing.T) {
	p := ocsptest.NewPKI(t, "burst-ca")
	good := p.Issue(t, "good", "")
	r := p.StartResponder(t, ocsptest.ResponderOptions{})
	mitm := newProxy(t, r)
	ch := newChecker(t, newClock(), p, nil, func(_ *ocspcheck.Config, ca *ocspcheck.CA) { ca.ResponderURL = mitm.srv.URL })
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() { errs[i] = ch.Check(context.Background(), good.Cert) })
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, mitm.requests.Load())

	// Another CA, even one with the same name, is not checked: its
	// certificates name another authority key.
	for _, name := range []string{"uncovered-ca", "burst-ca"} {
		stranger := ocsptest.NewPKI(t, name)
		leaf := stranger.Issue(t, "x", "")
		require.False(t, ch.Covers(leaf.Cert), name)
		require.NoError(t, ch.Check(context.Background(), leaf.Cert), "not a configured CA: not checked")
	}
	require.EqualValues(t, 1, mitm.requests.Load())
}

func TestConfigRefused(t *testing.T) {
	p := ocsptest.NewPKI(t, "config-ca")
	leaf := p.Issue(t, "leaf", "")
	for _, tc := range []struct {
		name string
		cfg  ocspcheck.Config
	}{
		{"no CAs", ocspcheck.Config{}},
		{"not a CA", ocspcheck.Config{CAs: []ocspcheck.CA{{Certificate: leaf.Cert}}}},
		{"responder URL not http", ocspcheck.Config{CAs: []ocspcheck.CA{{Certificate: p.CA, ResponderURL: "ldap://x/"}}}},
		{"timeout over 1m", ocspcheck.Config{CAs: []ocspcheck.CA{{Certificate: p.CA}}, Timeout: 2 * time.Minute}},
		{"cache age over 24h", ocspcheck.Config{CAs: []ocspcheck.CA{{Certificate: p.CA}}, MaxCacheAge: 25 * time.Hour}},
		{"negative cache size", ocspcheck.Config{CAs: []ocspcheck.CA{{Certificate: p.CA}}, CacheSize: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ocspcheck.New(tc.cfg)
			require.ErrorIs(t, err, autherr.ErrInvalidArgument)
		})
	}
}

// requestFor builds a plain OCSP request with golang.org/x/crypto/ocsp.
func requestFor(t *testing.T, leaf, ca *x509.Certificate) []byte {
	req, err := ocsp.CreateRequest(leaf, ca, nil)
	require.NoError(t, err)
	return req
}

// TestHungResponderTimesOut pauses the responder process: it accepts
// connections and never answers. The query ends at Timeout, the
// certificate is refused as unavailable, and concurrent checks wait for
// that one query rather than each for their own.
func TestHungResponderTimesOut(t *testing.T) {
	p := ocsptest.NewPKI(t, "hung-ca")
	good := p.Issue(t, "good", "")
	r := p.StartResponder(t, ocsptest.ResponderOptions{})
	ch := newChecker(t, newClock(), p, r, func(cfg *ocspcheck.Config, _ *ocspcheck.CA) { cfg.Timeout = 300 * time.Millisecond })
	r.Pause(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = ch.Check(context.Background(), good.Cert) })
	}
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, ocspcheck.ErrUnavailable)
		require.ErrorContains(t, err, "deadline exceeded")
	}
	r.Resume(t)
}
