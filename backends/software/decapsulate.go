package software

import (
	"context"
	"crypto"

	"github.com/cryptoplug/cryptoplug/backend"
)

// decapsulateFunc returns the store operation that decapsulates with dk
// (crypto/mlkem), for [backend.NewDecapsulator]: a malformed ciphertext of
// the right length yields the implicit-rejection key, not an error.
func (k *key) decapsulateFunc(dk crypto.Decapsulator) backend.DecapsulateFunc {
	return func(ctx context.Context, ciphertext []byte) ([]byte, error) {
		if err := k.enter(ctx); err != nil {
			return nil, err
		}
		defer k.leave()
		return dk.Decapsulate(ciphertext)
	}
}
