package wire

// RegisterClient is the body of POST /v1/clients/register. The registration
// token travels in the body because it is spent by this one request.
type RegisterClient struct {
	Token      string   `json:"token"`
	Name       string   `json:"name"`
	PublicKeys [][]byte `json:"public_keys"`      // PKIX DER
	Backup     []byte   `json:"backup,omitempty"` // seal.Seal output, sealed to the recovery key
}

// RegisteredClient is the answer of POST /v1/clients/register.
type RegisteredClient struct {
	Account Account  `json:"account"`
	APIKeys []APIKey `json:"api_keys"`
}

// Backup is the body of PUT /v1/clients/backup and the answer of
// GET /sys/v1/clients/{id}/backup.
type Backup struct {
	Backup []byte `json:"backup"`
}

// RecoveryKey is the answer of GET /v1/clients/recoveryKey: the PEM public
// key clients seal backups to.
type RecoveryKey struct {
	PublicKey string `json:"public_key"`
}
