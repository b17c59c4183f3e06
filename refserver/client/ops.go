package client

import (
	"context"
	"strconv"

	"github.com/cryptoplug/cryptoplug/wire"
)

// Sign signs (POST /v1/sign; role keyOperation) and returns the signature.
func (c *Client) Sign(ctx context.Context, req wire.SignRequest) ([]byte, error) {
	var out wire.SignResponse
	return out.Signature, c.do(ctx, "POST", "/v1/sign", req, &out, nil)
}

// Verify checks a signature with the key's public key (POST /v1/verify).
func (c *Client) Verify(ctx context.Context, req wire.VerifyRequest) (bool, error) {
	var out wire.VerifyResponse
	return out.Valid, c.do(ctx, "POST", "/v1/verify", req, &out, nil)
}

// Encrypt encrypts to the key's RSA public key (POST /v1/encrypt).
func (c *Client) Encrypt(ctx context.Context, req wire.EncryptRequest) ([]byte, error) {
	var out wire.EncryptResponse
	return out.Ciphertext, c.do(ctx, "POST", "/v1/encrypt", req, &out, nil)
}

// Decrypt decrypts with the key (POST /v1/decrypt).
func (c *Client) Decrypt(ctx context.Context, req wire.DecryptRequest) ([]byte, error) {
	var out wire.DecryptResponse
	return out.Plaintext, c.do(ctx, "POST", "/v1/decrypt", req, &out, nil)
}

// Encapsulate makes a shared key for the key's ML-KEM public key
// (POST /v1/encapsulate).
func (c *Client) Encapsulate(ctx context.Context, label string) (wire.EncapsulateResponse, error) {
	var out wire.EncapsulateResponse
	return out, c.do(ctx, "POST", "/v1/encapsulate", wire.EncapsulateRequest{Label: label}, &out, nil)
}

// Decapsulate recovers the shared key of an ML-KEM ciphertext
// (POST /v1/decapsulate).
func (c *Client) Decapsulate(ctx context.Context, req wire.DecapsulateRequest) ([]byte, error) {
	var out wire.DecapsulateResponse
	return out.SharedKey, c.do(ctx, "POST", "/v1/decapsulate", req, &out, nil)
}

// GenerateRandom returns n random bytes from the server, 1 ≤ n ≤
// wire.MaxRandomLength (GET /v1/generateRandom/{length}).
func (c *Client) GenerateRandom(ctx context.Context, n int) ([]byte, error) {
	var out wire.RandomResponse
	return out.Random, c.do(ctx, "GET", "/v1/generateRandom/"+strconv.Itoa(n), nil, &out, nil)
}
