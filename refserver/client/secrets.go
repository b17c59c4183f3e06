package client

import (
	"context"
	"net/http"
	"time"

	"github.com/cryptoplug/cryptoplug/wire"
)

// CreatePIN issues a one-time PIN for a user's secret; the caller must be a
// user holding admin (POST /users/{user}/secrets).
func (c *Client) CreatePIN(ctx context.Context, userID string) (wire.IssuedPIN, error) {
	var out wire.IssuedPIN
	return out, c.do(ctx, "POST", "/users/"+segment(userID)+"/secrets", nil, &out, nil)
}

// RedeemPIN exchanges a PIN for the user's secret, shown this once
// (POST /secrets/{account}; the PIN is the credential, none other is sent).
// Use the secret with [UserSecret].
func (c *Client) RedeemPIN(ctx context.Context, userID, pin string) (wire.UserSecret, error) {
	var out wire.UserSecret
	return out, c.do(ctx, "POST", "/secrets/"+segment(userID), wire.RedeemPIN{PIN: pin}, &out, func(http.Header) {})
}

// SetSecretValidity sets when a user's secret stops working; the zero time
// means never (PATCH /users/{user}/secrets).
func (c *Client) SetSecretValidity(ctx context.Context, userID string, until time.Time) (wire.UserSecret, error) {
	var out wire.UserSecret
	return out, c.do(ctx, "PATCH", "/users/"+segment(userID)+"/secrets", wire.SecretValidity{ValidUntil: wire.Unix(until)}, &out, nil)
}

// DeleteSecret revokes a user's secret and returns what it was
// (DELETE /users/{user}/secrets).
func (c *Client) DeleteSecret(ctx context.Context, userID string) (wire.UserSecret, error) {
	var out wire.UserSecret
	return out, c.do(ctx, "DELETE", "/users/"+segment(userID)+"/secrets", nil, &out, nil)
}
