package client

import (
	"context"

	"github.com/cryptoplug/cryptoplug/wire"
)

// The administration routes need role admin.

// CreateApplication creates an application and returns its API keys, shown
// this once (POST /sys/v1/apps).
func (c *Client) CreateApplication(ctx context.Context, req wire.CreateApplication) (wire.IssuedCredentials, error) {
	var out wire.IssuedCredentials
	return out, c.do(ctx, "POST", "/sys/v1/apps", req, &out, nil)
}

// ListApplications lists applications and registered clients (GET /sys/v1/apps).
func (c *Client) ListApplications(ctx context.Context) ([]wire.Account, error) {
	var out wire.AccountList
	return out.Accounts, c.do(ctx, "GET", "/sys/v1/apps", nil, &out, nil)
}

// GetApplication describes an application (GET /sys/v1/apps/{id}).
func (c *Client) GetApplication(ctx context.Context, id string) (wire.Account, error) {
	var out wire.Account
	return out, c.do(ctx, "GET", "/sys/v1/apps/"+segment(id), nil, &out, nil)
}

// DeleteApplication deletes an application (DELETE /sys/v1/apps/{id}).
func (c *Client) DeleteApplication(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/sys/v1/apps/"+segment(id), nil, nil, nil)
}

// ResetApplicationSecret revokes an application's API keys, ends its
// sessions and issues new keys (POST /sys/v1/apps/{id}/reset_secret).
func (c *Client) ResetApplicationSecret(ctx context.Context, id string) (wire.IssuedCredentials, error) {
	var out wire.IssuedCredentials
	return out, c.do(ctx, "POST", "/sys/v1/apps/"+segment(id)+"/reset_secret", nil, &out, nil)
}

// SwitchMethod moves an application between API keys and a pinned
// certificate (POST /sys/v1/apps/{id}/method).
func (c *Client) SwitchMethod(ctx context.Context, id string, req wire.SwitchMethod) (wire.IssuedCredentials, error) {
	var out wire.IssuedCredentials
	return out, c.do(ctx, "POST", "/sys/v1/apps/"+segment(id)+"/method", req, &out, nil)
}

// CreateAPIKey issues an API key for one role (POST /sys/v1/apps/{id}/apikeys).
func (c *Client) CreateAPIKey(ctx context.Context, owner string, req wire.CreateAPIKey) (wire.APIKey, error) {
	var out wire.APIKey
	return out, c.do(ctx, "POST", "/sys/v1/apps/"+segment(owner)+"/apikeys", req, &out, nil)
}

// ListAPIKeys lists an application's API keys (GET /sys/v1/apps/{id}/apikeys).
func (c *Client) ListAPIKeys(ctx context.Context, owner string) ([]wire.APIKey, error) {
	var out wire.APIKeyList
	return out.APIKeys, c.do(ctx, "GET", "/sys/v1/apps/"+segment(owner)+"/apikeys", nil, &out, nil)
}

// RevokeAPIKey revokes an API key by ID (DELETE /sys/v1/apikeys/{id}).
func (c *Client) RevokeAPIKey(ctx context.Context, keyID string) error {
	return c.do(ctx, "DELETE", "/sys/v1/apikeys/"+segment(keyID), nil, nil, nil)
}

// RotateAPIKey replaces an API key, the old one staying valid for overlap
// seconds (POST /sys/v1/apikeys/{id}/rotate).
func (c *Client) RotateAPIKey(ctx context.Context, keyID string, overlapSeconds int64) (wire.APIKey, error) {
	var out wire.APIKey
	return out, c.do(ctx, "POST", "/sys/v1/apikeys/"+segment(keyID)+"/rotate", wire.RotateAPIKey{OverlapSeconds: overlapSeconds}, &out, nil)
}

// TerminateSessions ends every session of a principal
// (DELETE /sys/v1/accounts/{id}/sessions).
func (c *Client) TerminateSessions(ctx context.Context, principalID string) (int, error) {
	var out wire.Terminated
	return out.Sessions, c.do(ctx, "DELETE", "/sys/v1/accounts/"+segment(principalID)+"/sessions", nil, &out, nil)
}

// CreateUser creates a user (POST /sys/v1/users).
func (c *Client) CreateUser(ctx context.Context, req wire.CreateUser) (wire.Account, error) {
	var out wire.Account
	return out, c.do(ctx, "POST", "/sys/v1/users", req, &out, nil)
}

// ListUsers lists users (GET /sys/v1/users).
func (c *Client) ListUsers(ctx context.Context) ([]wire.Account, error) {
	var out wire.AccountList
	return out.Accounts, c.do(ctx, "GET", "/sys/v1/users", nil, &out, nil)
}

// GetUser describes a user (GET /sys/v1/users/{id}).
func (c *Client) GetUser(ctx context.Context, id string) (wire.Account, error) {
	var out wire.Account
	return out, c.do(ctx, "GET", "/sys/v1/users/"+segment(id), nil, &out, nil)
}

// DeleteUser deletes a user (DELETE /sys/v1/users/{id}).
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/sys/v1/users/"+segment(id), nil, nil, nil)
}

// SetPassword sets a user's password and ends their sessions
// (PUT /sys/v1/users/{id}/password).
func (c *Client) SetPassword(ctx context.Context, id, password string) error {
	return c.do(ctx, "PUT", "/sys/v1/users/"+segment(id)+"/password", wire.SetPassword{Password: password}, nil, nil)
}

// CreateRegistrationToken issues a registration token, shown this once
// (POST /sys/v1/registrationTokens).
func (c *Client) CreateRegistrationToken(ctx context.Context, req wire.CreateRegistrationToken) (wire.RegistrationToken, error) {
	var out wire.RegistrationToken
	return out, c.do(ctx, "POST", "/sys/v1/registrationTokens", req, &out, nil)
}

// ListRegistrationTokens lists registration tokens (GET /sys/v1/registrationTokens).
func (c *Client) ListRegistrationTokens(ctx context.Context) ([]wire.RegistrationToken, error) {
	var out wire.RegistrationTokenList
	return out.Tokens, c.do(ctx, "GET", "/sys/v1/registrationTokens", nil, &out, nil)
}

// RevokeRegistrationToken revokes a registration token
// (DELETE /sys/v1/registrationTokens/{id}).
func (c *Client) RevokeRegistrationToken(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/sys/v1/registrationTokens/"+segment(id), nil, nil, nil)
}

// GetBackup fetches a client's sealed backup (GET /sys/v1/clients/{id}/backup),
// to be opened with seal.Open and the recovery private key.
func (c *Client) GetBackup(ctx context.Context, clientID string) ([]byte, error) {
	var out wire.Backup
	return out.Backup, c.do(ctx, "GET", "/sys/v1/clients/"+segment(clientID)+"/backup", nil, &out, nil)
}
