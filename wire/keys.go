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
}

// KeyList is the answer of GET /v1/key. Warnings name stored entries that
// could not be read back (backend.ErrCorrupt); the keys listed are usable
// either way.
type KeyList struct {
	Keys     []Key    `json:"keys"`
	Warnings []string `json:"warnings,omitempty"`
}
