package authn_test

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/ocspcheck"
	"github.com/cryptoplug/cryptoplug/authn/ocspcheck/ocsptest"
)

// ocspClock is the checker's clock, moved past cached answers by the test.
type ocspClock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *ocspClock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.d) }
func (c *ocspClock) advance(d time.Duration) { c.mu.Lock(); c.d += d; c.mu.Unlock() }

// TestRevokedCertificateEndsItsSessions revokes a client certificate at a
// real OCSP responder (openssl): once the cached "good" is stale, the next
// request over it is refused, whether it carries the session the
// certificate created earlier, a new login, or an API key.
func TestRevokedCertificateEndsItsSessions(t *testing.T) {
	pki := ocsptest.NewPKI(t, "authn-client-ca")
	leaf := pki.Issue(t, "app", "")
	r := pki.StartResponder(t, ocsptest.ResponderOptions{})
	oc := &ocspClock{}
	checker, err := ocspcheck.New(ocspcheck.Config{CAs: []ocspcheck.CA{{Certificate: pki.CA, ResponderURL: r.URL()}},
		HTTPClient: r.HTTPClient(), Clock: oc.now, MaxCacheAge: time.Minute})
	require.NoError(t, err)
	var logs bytes.Buffer
	var mu sync.Mutex
	e := newEnv(t, noRateLimit, func(c *authn.Config) {
		c.CertificateStatus = checker
		c.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))
	})
	e.certApp(t, leaf.Cert, authn.RoleKeyOperation)
	_, keys := e.app(t, authn.RoleService)

	sess, err := e.svc.CreateSessionFromRequest(withCert(request(), leaf.Cert))
	require.NoError(t, err)
	_, err = e.svc.AuthenticateRequest(withCert(request("Authorization", bearer(sess.Token)), leaf.Cert))
	require.NoError(t, err)
	_, err = e.svc.AuthenticateRequest(withCert(request("X-API-KEY", keys[0].Key.Reveal()), leaf.Cert))
	require.NoError(t, err)

	pki.Revoke(t, leaf)
	r.Restart(t)
	oc.advance(2 * time.Minute)
	for name, req := range map[string]func() error{
		"the session made earlier": func() error {
			_, err := e.svc.AuthenticateRequest(withCert(request("Authorization", bearer(sess.Token)), leaf.Cert))
			return err
		},
		"renewing it": func() error {
			_, err := e.svc.ReauthRequest(withCert(request("Authorization", bearer(sess.Token)), leaf.Cert))
			return err
		},
		"a new certificate login": func() error {
			_, err := e.svc.CreateSessionFromRequest(withCert(request(), leaf.Cert))
			return err
		},
		"an API key over the certificate": func() error {
			_, err := e.svc.AuthenticateRequest(withCert(request("X-API-KEY", keys[0].Key.Reveal()), leaf.Cert))
			return err
		},
	} {
		require.ErrorIs(t, req(), authn.ErrUnauthenticated, name)
	}
	_, err = e.svc.AuthenticateRequest(request("X-API-KEY", keys[0].Key.Reveal()))
	require.NoError(t, err, "the API key without the revoked certificate still works")
	mu.Lock()
	require.Contains(t, logs.String(), "certificate revoked")
	mu.Unlock()
}

// TestUnreachableResponderPolicy stops the responder: by default a
// certificate whose status is unknown is refused; with FailOpen it is
// let through, and the checker logs that it failed open.
func TestUnreachableResponderPolicy(t *testing.T) {
	pki := ocsptest.NewPKI(t, "authn-outage-ca")
	leaf := pki.Issue(t, "app", "")
	r := pki.StartResponder(t, ocsptest.ResponderOptions{})
	oc := &ocspClock{}
	var logs bytes.Buffer
	var mu sync.Mutex
	svc := map[bool]*authn.Service{}
	for _, failOpen := range []bool{false, true} {
		checker, err := ocspcheck.New(ocspcheck.Config{CAs: []ocspcheck.CA{{Certificate: pki.CA, ResponderURL: r.URL()}},
			HTTPClient: r.HTTPClient(), Clock: oc.now, FailOpen: failOpen,
			Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil))})
		require.NoError(t, err)
		e := newEnv(t, noRateLimit, func(c *authn.Config) { c.CertificateStatus = checker })
		e.certApp(t, leaf.Cert, authn.RoleKeyOperation)
		_, err = e.svc.CreateSessionFromRequest(withCert(request(), leaf.Cert))
		require.NoError(t, err, "fail open %v, responder up", failOpen)
		svc[failOpen] = e.svc
	}
	r.Stop()
	oc.advance(10 * time.Minute)
	_, err := svc[false].CreateSessionFromRequest(withCert(request(), leaf.Cert))
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "fail closed")
	_, err = svc[true].CreateSessionFromRequest(withCert(request(), leaf.Cert))
	require.NoError(t, err, "fail open")
	mu.Lock()
	require.Contains(t, logs.String(), "failing open")
	mu.Unlock()
}
