package client

import (
	"context"
	"net/url"

	"github.com/cryptoplug/cryptoplug/wire"
)

// CreateKey generates a key (POST /v1/key; role keyManagement).
func (c *Client) CreateKey(ctx context.Context, spec wire.KeySpec) (wire.Key, error) {
	var out wire.Key
	return out, c.do(ctx, "POST", "/v1/key", spec, &out, nil)
}

// ImportKey stores a private key (POST /v1/key/import; role
// keyManagement). req.PrivateKey is encoded with wire.MarshalPrivateKey; the
// caller should clear it afterwards.
func (c *Client) ImportKey(ctx context.Context, req wire.ImportKeyRequest) (wire.Key, error) {
	var out wire.Key
	return out, c.do(ctx, "POST", "/v1/key/import", req, &out, nil)
}

// ListKeys lists every key (GET /v1/key; role keyManagement).
func (c *Client) ListKeys(ctx context.Context) (wire.KeyList, error) {
	var out wire.KeyList
	return out, c.do(ctx, "GET", "/v1/key", nil, &out, nil)
}

// KeyByID finds the key with this hex ID (GET /v1/key?id=…); the list is
// empty when there is none.
func (c *Client) KeyByID(ctx context.Context, idHex string) (wire.KeyList, error) {
	var out wire.KeyList
	return out, c.do(ctx, "GET", "/v1/key?id="+url.QueryEscape(idHex), nil, &out, nil)
}

// GetKey describes the key labelled label (GET /v1/key/{label}).
func (c *Client) GetKey(ctx context.Context, label string) (wire.Key, error) {
	var out wire.Key
	return out, c.do(ctx, "GET", "/v1/key/"+segment(label), nil, &out, nil)
}

// DeleteKey destroys the key labelled label (DELETE /v1/key/{label}).
func (c *Client) DeleteKey(ctx context.Context, label string) error {
	return c.do(ctx, "DELETE", "/v1/key/"+segment(label), nil, nil, nil)
}
