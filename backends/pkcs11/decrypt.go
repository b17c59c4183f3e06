//lint:file-ignore SA1019 the backend contract requires PKCS #1 v1.5 decryption, deprecated in Go 1.26
//go:build cgo

package pkcs11

import (
	"context"
	"crypto/rsa"

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
	if req.Scheme == backend.SchemeOAEP {
		if err := k.checkOAEP(ctx, req.Hash, req.MGFHash, len(req.Label) > 0); err != nil {
			return nil, err
		}
		mech = oaepMechanism(req.Hash, req.MGFHash, req.Label)
	}
	plain, err := k.decryptOnToken(ctx, mech, req.Ciphertext)
	switch {
	case isBadCiphertext(err):
		return nil, rsa.ErrDecryption // the token's reason is not revealed
	case err != nil:
		return nil, err
	}
	return plain, nil
}

// decryptOnToken runs C_DecryptInit and C_Decrypt on a pooled session. A
// stale object handle is looked up again once.
func (k *key) decryptOnToken(ctx context.Context, mech []*pkcs11.Mechanism, ciphertext []byte) ([]byte, error) {
	var plain []byte
	err := k.b.withSession(ctx, func(s *session) error {
		h, err := k.object(s)
		if err != nil {
			return err
		}
		err = k.b.p11.DecryptInit(s.h, mech, h)
		if isHandleInvalid(err) {
			if h, err = k.refresh(s); err != nil {
				return err
			}
			err = k.b.p11.DecryptInit(s.h, mech, h)
		}
		if err != nil {
			return classify("C_DecryptInit", err)
		}
		plain, err = k.b.p11.Decrypt(s.h, ciphertext)
		if err != nil {
			return &decryptionError{err: err, ended: k.b.endDecrypt(s)}
		}
		return nil
	})
	if err != nil {
		return nil, err // what fn wrote is not read: an abandoned call may still write it
	}
	return plain, nil
}

// decryptionError is a failed C_Decrypt that is not a lost session: the
// ciphertext did not decrypt. ended says whether the operation is known to
// have ended on the session (see Backend.endDecrypt).
type decryptionError struct {
	err   error
	ended bool
}

func (e *decryptionError) Error() string { return "C_Decrypt: " + e.err.Error() }

// Unwrap exposes the return code only when the session, token or module
// was lost (see outageOf), so that withSession recovers from those and
// everything else stays a padding failure.
func (e *decryptionError) Unwrap() error {
	if isLost(e.err) {
		return e.err
	}
	return nil
}
