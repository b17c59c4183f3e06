package client

import (
	"context"
	"net/http"

	"github.com/cryptoplug/cryptoplug/wire"
)

// Login creates a session with HTTP Basic credentials: a user's e-mail and
// password, or a principal ID and one of its API keys
// (POST /sys/v1/session/auth). Use the token with [Bearer].
func (c *Client) Login(ctx context.Context, user, password string) (wire.Session, error) {
	var out wire.Session
	return out, c.do(ctx, "POST", "/sys/v1/session/auth", nil, &out, func(h http.Header) {
		r := http.Request{Header: h}
		r.SetBasicAuth(user, password)
	})
}

// LoginWithCertificate creates a session bound to the TLS client
// certificate the client's transport presents (POST /sys/v1/session/auth
// without a credential header).
func (c *Client) LoginWithCertificate(ctx context.Context) (wire.Session, error) {
	var out wire.Session
	return out, c.do(ctx, "POST", "/sys/v1/session/auth", nil, &out, func(http.Header) {})
}

// Reauth exchanges the client's session for a new one; the old token stops
// working (POST /sys/v1/session/reauth).
func (c *Client) Reauth(ctx context.Context) (wire.Session, error) {
	var out wire.Session
	return out, c.do(ctx, "POST", "/sys/v1/session/reauth", nil, &out, nil)
}

// Terminate ends the client's session (POST /sys/v1/session/terminate).
func (c *Client) Terminate(ctx context.Context) error {
	return c.do(ctx, "POST", "/sys/v1/session/terminate", nil, nil, nil)
}
