package software

import (
	"context"
	"crypto"

	"github.com/cryptoplug/cryptoplug/backend"
)

// ImportKey stores a copy of priv (see [backend.Importer] for the accepted
// types) under spec. The caller keeps priv; the store never modifies it. It
// fails with [backend.ErrInvalidInput] when priv's type or size does not
// match spec.Algorithm or the key is inconsistent (an Ed25519 key whose
// public half does not match its seed, an RSA key that fails Validate), and
// with [backend.ErrKeyExists] for a duplicate label or ID.
func (s *store) ImportKey(ctx context.Context, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
	const op = "import key"
	if err := s.check(ctx, op, spec.Label); err != nil {
		return nil, err
	}
	spec, err := s.prepare(op, spec)
	if err != nil {
		return nil, err
	}
	return s.add(op, spec, priv)
}
