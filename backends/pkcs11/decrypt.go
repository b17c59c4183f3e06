//lint:file-ignore SA1019 the backend contract requires PKCS #1 v1.5 decryption, deprecated in Go 1.26
//go:build cgo

package pkcs11

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
)

// decrypt is the key's store operation for [backend.NewDecrypter]: OAEP
// (Hash, MGFHash and Label are all passed to the token, which may refuse
// them with [backend.ErrUnsupported]) or PKCS #1 v1.5 through CKM_RSA_PKCS.
// A ciphertext that does not decrypt fails with [rsa.ErrDecryption]; the
// token's reason is not revealed. The adapter applies SessionKeyLen.
func (k *key) decrypt(ctx context.Context, req backend.DecryptRequest) ([]byte, error) {
	mech := mechRSAPKCS
	ignoredLabel := false // see quirks.oaepIgnoresLabel
	if req.Scheme == backend.SchemeOAEP {
		label := req.Label
		if len(label) > 0 && k.b.quirks.oaepIgnoresLabel {
			// The token decrypts as if the label were empty. A ciphertext
			// it accepts so was made with the empty label, not this one:
			// a decryption error, which the caller could learn anyway by
			// decrypting without a label. One it refuses may be a valid
			// ciphertext for this label, which this token cannot check.
			ignoredLabel = true
			label = nil
		}
		params := pkcs11.NewOAEPParams(hashMechs[req.Hash].mech, hashMechs[req.MGFHash].mgf, pkcs11.CKZ_DATA_SPECIFIED, label)
		mech = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP, params)}
	}

	var plain []byte
	err := k.b.withSession(ctx, func(s *session) error {
		h := pkcs11.ObjectHandle(k.handle.Load())
		err := k.b.p11.DecryptInit(s.h, mech, h)
		if isHandleInvalid(err) {
			if h, err = k.refresh(s.h); err != nil {
				return err
			}
			err = k.b.p11.DecryptInit(s.h, mech, h)
		}
		if err != nil {
			return classify("C_DecryptInit", err)
		}
		plain, err = k.b.p11.Decrypt(s.h, req.Ciphertext)
		if err != nil {
			return &decryptionError{err}
		}
		return nil
	})
	var de *decryptionError
	badCiphertext := errors.As(err, &de) && !isSessionLost(err)
	switch {
	case ignoredLabel && err == nil:
		clear(plain)
		return nil, rsa.ErrDecryption
	case ignoredLabel && badCiphertext:
		return nil, fmt.Errorf("this token ignores OAEP labels, so it cannot decrypt a ciphertext made with one: %w", backend.ErrUnsupported)
	case badCiphertext:
		return nil, rsa.ErrDecryption
	case err != nil:
		return nil, err
	}
	return plain, nil
}

// decryptionError is a failed C_Decrypt that is not a lost session: the
// ciphertext did not decrypt.
type decryptionError struct{ err error }

func (e *decryptionError) Error() string { return "C_Decrypt: " + e.err.Error() }

// Unwrap exposes the return code only when the session was lost, so that
// withSession retries those and everything else stays a padding failure.
func (e *decryptionError) Unwrap() error {
	if isSessionLost(e.err) {
		return e.err
	}
	return nil
}
