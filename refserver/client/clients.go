package client

import (
	"context"
	"net/http"

	"github.com/cryptoplug/cryptoplug/refserver/api"
)

// RegisterClient registers a client with the registration token in req
// (POST /v1/clients/register; no other credential is sent) and returns its
// ID and API keys, shown this once.
func (c *Client) RegisterClient(ctx context.Context, req api.RegisterClient) (api.RegisteredClient, error) {
	var out api.RegisteredClient
	return out, c.do(ctx, "POST", "/v1/clients/register", req, &out, func(http.Header) {})
}

// RecoveryKey returns the PEM public key clients seal backups to
// (GET /v1/clients/recoveryKey); parse it with api.ParsePublicKey.
func (c *Client) RecoveryKey(ctx context.Context) (string, error) {
	var out api.RecoveryKey
	return out.PublicKey, c.do(ctx, "GET", "/v1/clients/recoveryKey", nil, &out, func(http.Header) {})
}

// PutBackup stores the calling client's sealed backup (PUT /v1/clients/backup).
func (c *Client) PutBackup(ctx context.Context, blob []byte) error {
	return c.do(ctx, "PUT", "/v1/clients/backup", api.Backup{Backup: blob}, nil, nil)
}
