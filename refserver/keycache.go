package refserver

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
)

// keyCache holds backend.Key handles by label, so that an operation costs one
// map read rather than a backend lookup. Entries go when the key is deleted
// or regenerated through this server, and when an operation through a cached
// handle reports the key gone. sync.Map: reads take no lock.
type keyCache struct {
	m sync.Map // label → backend.Key
}

func (c *keyCache) forget(label string) { c.m.Delete(label) }

func (c *keyCache) len() int {
	n := 0
	c.m.Range(func(any, any) bool { n++; return true })
	return n
}

// key returns the key labelled label, from the cache or the backend.
func (s *Server) key(ctx context.Context, label string) (backend.Key, error) {
	if v, ok := s.keys.m.Load(label); ok {
		return v.(backend.Key), nil
	}
	if err := checkLabel(label); err != nil {
		return nil, err
	}
	k, err := s.opts.Backend.Key(ctx, backend.ByLabel(label))
	if err != nil {
		return nil, err
	}
	s.keys.m.Store(label, k)
	return k, nil
}

// withKey runs op on the key labelled label, which must have ID id when id
// is not nil (else ErrKeyNotFound: the caller's handle names a key that was
// deleted and recreated under the same label), once the caller is found to
// hold the route's role in the key's group (see authorizeKey). If a cached
// handle turns out to name a key deleted behind the cache's back, it is
// dropped and op runs once more on a fresh lookup (and the group is checked
// again, on the fresh key's ID).
func (s *Server) withKey(rq *request, label string, id backend.KeyID, op func(backend.Key) error) error {
	ctx := rq.r.Context()
	for attempt := 0; ; attempt++ {
		_, cached := s.keys.m.Load(label)
		k, err := s.key(ctx, label)
		if err != nil {
			return err
		}
		_, err = s.authorizeKey(rq, k)
		switch {
		case err != nil:
		case id != nil && !k.ID().Equal(id):
			err = fmt.Errorf("key %q has another ID than the one asked for: %w", label, backend.ErrKeyNotFound)
		default:
			err = op(k)
		}
		if cached && attempt == 0 && (errors.Is(err, backend.ErrKeyNotFound) || errors.Is(err, backend.ErrClosed)) {
			s.keys.forget(label)
			continue
		}
		return err
	}
}

// authorizeKey checks that the caller holds the role that admitted it to
// the route in the group that owns k, and returns that group. A caller who
// is not a member of the key's group is told the key does not exist; a
// member without the role, that it is forbidden. Only then does the audit
// record name the key.
func (s *Server) authorizeKey(rq *request, k backend.Key) (string, error) {
	group, err := s.opts.Auth.AuthorizeKey(rq.r.Context(), rq.principal, k.ID().String(), rq.role)
	switch {
	case errors.Is(err, authn.ErrNotFound):
		return "", backend.Errorf("authorize", "", "", fmt.Errorf("%w (the caller is not a member of its group)", backend.ErrKeyNotFound))
	case err != nil:
		return "", err
	}
	rq.key = k.Label()
	return group, nil
}
