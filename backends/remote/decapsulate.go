package remote

import (
	"context"

	"github.com/cryptoplug/cryptoplug/wire"
)

// decapsulate is the key's store operation for [backend.NewDecapsulator]:
// POST /v1/decapsulate. A key whose policy needs approvals makes it wait
// for them within ctx.
func (k *Key) decapsulate(ctx context.Context, ciphertext []byte) ([]byte, error) {
	req := wire.DecapsulateRequest{Label: k.label, Ciphertext: ciphertext}
	if len(k.id) > 0 {
		req.ID = k.id.String()
	}
	key, err := k.b.c.Decapsulate(ctx, req)
	if res, parked, err := k.b.settle(ctx, err); parked || err != nil {
		return res.SharedKey, err
	}
	return key, nil
}
