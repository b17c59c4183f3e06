package remote

import (
	"context"
	"io"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

// sign is the key's store operation for [backend.NewSigner]: POST /v1/sign
// with the parsed request, so the server signs under exactly the scheme,
// hash, salt length and context asked for here. A key whose policy needs
// approvals makes it wait for them within ctx (see [Backend.settle]).
// rand is not used.
func (k *Key) sign(ctx context.Context, _ io.Reader, req backend.SignRequest) ([]byte, error) {
	sig, err := k.b.c.Sign(ctx, wire.NewSignRequest(k.label, k.id, req))
	if res, parked, err := k.b.settle(ctx, err); parked || err != nil {
		return res.Signature, err
	}
	return sig, nil
}
