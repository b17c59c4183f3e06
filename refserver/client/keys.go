package client

import (
	"context"
	"net/url"

	"github.com/cryptoplug/cryptoplug/refserver/api"
)

// CreateKey generates a key (POST /v1/key; role keyManagement).
func (c *Client) CreateKey(ctx context.Context, spec api.KeySpec) (api.Key, error) {
	var out api.Key
	return out, c.do(ctx, "POST", "/v1/key", spec, &out, nil)
}

// ImportKey stores a private key (POST /v1/key/import; role
// keyManagement). req.PrivateKey is encoded with api.MarshalPrivateKey; the
// caller should clear it afterwards.
func (c *Client) ImportKey(ctx context.Context, req api.ImportKeyRequest) (api.Key, error) {
	var out api.Key
	return out, c.do(ctx, "POST", "/v1/key/import", req, &out, nil)
}

// ListKeys lists every key (GET /v1/key; role keyManagement).
func (c *Client) ListKeys(ctx context.Context) (api.KeyList, error) {
	var out api.KeyList
	return out, c.do(ctx, "GET", "/v1/key", nil, &out, nil)
}

// KeyByID finds the key with this hex ID (GET /v1/key?id=…); the list is
// empty when there is none.
func (c *Client) KeyByID(ctx context.Context, idHex string) (api.KeyList, error) {
	var out api.KeyList
	return out, c.do(ctx, "GET", "/v1/key?id="+url.QueryEscape(idHex), nil, &out, nil)
}

// GetKey describes the key labelled label (GET /v1/key/{label}).
func (c *Client) GetKey(ctx context.Context, label string) (api.Key, error) {
	var out api.Key
	return out, c.do(ctx, "GET", "/v1/key/"+segment(label), nil, &out, nil)
}

// DeleteKey destroys the key labelled label (DELETE /v1/key/{label}).
func (c *Client) DeleteKey(ctx context.Context, label string) error {
	return c.do(ctx, "DELETE", "/v1/key/"+segment(label), nil, nil, nil)
}
