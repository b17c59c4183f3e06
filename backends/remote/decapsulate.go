package remote

import (
	"context"

	"github.com/cryptoplug/cryptoplug/wire"
)

// decapsulate is the key's store operation for [backend.NewDecapsulator]:
// POST /v1/decapsulate.
func (k *Key) decapsulate(ctx context.Context, ciphertext []byte) ([]byte, error) {
	req := wire.DecapsulateRequest{Label: k.label, Ciphertext: ciphertext}
	if len(k.id) > 0 {
		req.ID = k.id.String()
	}
	return k.b.c.Decapsulate(ctx, req)
}
