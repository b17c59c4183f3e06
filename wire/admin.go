package wire

// Account is a principal as the admin routes show it.
type Account struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"` // "user", "application" or "client"
	Name       string   `json:"name"`
	Email      string   `json:"email,omitempty"`
	Roles      []string `json:"roles"`
	Method     string   `json:"method"` // "password", "apiKey" or "certificate"
	CertSHA256 string   `json:"cert_sha256,omitempty"`
	PublicKeys [][]byte `json:"public_keys,omitempty"` // clients: PKIX DER
	CreatedAt  int64    `json:"created_at"`            // Unix seconds
}

// AccountList is the answer of the list routes.
type AccountList struct {
	Accounts []Account `json:"accounts"`
}

// APIKey describes an API key; Key holds its plaintext only in the answer
// that issued it.
type APIKey struct {
	ID        string `json:"id"`
	Owner     string `json:"owner"`
	Role      string `json:"role"`
	CreatedAt int64  `json:"created_at"`
	ExpiresAt int64  `json:"expires_at,omitempty"` // 0: never
	Key       string `json:"key,omitempty"`
}

// APIKeyList is the answer of GET /sys/v1/apps/{id}/apikeys.
type APIKeyList struct {
	APIKeys []APIKey `json:"api_keys"`
}

// CreateApplication is the body of POST /sys/v1/apps.
type CreateApplication struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
	// Method is "apiKey" (one key per role is issued) or "certificate"
	// (Certificate is pinned).
	Method      string `json:"method"`
	Certificate string `json:"certificate,omitempty"` // PEM
}

// IssuedCredentials is the answer of the routes that create an application
// or regenerate its credentials: the account and its new API keys, shown
// this once.
type IssuedCredentials struct {
	Account Account  `json:"account"`
	APIKeys []APIKey `json:"api_keys"`
}

// SwitchMethod is the body of POST /sys/v1/apps/{id}/method.
type SwitchMethod struct {
	Method      string `json:"method"`
	Certificate string `json:"certificate,omitempty"`
}

// CreateUser is the body of POST /sys/v1/users.
type CreateUser struct {
	Email    string   `json:"email"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
}

// SetPassword is the body of PUT /sys/v1/users/{id}/password.
type SetPassword struct {
	Password string `json:"password"`
}

// CreateAPIKey is the body of POST /sys/v1/apps/{id}/apikeys.
type CreateAPIKey struct {
	Role            string `json:"role"`
	ValidForSeconds int64  `json:"valid_for_seconds,omitempty"` // 0: never expires
}

// RotateAPIKey is the body of POST /sys/v1/apikeys/{id}/rotate.
type RotateAPIKey struct {
	OverlapSeconds int64 `json:"overlap_seconds"`
}

// CreateRegistrationToken is the body of POST /sys/v1/registrationTokens.
type CreateRegistrationToken struct {
	Roles           []string `json:"roles"`
	Uses            int      `json:"uses"`
	ValidForSeconds int64    `json:"valid_for_seconds"`
}

// RegistrationToken describes a registration token; Token holds its
// plaintext only in the answer that issued it.
type RegistrationToken struct {
	ID        string   `json:"id"`
	Roles     []string `json:"roles"`
	UsesLeft  int      `json:"uses_left"`
	CreatedBy string   `json:"created_by"`
	CreatedAt int64    `json:"created_at"`
	ExpiresAt int64    `json:"expires_at"`
	Token     string   `json:"token,omitempty"`
}

// RegistrationTokenList is the answer of GET /sys/v1/registrationTokens.
type RegistrationTokenList struct {
	Tokens []RegistrationToken `json:"tokens"`
}

// Terminated is the answer of routes that end sessions.
type Terminated struct {
	Sessions int `json:"sessions"`
}
