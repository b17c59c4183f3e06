package ocspcheck

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Checker checks client certificates with their CA's OCSP responder and
// caches the answers. Create it with [New]; it is safe for concurrent use.
type Checker struct {
	cfg Config
	cas []*caState
}

// caState is one configured CA with its cached answers.
type caState struct {
	CA
	name string

	mu       sync.RWMutex
	answers  map[string]*cached // by the certificate's serial number bytes
	inflight map[string]chan struct{}
}

// cached is an answer (or a failure to get one) and until when it holds.
type cached struct {
	err   error // nil for good; an *Error otherwise
	until time.Time
	// unavailable marks a failure to get an answer, subject to FailOpen.
	unavailable bool
}

// New checks cfg and returns a Checker. It queries nothing yet. Errors
// wrap autherr.ErrInvalidArgument.
func New(cfg Config) (*Checker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Checker{cfg: cfg}
	for _, ca := range cfg.CAs {
		c.cas = append(c.cas, &caState{CA: ca, name: ca.Certificate.Subject.String(),
			answers: map[string]*cached{}, inflight: map[string]chan struct{}{}})
	}
	return c, nil
}

// Covers reports whether leaf is checked: whether one of the configured
// CAs issued it.
func (c *Checker) Covers(leaf *x509.Certificate) bool { return c.issuerOf(leaf) != nil }

// issuerOf returns the configured CA whose subject is leaf's issuer and,
// when both carry one, whose subject key ID is leaf's authority key ID.
// The caller has verified leaf's chain (the TLS handshake has); this only
// says which responder to ask, without a signature check per request.
func (c *Checker) issuerOf(leaf *x509.Certificate) *caState {
	if leaf == nil {
		return nil
	}
	for _, s := range c.cas {
		ca := s.Certificate
		if !bytes.Equal(leaf.RawIssuer, ca.RawSubject) {
			continue
		}
		if len(leaf.AuthorityKeyId) > 0 && len(ca.SubjectKeyId) > 0 && !bytes.Equal(leaf.AuthorityKeyId, ca.SubjectKeyId) {
			continue
		}
		return s
	}
	return nil
}

// Check asks whether leaf, a client certificate whose chain the caller
// verified (a TLS handshake with ClientCAs did), is good. It returns nil
// if leaf's responder says so (or, with FailOpen, if the responder is
// unavailable), and otherwise a [*Error] matching ErrRevoked,
// ErrUnknownCertificate, ErrUnavailable or ErrInvalidResponse — and
// autherr.ErrUnauthenticated. A certificate that no configured CA issued
// is not checked: nil.
//
// Answers are cached until their nextUpdate, at most MaxCacheAge, except
// that a revocation (other than certificateHold) is kept until the
// certificate expires; failures are cached for RetryAfter. Concurrent
// checks of one certificate share one query. A cached answer costs a map
// lookup and allocates nothing. Any other error (ctx ended while waiting
// for another caller's query) means the certificate could not be checked.
func (c *Checker) Check(ctx context.Context, leaf *x509.Certificate) error {
	s := c.issuerOf(leaf)
	if s == nil {
		return nil
	}
	var buf [32]byte
	key := serialKey(&buf, leaf)
	for {
		now := c.cfg.Clock()
		s.mu.RLock()
		e := s.answers[string(key)]
		wait := s.inflight[string(key)]
		s.mu.RUnlock()
		if e != nil && now.Before(e.until) {
			return c.decide(ctx, s, leaf, e)
		}
		if wait == nil {
			break
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return fmt.Errorf("ocspcheck: check certificate %s: %w", leaf.SerialNumber.Text(16), ctx.Err())
		}
	}
	return c.decide(ctx, s, leaf, c.query(s, leaf, string(key)))
}

// serialKey returns the serial number's big-endian bytes in buf when they
// fit (RFC 5280 allows 20), else a fresh slice.
func serialKey(buf *[32]byte, leaf *x509.Certificate) []byte {
	n := (leaf.SerialNumber.BitLen() + 7) / 8
	if n > len(buf) {
		return leaf.SerialNumber.Bytes()
	}
	return leaf.SerialNumber.FillBytes(buf[len(buf)-n:])
}

// decide turns a cached answer into Check's result, applying FailOpen.
func (c *Checker) decide(ctx context.Context, s *caState, leaf *x509.Certificate, e *cached) error {
	if e.unavailable && c.cfg.FailOpen {
		c.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "ocspcheck: responder unavailable, failing open",
			slog.String("ca", s.name), slog.String("serial", leaf.SerialNumber.Text(16)), slog.Any("error", e.err))
		return nil
	}
	return e.err
}

// query asks the responder once, unless another caller is already asking,
// and caches the result. It is bounded by Timeout and not by the caller's
// context: other callers may be waiting on it.
func (c *Checker) query(s *caState, leaf *x509.Certificate, key string) *cached {
	s.mu.Lock()
	if e := s.answers[key]; e != nil && c.cfg.Clock().Before(e.until) {
		s.mu.Unlock()
		return e // answered meanwhile
	}
	if ch := s.inflight[key]; ch != nil {
		s.mu.Unlock()
		<-ch
		s.mu.RLock()
		defer s.mu.RUnlock()
		if e := s.answers[key]; e != nil {
			return e
		}
		return c.failure(s, leaf, ErrUnavailable, "concurrent query left no answer", true, time.Time{})
	}
	ch := make(chan struct{})
	s.inflight[key] = ch
	s.mu.Unlock()

	e := c.fetch(s, leaf)

	s.mu.Lock()
	if len(s.answers) >= c.cfg.CacheSize {
		c.evict(s)
	}
	s.answers[key] = e
	delete(s.inflight, key)
	s.mu.Unlock()
	close(ch)
	return e
}

// evict makes room: expired answers first, then arbitrary ones. Holds s.mu.
func (c *Checker) evict(s *caState) {
	now := c.cfg.Clock()
	for k, e := range s.answers {
		if !now.Before(e.until) {
			delete(s.answers, k)
		}
	}
	for k := range s.answers {
		if len(s.answers) < c.cfg.CacheSize*7/8 {
			break
		}
		delete(s.answers, k)
	}
}

func (c *Checker) failure(s *caState, leaf *x509.Certificate, r error, detail string, unavailable bool, until time.Time) *cached {
	if until.IsZero() {
		until = c.cfg.Clock().Add(c.cfg.RetryAfter)
	}
	return &cached{err: &Error{Reason: r, CA: s.name, Serial: leaf.SerialNumber.Text(16), Detail: detail}, until: until, unavailable: unavailable}
}

// fetch queries the responder and verifies the answer.
func (c *Checker) fetch(s *caState, leaf *x509.Certificate) *cached {
	url := s.ResponderURL
	if url == "" {
		if len(leaf.OCSPServer) == 0 {
			return c.failure(s, leaf, ErrUnavailable, "no responder URL configured or in the certificate", true, time.Time{})
		}
		url = leaf.OCSPServer[0]
		if err := checkResponderURL(url); err != nil {
			return c.failure(s, leaf, ErrUnavailable, err.Error(), true, time.Time{})
		}
	}
	var nonce []byte
	if !s.NoNonce {
		nonce = make([]byte, 16)
		rand.Read(nonce)
	}
	req, err := newRequest(leaf, s.Certificate, nonce)
	if err != nil {
		return c.failure(s, leaf, ErrUnavailable, "build request: "+err.Error(), true, time.Time{})
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Timeout)
	defer cancel()
	der, err := c.post(ctx, url, req)
	if err != nil {
		c.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "ocspcheck: responder query failed",
			slog.String("ca", s.name), slog.String("url", url), slog.Any("error", err))
		return c.failure(s, leaf, ErrUnavailable, err.Error(), true, time.Time{})
	}
	now := c.cfg.Clock()
	a, err := verifyResponse(der, leaf, s.Certificate, nonce, now, c.cfg.ClockSkew)
	if ue, ok := errors.AsType[*unavailableError](err); ok {
		return c.failure(s, leaf, ErrUnavailable, ue.msg, true, time.Time{})
	}
	if err != nil {
		c.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "ocspcheck: invalid response",
			slog.String("ca", s.name), slog.String("url", url), slog.Any("error", err))
		return c.failure(s, leaf, ErrInvalidResponse, err.Error(), false, time.Time{})
	}
	until := now.Add(c.cfg.MaxCacheAge)
	if !a.nextUpdate.IsZero() && a.nextUpdate.Before(until) {
		until = a.nextUpdate
	}
	switch a.status {
	case ocsp.Good:
		return &cached{until: until}
	case ocsp.Revoked:
		// Revocation is final (RFC 5280, 5.3.1) unless the reason is
		// certificateHold: remember it for the certificate's life, so that
		// a responder outage cannot turn it back into a fail-open pass.
		if a.reason != ocsp.CertificateHold && leaf.NotAfter.After(until) {
			until = leaf.NotAfter
		}
		return c.failure(s, leaf, ErrRevoked, "revoked at "+a.revokedAt.UTC().Format(time.RFC3339), false, until)
	default:
		return c.failure(s, leaf, ErrUnknownCertificate, "", false, until)
	}
}

// post sends one OCSP request over HTTP POST (RFC 6960, appendix A.1).
func (c *Checker) post(ctx context.Context, url string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/ocsp-request")
	req.Header.Set("Accept", "application/ocsp-response")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(der)) > c.cfg.MaxResponseSize {
		return nil, fmt.Errorf("response larger than %d bytes", c.cfg.MaxResponseSize)
	}
	return der, nil
}
