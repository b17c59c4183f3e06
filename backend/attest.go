package backend

import (
	"context"
	"fmt"
)

// Attester is implemented by keys whose store can prove where they live:
// that the private key is held by the store's hardware, was made there
// and cannot leave it. Find it by type assertion on a [Key]:
//
//	if a, ok := k.(backend.Attester); ok {
//		att, err := a.Attest(ctx, backend.AttestRequest{Nonce: nonce})
//	}
//
// An attestation is evidence, not a verdict: it proves nothing until a
// verifier for its [Attestation.Format] checks it against roots of trust
// the verifier chose (for "tpm2-certify", package
// github.com/cryptoplug/cryptoplug/backends/tpm/tpmattest). Some formats
// are interactive: the verifier answers a first attestation with a
// challenge, given back in a second request.
//
// Attest fails with [ErrInvalidInput] for a request [AttestRequest.Validate]
// refuses or a challenge the format cannot parse, [ErrUnsupported] when the
// store cannot attest this key (no attestation identity, say), and the
// key's usual errors ([ErrClosed], [ErrKeyNotFound] after deletion, the
// context's). Implementations are safe for concurrent use.
type Attester interface {
	Attest(ctx context.Context, req AttestRequest) (*Attestation, error)
}

// Bounds on an [AttestRequest], checked by [AttestRequest.Validate].
const (
	MinAttestNonce     = 8    // bytes: shorter nonces could be replayed by guessing
	MaxAttestNonce     = 64   // bytes: what a TPM takes as qualifying data next to a digest's algorithm
	MaxAttestChallenge = 4096 // bytes: a TPM credential for a 4096-bit key is far smaller
)

// AttestRequest is what a verifier asks an [Attester] for.
type AttestRequest struct {
	// Nonce is a fresh random value from the verifier, bound into the
	// evidence so that it cannot be replayed. Required.
	Nonce []byte
	// Challenge, when not empty, is the verifier's answer to an earlier
	// attestation in the format's own encoding (for "tpm2-certify", a
	// credential only the TPM that owns the endorsement key can open).
	Challenge []byte
}

// Validate checks the request's sizes: Nonce between [MinAttestNonce] and
// [MaxAttestNonce] bytes, Challenge at most [MaxAttestChallenge]. Errors
// wrap [ErrInvalidInput].
func (r AttestRequest) Validate() error {
	if n := len(r.Nonce); n < MinAttestNonce || n > MaxAttestNonce {
		return fmt.Errorf("attestation nonce is %d bytes, want %d to %d: %w", n, MinAttestNonce, MaxAttestNonce, ErrInvalidInput)
	}
	if n := len(r.Challenge); n > MaxAttestChallenge {
		return fmt.Errorf("attestation challenge is %d bytes, at most %d: %w", n, MaxAttestChallenge, ErrInvalidInput)
	}
	return nil
}

// Attestation is evidence about one key, in a format a verifier reads.
type Attestation struct {
	// Format names the encoding of Evidence and so the verifier that
	// checks it, such as "tpm2-certify".
	Format string `json:"format"`
	// Evidence is the format's bytes; opaque to everything but its
	// verifier.
	Evidence []byte `json:"evidence"`
}
