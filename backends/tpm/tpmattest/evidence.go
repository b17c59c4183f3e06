package tpmattest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// Format is the [backend.Attestation] format this package verifies.
const Format = "tpm2-certify"

// evidenceVersion is the only Evidence.Version this package reads.
const evidenceVersion = 1

// Size bounds, checked before anything is decoded.
const (
	// MaxEvidence bounds encoded evidence: an EK certificate and chain of
	// a few kilobytes, three public areas, a certification and a
	// signature.
	MaxEvidence = 32 << 10
	// MaxChallenge bounds an encoded challenge (backend.MaxAttestChallenge).
	MaxChallenge = 4096
)

// Evidence is what a TPM backend's Attest returns, JSON-encoded: TPM
// structures in the TPM's own marshalling, base64 in JSON. It is produced
// by the TPM backend with [Evidence.Marshal] and read here with
// [ParseEvidence]; nothing in it is trusted before [Challenge.Verify].
type Evidence struct {
	Version int `json:"version"`
	// EKCertificate is the endorsement key certificate (DER) the TPM's
	// manufacturer stored in its NV memory; empty if there is none.
	EKCertificate []byte `json:"ek_certificate,omitempty"`
	// EKPublic is the endorsement key's TPMT_PUBLIC.
	EKPublic []byte `json:"ek_public"`
	// AKPublic is the attestation key's TPMT_PUBLIC.
	AKPublic []byte `json:"ak_public"`
	// KeyPublic is the certified key's TPMT_PUBLIC.
	KeyPublic []byte `json:"key_public"`
	// CertifyInfo is the TPMS_ATTEST TPM2_Certify returned, as signed.
	CertifyInfo []byte `json:"certify_info"`
	// Signature is the AK's TPMT_SIGNATURE over CertifyInfo.
	Signature []byte `json:"signature"`
	// Activation is the secret the TPM recovered from the challenge's
	// credential (TPM2_ActivateCredential); empty when not challenged.
	Activation []byte `json:"activation,omitempty"`
}

// Marshal encodes e as JSON with its version set.
func (e *Evidence) Marshal() ([]byte, error) {
	c := *e
	c.Version = evidenceVersion
	return json.Marshal(&c)
}

// ParseEvidence decodes evidence: JSON of at most [MaxEvidence] bytes,
// version 1, no unknown fields, every required structure present. It
// checks form only. Errors wrap [ErrMalformed].
func ParseEvidence(data []byte) (*Evidence, error) {
	var e Evidence
	if err := decodeStrict(data, MaxEvidence, &e); err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	if e.Version != evidenceVersion {
		return nil, fmt.Errorf("evidence version %d, want %d: %w", e.Version, evidenceVersion, ErrMalformed)
	}
	for name, f := range map[string][]byte{"ek_public": e.EKPublic, "ak_public": e.AKPublic, "key_public": e.KeyPublic, "certify_info": e.CertifyInfo, "signature": e.Signature} {
		if len(f) == 0 {
			return nil, fmt.Errorf("evidence lacks %s: %w", name, ErrMalformed)
		}
	}
	return &e, nil
}

// ChallengeBlob is the encoded form of a challenge, given to the TPM
// backend as backend.AttestRequest.Challenge: a credential made with
// TPM2_MakeCredential's algorithm for the AK, encrypted to the EK.
type ChallengeBlob struct {
	// Credential is the TPM2B_ID_OBJECT's contents.
	Credential []byte `json:"credential"`
	// Secret is the TPM2B_ENCRYPTED_SECRET's contents: the seed,
	// encrypted to the EK.
	Secret []byte `json:"secret"`
}

// ParseChallenge decodes a challenge: JSON of at most [MaxChallenge]
// bytes, no unknown fields, both parts present. Errors wrap
// [ErrMalformed].
func ParseChallenge(data []byte) (*ChallengeBlob, error) {
	var c ChallengeBlob
	if err := decodeStrict(data, MaxChallenge, &c); err != nil {
		return nil, fmt.Errorf("challenge: %w", err)
	}
	if len(c.Credential) == 0 || len(c.Secret) == 0 {
		return nil, fmt.Errorf("challenge lacks its credential or secret: %w", ErrMalformed)
	}
	return &c, nil
}

// decodeStrict decodes one JSON value of at most limit bytes into v.
func decodeStrict(data []byte, limit int, v any) error {
	if len(data) > limit {
		return fmt.Errorf("%d bytes, at most %d: %w", len(data), limit, ErrMalformed)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%v: %w", err, ErrMalformed)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data: %w", ErrMalformed)
	}
	return nil
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
