package refserver

import (
	"fmt"
	"net/http"

	"github.com/cryptoplug/cryptoplug/backend"
)

// attestRequest is the body of POST /v1/attestation/key/{label}: the
// verifier's fresh nonce and, in the second round of an interactive
// format, its challenge (both base64).
type attestRequest struct {
	Nonce     []byte `json:"nonce"`
	Challenge []byte `json:"challenge,omitempty"`
}

// attestResponse is the evidence the key's backend produced, for a
// verifier of its format (for a TPM, "tpm2-certify", which package
// backends/tpm/tpmattest verifies).
type attestResponse struct {
	Label    string `json:"label"`
	Format   string `json:"format"`
	Evidence []byte `json:"evidence"`
}

// attestKey returns evidence that the key lives in the backend's hardware
// (POST /v1/attestation/key/{label}), as HSM REST APIs offer key
// attestation. The server checks nothing in it: it is evidence for the
// caller's verifier, which holds the roots of trust. Keys whose backend
// cannot attest answer "unsupported".
func (s *Server) attestKey(rq *request) error {
	var req attestRequest
	if err := decodeJSON(rq.r, &req); err != nil {
		return err
	}
	ar := backend.AttestRequest{Nonce: req.Nonce, Challenge: req.Challenge}
	if err := ar.Validate(); err != nil {
		return err
	}
	ctx, cancel := s.opContext(rq)
	defer cancel()
	k, _, err := s.keyByPath(ctx, rq)
	if err != nil {
		return err
	}
	a, ok := k.(backend.Attester)
	if !ok {
		return backend.Errorf("attest", "", k.Label(), fmt.Errorf("the key's backend cannot attest its keys: %w", backend.ErrUnsupported))
	}
	att, err := a.Attest(ctx, ar)
	if err != nil {
		return err
	}
	writeJSON(rq.w, http.StatusOK, attestResponse{Label: k.Label(), Format: att.Format, Evidence: att.Evidence})
	return nil
}
