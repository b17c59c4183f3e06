package software

import (
	"context"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
)

// GenerateKey creates a key from spec with crypto/rand. A zero spec.ID gets a
// random 16-byte ID. It fails with [backend.ErrKeyExists] when the label or
// ID is taken (also by an unreadable key file) and [backend.ErrInvalidInput]
// for a malformed spec. The context is checked before generating and again
// before the key is stored, so a cancelled caller never gets a key stored
// behind its back; generation itself (up to seconds for RSA-4096) is not
// interrupted.
func (s *store) GenerateKey(ctx context.Context, spec backend.KeySpec) (backend.Key, error) {
	const op = "generate key"
	if err := s.check(ctx, op, spec.Label); err != nil {
		return nil, err
	}
	spec, err := s.prepare(op, spec)
	if err != nil {
		return nil, err
	}
	priv, err := privkey.Generate(spec.Algorithm)
	if err != nil {
		return nil, backend.Errorf(op, s.name, spec.Label, err)
	}
	defer privkey.Wipe(priv)
	if err := s.check(ctx, op, spec.Label); err != nil {
		return nil, err
	}
	return s.add(op, spec, priv)
}
