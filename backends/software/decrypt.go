//lint:file-ignore SA1019 the backend contract requires PKCS #1 v1.5 decryption, deprecated in Go 1.26

package software

import (
	"context"
	"crypto/rsa"

	// OAEP's allowed label and MGF1 hashes.
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"

	"github.com/cryptoplug/cryptoplug/backend"
)

// decryptFunc returns the store operation that decrypts with priv, for
// [backend.NewDecrypter]. Go 1.26 deprecates PKCS #1 v1.5 decryption (its
// error oracle is dangerous); the contract still requires it, and the
// adapter reduces every failure to the same rsa.ErrDecryption and applies
// SessionKeyLen's rule.
func (k *key) decryptFunc(priv *rsa.PrivateKey) backend.DecryptFunc {
	return func(ctx context.Context, req backend.DecryptRequest) ([]byte, error) {
		if err := k.enter(ctx); err != nil {
			return nil, err
		}
		defer k.leave()
		var (
			plaintext []byte
			err       error
		)
		if req.Scheme == backend.SchemeOAEP {
			plaintext, err = priv.Decrypt(nil, req.Ciphertext, &rsa.OAEPOptions{Hash: req.Hash, MGFHash: req.MGFHash, Label: req.Label})
		} else {
			plaintext, err = rsa.DecryptPKCS1v15(nil, priv, req.Ciphertext)
		}
		if err != nil {
			return nil, rsa.ErrDecryption
		}
		return plaintext, nil
	}
}
