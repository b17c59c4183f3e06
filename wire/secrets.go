package wire

// IssuedPIN is the answer of POST /users/{user}/secrets: a one-time PIN to
// hand to the user out of band.
type IssuedPIN struct {
	UserID    string `json:"user_id"`
	PIN       string `json:"pin"`
	ExpiresAt int64  `json:"expires_at"`
}

// RedeemPIN is the body of POST /secrets/{account}.
type RedeemPIN struct {
	PIN string `json:"pin"`
}

// UserSecret describes a user secret; Secret holds the plaintext only in the
// answer of POST /secrets/{account}, shown this once.
type UserSecret struct {
	UserID      string `json:"user_id"`
	Fingerprint string `json:"fingerprint"`
	CreatedAt   int64  `json:"created_at"`
	ValidUntil  int64  `json:"valid_until,omitempty"` // 0: never expires
	Secret      string `json:"secret,omitempty"`
}

// SecretValidity is the body of PATCH /users/{user}/secrets. ValidUntil is
// Unix seconds up to MaxSecretValidUntil; 0 means never expires, a past
// time disables the secret.
type SecretValidity struct {
	ValidUntil int64 `json:"valid_until"`
}
