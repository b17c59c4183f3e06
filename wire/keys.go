package wire

// KeySpec is the body of POST /v1/key.
type KeySpec struct {
	Label     string `json:"label"`
	Algorithm string `json:"algorithm"` // a backend.Algorithm name, e.g. "ECDSA-P256"
	// ID is the key's identifier in lowercase hex; empty lets the backend
	// choose one.
	ID string `json:"id,omitempty"`
	// Usage restricts the key to some of "sign", "decrypt", "decapsulate";
	// empty means the algorithm's natural use (see backend.Usage.Resolve).
	Usage []string `json:"usage,omitempty"`
	// Group is the ID of the group that will own the key; empty means the
	// default group. The caller needs keyManagement in it.
	Group string `json:"group,omitempty"`
	// Policy, when set, is the key's approval policy from the moment it
	// exists (see [KeyPolicy]); its approvers must be registered.
	Policy *KeyPolicy `json:"policy,omitempty"`
}

// MoveKey is the body of PUT /v1/key/{label}/group: the group that will
// own the key. The caller needs keyManagement in both groups.
type MoveKey struct {
	Group string `json:"group"`
}

// Key describes a key: the answer of POST /v1/key and GET /v1/key/{label},
// and an element of [KeyList].
type Key struct {
	Label     string   `json:"label"`
	ID        string   `json:"id"` // lowercase hex
	Algorithm string   `json:"algorithm"`
	Usage     []string `json:"usage"`
	// PublicKey is a PEM "PUBLIC KEY" block holding the PKIX
	// SubjectPublicKeyInfo; see [MarshalPublicKey].
	PublicKey string `json:"public_key"`
	// Group is the ID of the group that owns the key.
	Group string `json:"group,omitempty"`
}

// KeyList is the answer of GET /v1/key: the keys of the groups in which the
// caller holds keyManagement. Warnings say that stored entries could not be
// read back (backend.ErrCorrupt; the server log names them); the keys listed
// are usable either way.
type KeyList struct {
	Keys     []Key    `json:"keys"`
	Warnings []string `json:"warnings,omitempty"`
}
