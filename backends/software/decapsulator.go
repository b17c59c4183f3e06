package software

import (
	"context"
	"crypto"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
)

const opDecapsulate = "decapsulate"

var _ backend.Decapsulator = (*mlkemDecapsulator)(nil)

// mlkemDecapsulator decapsulates ML-KEM-768 and ML-KEM-1024 ciphertexts with
// crypto/mlkem.
type mlkemDecapsulator struct {
	k              *key
	dk             crypto.Decapsulator // *mlkem.DecapsulationKey768 or *mlkem.DecapsulationKey1024
	ciphertextSize int
}

// Encapsulator returns the public key (*mlkem.EncapsulationKey768 or
// *mlkem.EncapsulationKey1024), the same value as the key's Public. It
// works after Close: it holds no secret.
func (d *mlkemDecapsulator) Encapsulator() crypto.Encapsulator {
	return d.k.pub.(crypto.Encapsulator)
}

// Decapsulate returns the shared key for ciphertext, as crypto/mlkem does: a
// malformed ciphertext of the right length yields the implicit-rejection
// key, not an error. A ciphertext of the wrong length fails with
// [backend.ErrInvalidInput].
func (d *mlkemDecapsulator) Decapsulate(ciphertext []byte) ([]byte, error) {
	if err := d.k.enter(opDecapsulate); err != nil {
		return nil, err
	}
	defer d.k.leave()
	if len(ciphertext) != d.ciphertextSize {
		return nil, d.k.fail(opDecapsulate, fmt.Errorf("ciphertext is %d bytes, %s needs %d: %w",
			len(ciphertext), d.k.alg, d.ciphertextSize, backend.ErrInvalidInput))
	}
	shared, err := d.dk.Decapsulate(ciphertext)
	if err != nil {
		return nil, d.k.fail(opDecapsulate, err)
	}
	return shared, nil
}

// DecapsulateContext is Decapsulate after a check of ctx.
func (d *mlkemDecapsulator) DecapsulateContext(ctx context.Context, ciphertext []byte) ([]byte, error) {
	if err := d.k.ctxErr(ctx, opDecapsulate); err != nil {
		return nil, err
	}
	return d.Decapsulate(ciphertext)
}
