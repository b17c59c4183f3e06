package tpmattest

import "errors"

// Reasons a verification fails, one per link of the chain (see the
// package documentation). Errors from this package wrap exactly the ones
// that apply.
var (
	// ErrMalformed means evidence or a challenge could not be decoded.
	ErrMalformed = errors.New("tpmattest: malformed attestation data")
	// ErrUntrustedEK means the evidence carries no endorsement key
	// certificate, the certificate does not chain to the verifier's roots,
	// or the endorsement key is not the certificate's key.
	ErrUntrustedEK = errors.New("tpmattest: endorsement key not trusted")
	// ErrUntrustedAK means the attestation key is not a restricted signing
	// key fixed to its TPM, so what it signs proves nothing.
	ErrUntrustedAK = errors.New("tpmattest: attestation key not trustworthy")
	// ErrNotActivated means the evidence does not show that the AK lives in
	// the TPM that owns the EK: the credential's secret is missing or
	// wrong, or the evidence names another EK or AK than the challenge.
	ErrNotActivated = errors.New("tpmattest: attestation key not bound to the endorsement key")
	// ErrBadSignature means the key certification was not signed by the
	// AK, or is not a TPM-made TPM2_Certify structure.
	ErrBadSignature = errors.New("tpmattest: key certification signature invalid")
	// ErrNonce means the certification is not bound to the nonce given
	// to Verify: a replay, or an answer to another request.
	ErrNonce = errors.New("tpmattest: nonce mismatch")
	// ErrKeyMismatch means the certified key is not the one in the
	// evidence, or not the one the caller asked about.
	ErrKeyMismatch = errors.New("tpmattest: certified key mismatch")
	// ErrNotFixedTPM means the key may be duplicated to another TPM
	// (fixedTPM clear).
	ErrNotFixedTPM = errors.New("tpmattest: key is not fixed to its TPM")
	// ErrNotFixedParent means the key may be moved to another parent in
	// the same TPM (fixedParent clear).
	ErrNotFixedParent = errors.New("tpmattest: key is not fixed to its parent")
	// ErrImported means the key's secret was made outside the TPM
	// (sensitiveDataOrigin clear): it was imported, and a copy may exist
	// elsewhere.
	ErrImported = errors.New("tpmattest: key was imported, not made in the TPM")
)
