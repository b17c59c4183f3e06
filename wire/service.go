package wire

// VersionInfo is the answer of GET /v1/versionInfo.
type VersionInfo struct {
	Version   string      `json:"version"`
	GoVersion string      `json:"go_version"`
	Backend   BackendInfo `json:"backend"`
}

// BackendInfo describes the server's backend (backend.Info). The reference
// server never fills URI: even without secrets, a URI names its files and
// devices.
type BackendInfo struct {
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	URI          string `json:"uri,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Model        string `json:"model,omitempty"`
	Firmware     string `json:"firmware,omitempty"`
	Persistent   bool   `json:"persistent"`
}

// Capabilities is the answer of GET /v1/capabilities: per algorithm, the
// operations ("generate", "sign", "decrypt", "decapsulate") the server offers
// over HTTP. Key import is not offered over HTTP.
type Capabilities struct {
	Backend    BackendInfo         `json:"backend"`
	Algorithms map[string][]string `json:"algorithms"`
}

// Statistics is the answer of GET /v1/keystore/statistics.
type Statistics struct {
	Keys        int            `json:"keys"`
	ByAlgorithm map[string]int `json:"by_algorithm"`
	Corrupt     int            `json:"corrupt"`
	CachedKeys  int            `json:"cached_keys"`
	UptimeSecs  int64          `json:"uptime_seconds"`
}

// Health is the answer of GET /healthz and GET /readyz.
type Health struct {
	Status string `json:"status"` // "ok"; "unavailable" from /readyz (503) while the backend's store is gone
}
