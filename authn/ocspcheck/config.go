package ocspcheck

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/cryptoplug/cryptoplug/authn/autherr"
)

// CA is one trusted client CA whose certificates are checked.
type CA struct {
	// Certificate is the CA that directly issues the client certificates.
	Certificate *x509.Certificate
	// ResponderURL is its OCSP responder (http or https). Empty: the first
	// OCSP URL in each client certificate's Authority Information Access.
	ResponderURL string
	// NoNonce stops sending a nonce. By default every request carries a
	// fresh 16-byte nonce and a response must echo it, which defeats the
	// replay of an older "good"; responders that serve pre-signed responses
	// (RFC 5019) cannot echo one.
	NoNonce bool
}

// Config configures a [Checker]. CAs is required.
type Config struct {
	CAs []CA
	// Timeout bounds one query to a responder; default 5s, at most 1m.
	Timeout time.Duration
	// MaxCacheAge bounds how long an answer is trusted: until its
	// nextUpdate, but never longer than this after it was fetched (nor
	// longer than this when it has no nextUpdate). Default 5m, at most 24h.
	MaxCacheAge time.Duration
	// RetryAfter is how long an unavailable responder is not asked again
	// for the same certificate, so that a dead responder does not cost
	// every request a timeout; default 10s. Requests in that window get
	// the same answer (refused, or let through with FailOpen).
	RetryAfter time.Duration
	// ClockSkew is tolerated on a response's thisUpdate and nextUpdate;
	// default 5m.
	ClockSkew time.Duration
	// FailOpen lets a certificate through when its responder is
	// unavailable (ErrUnavailable), logging a warning each time. The
	// default, false, refuses it. Invalid responses are refused either way.
	FailOpen bool
	// CacheSize bounds the cached answers per CA; default 10000.
	CacheSize int
	// MaxResponseSize bounds a response in bytes; default 64 KiB.
	MaxResponseSize int64
	// HTTPClient queries the responders; default a client with Timeout.
	HTTPClient *http.Client
	// Clock returns the current time; default time.Now.
	Clock func() time.Time
	// Logger receives fail-open decisions and responder failures; default
	// discards.
	Logger *slog.Logger
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("ocspcheck: configuration: "+format+": %w", append(args, autherr.ErrInvalidArgument)...)
}

func (c Config) withDefaults() (Config, error) {
	if len(c.CAs) == 0 {
		return c, invalid("no CAs")
	}
	for i, ca := range c.CAs {
		if ca.Certificate == nil || !ca.Certificate.IsCA {
			return c, invalid("CA %d is not a CA certificate", i)
		}
		if ca.ResponderURL != "" {
			if err := checkResponderURL(ca.ResponderURL); err != nil {
				return c, invalid("CA %q: %v", ca.Certificate.Subject.String(), err)
			}
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Timeout, 5*time.Second)
	def(&c.MaxCacheAge, 5*time.Minute)
	def(&c.RetryAfter, 10*time.Second)
	def(&c.ClockSkew, 5*time.Minute)
	switch {
	case c.Timeout < 0 || c.Timeout > time.Minute:
		return c, invalid("timeout %v outside 0..1m", c.Timeout)
	case c.MaxCacheAge < 0 || c.MaxCacheAge > 24*time.Hour:
		return c, invalid("max cache age %v outside 0..24h", c.MaxCacheAge)
	case c.RetryAfter < 0 || c.RetryAfter > time.Hour:
		return c, invalid("retry after %v outside 0..1h", c.RetryAfter)
	case c.ClockSkew < 0 || c.ClockSkew > time.Hour:
		return c, invalid("clock skew %v outside 0..1h", c.ClockSkew)
	}
	if c.CacheSize == 0 {
		c.CacheSize = 10000
	}
	if c.CacheSize < 0 {
		return c, invalid("negative cache size")
	}
	if c.MaxResponseSize == 0 {
		c.MaxResponseSize = 64 << 10
	}
	if c.MaxResponseSize < 0 || c.MaxResponseSize > 1<<20 {
		return c, invalid("max response size %d outside 0..1 MiB", c.MaxResponseSize)
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: c.Timeout}
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// checkResponderURL accepts an absolute http or https URL without userinfo.
func checkResponderURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("responder URL %q is not an http(s) URL without userinfo", s)
	}
	return nil
}
