//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
)

// pssMechanism returns CKM_RSA_PKCS_PSS for a digest made with h, MGF1
// with h, and a salt of salt bytes.
func pssMechanism(h crypto.Hash, salt int) []*pkcs11.Mechanism {
	hm := hashMechs[h]
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(hm.mech, hm.mgf, uint(salt)))}
}

// signPSS signs req.Input with PSS and req.SaltLength. When the caller
// asked for rsa.PSSSaltLengthAuto (req.SaltAuto), which lets the signer
// choose, a token that refuses the largest salt — TPM-backed tokens do,
// because the TPM fixes the salt to the hash length — signs with the hash
// length instead; that signature is verified before it is returned, and
// the token is remembered as doing only that.
func (k *key) signPSS(ctx context.Context, req *backend.SignRequest) ([]byte, error) {
	h := req.Hash
	if req.SaltAuto && k.b.quirks.pssHashSaltOnly.Load() {
		return k.signPSSHashSalt(ctx, req.Input, h)
	}
	sig, err := k.signRaw(ctx, pssMechanism(h, req.SaltLength), req.Input)
	if !req.SaltAuto || req.SaltLength == h.Size() || !errors.Is(err, backend.ErrUnsupported) {
		return sig, err
	}
	sig, ferr := k.signPSSHashSalt(ctx, req.Input, h)
	if ferr != nil && !errors.Is(ferr, backend.ErrUnsupported) {
		// The token took the hash-length salt and then failed: its
		// defect is the answer, not the first refusal.
		return nil, fmt.Errorf("%v; with a salt as long as the hash: %w", err, ferr)
	}
	if ferr != nil {
		return nil, fmt.Errorf("%w; with a salt as long as the hash: %w", err, ferr)
	}
	k.b.quirks.pssHashSaltOnly.Store(true)
	return sig, nil
}

// signPSSHashSalt signs with a salt as long as the hash and verifies the
// signature: it answers a request for PSSSaltLengthAuto on a token that
// refused the salt asked for first, so it is checked before it is trusted.
func (k *key) signPSSHashSalt(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	sig, err := k.signRaw(ctx, pssMechanism(h, h.Size()), digest)
	if err != nil {
		return nil, err
	}
	if err := rsa.VerifyPSS(k.pub.(*rsa.PublicKey), h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
		return nil, fmt.Errorf("token produced a PSS signature that does not verify: %w", err)
	}
	return sig, nil
}
