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
	// Groups are the principal's group memberships: the roles it holds for
	// the keys of each group.
	Groups []Membership `json:"groups,omitempty"`
}

// Membership is a principal's membership of a group.
type Membership struct {
	Group string   `json:"group"` // group ID
	Roles []string `json:"roles"`
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
	// Groups are the IDs of the groups the application joins, holding all
	// of Roles in each; none means the default group.
	Groups []string `json:"groups,omitempty"`
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
	// Groups are the IDs of the groups the user joins, holding all of
	// Roles in each; none means the default group.
	Groups []string `json:"groups,omitempty"`
}

// SetPassword is the body of PUT /sys/v1/users/{id}/password.
type SetPassword struct {
	Password string `json:"password"`
}

// Bounds the server checks, before any arithmetic, on the numbers of the
// administration bodies.
const (
	MaxAPIKeyValidSeconds       = 10 * 365 * 24 * 3600 // ten years
	MaxRotationOverlapSeconds   = 90 * 24 * 3600
	MaxRegistrationValidSeconds = 90 * 24 * 3600
	MaxRegistrationUses         = 10000
	MaxSecretValidUntil         = 7258118400 // 2200-01-01T00:00:00Z
	MaxRoleNames                = 16         // entries of a roles list
	MaxGroupIDs                 = 64         // entries of a groups list
)

// CreateAPIKey is the body of POST /sys/v1/apps/{id}/apikeys.
type CreateAPIKey struct {
	Role string `json:"role"`
	// ValidForSeconds is 0 (never expires) to MaxAPIKeyValidSeconds.
	ValidForSeconds int64 `json:"valid_for_seconds,omitempty"`
}

// RotateAPIKey is the body of POST /sys/v1/apikeys/{id}/rotate.
type RotateAPIKey struct {
	// OverlapSeconds is 0 (the old key stops at once) to
	// MaxRotationOverlapSeconds.
	OverlapSeconds int64 `json:"overlap_seconds"`
}

// CreateRegistrationToken is the body of POST /sys/v1/registrationTokens.
type CreateRegistrationToken struct {
	Roles []string `json:"roles"`
	// Uses is 1 to MaxRegistrationUses.
	Uses int `json:"uses"`
	// ValidForSeconds is 1 to MaxRegistrationValidSeconds.
	ValidForSeconds int64 `json:"valid_for_seconds"`
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

// Group is a group of principals that owns keys: the answer of POST and
// GET /sys/v1/groups/{id} (with Members) and an element of [GroupList].
type Group struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	CreatedAt int64         `json:"created_at"`
	Members   []GroupMember `json:"members,omitempty"`
}

// GroupMember is a principal's membership as its group shows it.
type GroupMember struct {
	Principal string   `json:"principal"`
	Roles     []string `json:"roles"`
}

// GroupList is the answer of GET /sys/v1/groups.
type GroupList struct {
	Groups []Group `json:"groups"`
}

// CreateGroup is the body of POST /sys/v1/groups.
type CreateGroup struct {
	Name string `json:"name"`
}

// SetGroupMember is the body of PUT /sys/v1/groups/{id}/members/{principal}:
// the roles the principal holds for the group's keys (at least one; DELETE
// the membership to end it).
type SetGroupMember struct {
	Roles []string `json:"roles"`
}

// DefaultGroupID is the group of every key never assigned another, which
// principals created without groups join.
const DefaultGroupID = "grp_00000000000000000000000000000000"
