// Package client is the Go client of the cryptoplug reference server
// (github.com/cryptoplug/cryptoplug/refserver): one method per route, with
// the request and response types of refserver/wire.
//
// Start with New, giving the server's base URL and a credential:
//
//	c, err := client.New("https://127.0.0.1:8443", client.WithCAFile("/data/tls/server.crt"),
//		client.WithCredential(client.APIKey(key)))
//	sig, err := c.Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
//
// To use the server's keys through the backend contract (crypto.Signer and
// friends), use the "remote" backend (backends/remote), which is built on
// this package.
//
// Errors from the server are *Error values that also match the sentinels of
// backend and authn with errors.Is (backend.ErrKeyNotFound,
// authn.ErrUnauthenticated, …; the latter live in authn/autherr, so this
// package does not link the server's authentication code). A Client is safe for concurrent use; it keeps
// HTTP connections alive and never puts a credential in a URL.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cryptoplug/cryptoplug/wire"
)

// Credential is what a request authenticates with: an API key, a session
// token, a user secret, or a session the client creates with its TLS
// certificate ([CertificateSession]). Its String never shows the secret.
type Credential struct {
	header, value string
	certSession   bool
}

// APIKey returns a credential sent as the X-API-KEY header.
func APIKey(key string) Credential { return Credential{header: wire.APIKeyHeader, value: key} }

// Bearer returns a session credential (Authorization: Bearer).
func Bearer(token string) Credential {
	return Credential{header: "Authorization", value: "Bearer " + token}
}

// UserSecret returns a user-secret credential (Authorization: <secret>).
func UserSecret(secret string) Credential { return Credential{header: "Authorization", value: secret} }

// String returns the header's name only.
func (c Credential) String() string {
	if c.certSession {
		return "certificate session"
	}
	return "credential in " + c.header
}

// IsZero reports whether c is no credential.
func (c Credential) IsZero() bool { return c.header == "" && !c.certSession }

// Client calls the reference server. Create it with [New].
type Client struct {
	base string // scheme://host:port, no trailing slash
	hc   *http.Client
	cred Credential
	cs   *certSession // with a CertificateSession credential
}

// Option configures [New].
type Option func(*options) error

type options struct {
	hc   *http.Client
	cred Credential
	tls  *tls.Config
}

// WithHTTPClient makes the client use hc (its transport, timeouts and TLS
// settings) instead of its own.
func WithHTTPClient(hc *http.Client) Option {
	return func(o *options) error { o.hc = hc; return nil }
}

// WithCredential sets the credential every request carries.
func WithCredential(c Credential) Option {
	return func(o *options) error { o.cred = c; return nil }
}

// WithTLSConfig sets the TLS configuration of the client's own transport
// (ignored with WithHTTPClient).
func WithTLSConfig(tc *tls.Config) Option {
	return func(o *options) error { o.tls = tc.Clone(); return nil }
}

// WithCAFile trusts the PEM certificates in path (and only them) for the
// server's certificate.
func WithCAFile(path string) Option {
	return func(o *options) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("client: read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return fmt.Errorf("client: CA file %s holds no PEM certificate", path)
		}
		if o.tls == nil {
			o.tls = &tls.Config{}
		}
		o.tls.RootCAs = pool
		return nil
	}
}

// New returns a client for the server at baseURL ("https://host:port").
// Plain http is accepted only for loopback addresses.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("client: base URL must be https://host[:port]")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Trim(u.Path, "/") != "" {
		return nil, fmt.Errorf("client: base URL must be https://host[:port] without user, path or query")
	}
	if u.Scheme == "http" {
		if h := u.Hostname(); h != "localhost" && h != "127.0.0.1" && h != "::1" {
			return nil, fmt.Errorf("client: plain http only to a loopback address")
		}
	}
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256
		tr.ForceAttemptHTTP2 = true
		if o.tls != nil {
			tr.TLSClientConfig = o.tls
		}
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{}
		}
		if tr.TLSClientConfig.MinVersion == 0 {
			tr.TLSClientConfig.MinVersion = tls.VersionTLS12
		}
		o.hc = &http.Client{Transport: tr, Timeout: 2 * time.Minute,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	c := &Client{base: u.Scheme + "://" + u.Host, hc: o.hc}
	return c.WithCredential(o.cred), nil
}

// WithCredential returns a copy of c that sends cred; both share connections.
// A [CertificateSession] copy starts without a session.
func (c *Client) WithCredential(cred Credential) *Client {
	cc := *c
	cc.cred, cc.cs = cred, nil
	if cred.certSession {
		cc.cs = &certSession{}
	}
	return &cc
}

// HTTPClient returns the http.Client c uses.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// Error is an error answer of the server. It matches, with errors.Is, the
// sentinel its code stands for (see [Error.Unwrap]).
type Error struct {
	Status  int
	Code    string
	Message string
	// RetryAfter is the server's Retry-After on 429.
	RetryAfter time.Duration
}

// Error returns "refserver: <status> <code>: <message>".
func (e *Error) Error() string {
	return fmt.Sprintf("refserver: %d %s: %s", e.Status, e.Code, e.Message)
}

// segment escapes one path segment.
func segment(s string) string { return url.PathEscape(s) }

// do sends one request. in (if not nil) is the JSON body; out (if not nil)
// receives the JSON answer; extra, if not nil, sets the request's
// credential headers instead of the client's credential.
func (c *Client) do(ctx context.Context, method, path string, in, out any, extra func(http.Header)) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	switch {
	case extra != nil:
	case c.cs != nil:
		return c.doCertSession(ctx, method, path, body, out)
	case !c.cred.IsZero():
		extra = func(h http.Header) { h.Set(c.cred.header, c.cred.value) }
	}
	return c.send(ctx, method, path, body, out, extra)
}

// send makes one HTTP request; body, if not nil, is JSON.
func (c *Client) send(ctx context.Context, method, path string, body []byte, out any, headers func(http.Header)) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if headers != nil {
		headers(req.Header)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if resp.StatusCode == http.StatusAccepted {
		return decodePending(resp)
	}
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		return nil
	}
	if s, ok := out.(*string); ok {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
		*s = string(b)
		return err
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("refserver: malformed answer to %s %s: %w", method, path, err)
	}
	return nil
}

func decodeError(resp *http.Response) error {
	var eb wire.ErrorBody
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Status: resp.StatusCode}
	if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
		e.Code, e.Message = eb.Error.Code, eb.Error.Message
	} else {
		e.Code, e.Message = codeForStatus(resp.StatusCode), http.StatusText(resp.StatusCode)
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		var secs int64
		if _, err := fmt.Sscan(ra, &secs); err == nil {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	return e
}

func codeForStatus(status int) string {
	switch status {
	case 401:
		return wire.CodeUnauthenticated
	case 403:
		return wire.CodeForbidden
	case 404:
		return wire.CodeNotFound
	case 413:
		return wire.CodeTooLarge
	case 415:
		return wire.CodeUnsupportedMediaType
	case 429:
		return wire.CodeRateLimited
	}
	if status >= 500 {
		return wire.CodeInternal
	}
	return wire.CodeBadRequest
}

// IsCode reports whether err is an *Error with this code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
