package wire

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"

	"github.com/cloudflare/circl/sign/ed448"

	"github.com/cryptoplug/cryptoplug/backend"
)

// NewSignRequest encodes a parsed signing request (see
// [backend.ParseSignOptions]) for the key labelled label with ID id, so
// that the server signs under exactly the same scheme, hash, salt length
// and context. A digest scheme carries req.Input as Digest, a message
// scheme as Message.
func NewSignRequest(label string, id backend.KeyID, req backend.SignRequest) SignRequest {
	out := SignRequest{Label: label, Context: req.Context}
	if len(id) > 0 {
		out.ID = id.String()
	}
	input := req.Input
	if input == nil {
		input = []byte{} // an empty input is not an absent one
	}
	if req.Scheme.Digest() {
		out.Digest = input
		out.Hash = HashName(req.Hash)
	} else {
		out.Message = input
	}
	switch req.Scheme {
	case backend.SchemePKCS1v15:
		out.Scheme = SchemePKCS1v15
	case backend.SchemePSS:
		out.Scheme, out.SaltLength = SchemePSS, req.SaltLength
		if req.SaltAuto {
			out.SaltLength = rsa.PSSSaltLengthAuto
		}
	case backend.SchemeECDSA:
		out.Scheme = SchemeECDSA
	case backend.SchemeEd25519, backend.SchemeEd25519ph:
		out.Scheme = SchemeEd25519
	case backend.SchemeEd448:
		out.Scheme = SchemeEd448
	case backend.SchemeEd448ph:
		out.Scheme = SchemeEd448ph
	case backend.SchemeMLDSA:
		out.Scheme = SchemeMLDSA
	}
	return out
}

// Options returns the signer options r asks for on a key of algorithm a,
// the inverse of [NewSignRequest]. An empty Scheme picks the family's usual
// one (PKCS #1 v1.5, ECDSA, or the pure scheme). A Message on a hashing
// scheme without a Hash is hashed with SHA-256 (RSA) or the curve's hash
// (ECDSA). A scheme that does not fit a, a context on a scheme without one,
// or a context over 255 bytes fails with [backend.ErrInvalidInput]; the
// key's signer checks the rest.
func (r *SignRequest) Options(a backend.Algorithm) (crypto.SignerOpts, error) {
	h, err := ParseHash(r.Hash)
	if err != nil {
		return nil, err
	}
	fam := a.Family()
	scheme := r.Scheme
	if scheme == "" || scheme == SchemePure && a.SignsMessages() {
		switch {
		case fam == backend.FamilyRSA:
			scheme = SchemePKCS1v15
		case fam == backend.FamilyECDSA:
			scheme = SchemeECDSA
		case a == backend.Ed25519:
			scheme = SchemeEd25519
		case a == backend.Ed448:
			scheme = SchemeEd448
		default:
			scheme = SchemeMLDSA
		}
	}
	if h == 0 && r.Message != nil && r.Digest == nil {
		switch fam {
		case backend.FamilyRSA:
			h = crypto.SHA256
		case backend.FamilyECDSA:
			h = a.CurveHash()
		}
	}
	if len(r.Context) > backend.MaxSignContextLen {
		return nil, fmt.Errorf("context is %d bytes, at most %d: %w", len(r.Context), backend.MaxSignContextLen, backend.ErrInvalidInput)
	}
	fits := map[string]bool{
		SchemePKCS1v15: fam == backend.FamilyRSA,
		SchemePSS:      fam == backend.FamilyRSA,
		SchemeECDSA:    fam == backend.FamilyECDSA,
		SchemeEd25519:  a == backend.Ed25519,
		SchemeEd448:    a == backend.Ed448,
		SchemeEd448ph:  a == backend.Ed448,
		SchemeMLDSA:    fam == backend.FamilyMLDSA,
	}
	ok, known := fits[scheme]
	if !known {
		return nil, fmt.Errorf("unknown signature scheme %q: %w", scheme, backend.ErrInvalidInput)
	}
	if !ok {
		return nil, fmt.Errorf("scheme %q does not fit a %s key: %w", scheme, a, backend.ErrInvalidInput)
	}
	if len(r.Context) > 0 && !a.SignsMessages() {
		return nil, fmt.Errorf("scheme %q takes no context: %w", scheme, backend.ErrInvalidInput)
	}
	if h != 0 && (scheme == SchemeEd448 || scheme == SchemeEd448ph || scheme == SchemeMLDSA) {
		return nil, fmt.Errorf("scheme %q signs whole messages and takes no hash: %w", scheme, backend.ErrInvalidInput)
	}
	switch scheme {
	case SchemePSS:
		return &rsa.PSSOptions{SaltLength: r.SaltLength, Hash: h}, nil
	case SchemeEd25519:
		if len(r.Context) == 0 {
			return h, nil
		}
		return &ed25519.Options{Hash: h, Context: string(r.Context)}, nil
	case SchemeEd448:
		return ed448.SignerOptions{Scheme: ed448.ED448, Context: string(r.Context)}, nil
	case SchemeEd448ph:
		return ed448.SignerOptions{Scheme: ed448.ED448Ph, Context: string(r.Context)}, nil
	case SchemeMLDSA:
		return backend.MLDSAOptions{Context: r.Context}, nil
	}
	return h, nil
}

// KeyID returns the request's key ID, nil when none was given; a malformed
// one fails with [backend.ErrInvalidInput].
func KeyID(hexID string) (backend.KeyID, error) {
	if hexID == "" {
		return nil, nil
	}
	return backend.ParseKeyID(hexID)
}
