package ocspcheck_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/ocspcheck"
	"github.com/cryptoplug/cryptoplug/authn/ocspcheck/ocsptest"
)

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock                   { c := &clock{}; c.ns.Store(time.Now().UnixNano()); return c }
func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// logBuffer collects log lines, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// newChecker returns a checker of p's certificates asking r, at clock c.
func newChecker(t testing.TB, c *clock, p *ocsptest.PKI, r *ocsptest.Responder, mod func(*ocspcheck.Config, *ocspcheck.CA)) *ocspcheck.Checker {
	t.Helper()
	ca := ocspcheck.CA{Certificate: p.CA, ResponderURL: p.ResponderURL()}
	cfg := ocspcheck.Config{Clock: c.now}
	if r != nil {
		cfg.HTTPClient = r.HTTPClient()
	}
	if mod != nil {
		mod(&cfg, &ca)
	}
	cfg.CAs = append(cfg.CAs, ca)
	ch, err := ocspcheck.New(cfg)
	require.NoError(t, err)
	return ch
}

// proxy is a man in the middle between the checker and the responder, on
// loopback: it forwards requests, or answers with whatever the test says.
type proxy struct {
	srv      *httptest.Server
	r        *ocsptest.Responder
	requests atomic.Int32
	mu       sync.Mutex
	rewrite  func(req, resp []byte) (status int, body []byte)
}

func newProxy(t testing.TB, r *ocsptest.Responder) *proxy {
	t.Helper()
	p := &proxy{r: r}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p.requests.Add(1)
		body, _ := io.ReadAll(req.Body)
		resp, err := p.forward(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		status := http.StatusOK
		p.mu.Lock()
		if p.rewrite != nil {
			status, resp = p.rewrite(body, resp)
		}
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.WriteHeader(status)
		w.Write(resp)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// forward asks the real responder.
func (p *proxy) forward(req []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, p.r.URL(), bytes.NewReader(req))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/ocsp-request")
	resp, err := p.r.HTTPClient().Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func (p *proxy) setRewrite(f func(req, resp []byte) (int, []byte)) {
	p.mu.Lock()
	p.rewrite = f
	p.mu.Unlock()
}

func textLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }
