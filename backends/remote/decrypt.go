package remote

import (
	"context"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

// decrypt is the key's store operation for [backend.NewDecrypter]: POST
// /v1/decrypt. SessionKeyLen travels with the request, so the server
// replaces a bad padding with random bytes on its side and no answer over
// the network tells them apart.
//
// A key whose policy needs approvals makes it wait for them within ctx.
func (k *Key) decrypt(ctx context.Context, req backend.DecryptRequest) ([]byte, error) {
	pt, err := k.b.c.Decrypt(ctx, wire.NewDecryptRequest(k.label, k.id, req))
	if res, parked, err := k.b.settle(ctx, err); parked || err != nil {
		return res.Plaintext, err
	}
	return pt, nil
}
