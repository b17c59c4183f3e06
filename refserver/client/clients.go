package client

import (
	"context"
	"net/http"

	"github.com/cryptoplug/cryptoplug/wire"
)

// RegisterClient registers a client with the registration token in req
// (POST /v1/clients/register; no other credential is sent) and returns its
// ID and API keys, shown this once.
func (c *Client) RegisterClient(ctx context.Context, req wire.RegisterClient) (wire.RegisteredClient, error) {
	var out wire.RegisteredClient
	return out, c.do(ctx, "POST", "/v1/clients/register", req, &out, func(http.Header) {})
}

// RecoveryKey returns the PEM public key clients seal backups to
// (GET /v1/clients/recoveryKey); parse it with wire.ParsePublicKey.
func (c *Client) RecoveryKey(ctx context.Context) (string, error) {
	var out wire.RecoveryKey
	return out.PublicKey, c.do(ctx, "GET", "/v1/clients/recoveryKey", nil, &out, func(http.Header) {})
}

// PutBackup stores the calling client's sealed backup (PUT /v1/clients/backup).
func (c *Client) PutBackup(ctx context.Context, blob []byte) error {
	return c.do(ctx, "PUT", "/v1/clients/backup", wire.Backup{Backup: blob}, nil, nil)
}
