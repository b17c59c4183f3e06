package client

import (
	"context"

	"github.com/cryptoplug/cryptoplug/wire"
)

// Health reports whether the server answers (GET /healthz, no credential).
func (c *Client) Health(ctx context.Context) error {
	var out wire.Health
	return c.do(ctx, "GET", "/healthz", nil, &out, nil)
}

// VersionInfo describes the server (GET /v1/versionInfo; role service).
func (c *Client) VersionInfo(ctx context.Context) (wire.VersionInfo, error) {
	var out wire.VersionInfo
	return out, c.do(ctx, "GET", "/v1/versionInfo", nil, &out, nil)
}

// Statistics counts the server's keys (GET /v1/keystore/statistics).
func (c *Client) Statistics(ctx context.Context) (wire.Statistics, error) {
	var out wire.Statistics
	return out, c.do(ctx, "GET", "/v1/keystore/statistics", nil, &out, nil)
}

// Capabilities lists the backend's algorithms and operations
// (GET /v1/capabilities; roles keyManagement, keyOperation or service).
func (c *Client) Capabilities(ctx context.Context) (wire.Capabilities, error) {
	var out wire.Capabilities
	return out, c.do(ctx, "GET", "/v1/capabilities", nil, &out, nil)
}

// Metrics returns the Prometheus text exposition (GET /metrics; role
// service).
func (c *Client) Metrics(ctx context.Context) (string, error) {
	var out string
	return out, c.do(ctx, "GET", "/metrics", nil, &out, nil)
}
