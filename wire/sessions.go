package wire

// Session is the answer of POST /sys/v1/session/auth and
// /sys/v1/session/reauth. AccessToken is shown this once.
type Session struct {
	TokenType   string `json:"token_type"` // "Bearer"
	ExpiresIn   int64  `json:"expires_in"` // seconds of idleness after which it ends
	AccessToken string `json:"access_token"`
	EntityID    string `json:"entity_id"`  // the principal's ID
	SessionID   string `json:"session_id"` // non-secret handle
	ExpiresAt   int64  `json:"expires_at"` // absolute expiry, Unix seconds
}
