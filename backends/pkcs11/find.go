//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"errors"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
)

// findObjects returns the handles of every object matching tmpl.
func (b *Backend) findObjects(sh pkcs11.SessionHandle, tmpl []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	if err := b.p11.FindObjectsInit(sh, tmpl); err != nil {
		return nil, fmt.Errorf("C_FindObjectsInit: %w", err)
	}
	var out []pkcs11.ObjectHandle
	for {
		hs, _, err := b.p11.FindObjects(sh, 64)
		if err != nil {
			_ = b.p11.FindObjectsFinal(sh)
			return nil, fmt.Errorf("C_FindObjects: %w", err)
		}
		if len(hs) == 0 {
			break
		}
		out = append(out, hs...)
	}
	if err := b.p11.FindObjectsFinal(sh); err != nil {
		return nil, fmt.Errorf("C_FindObjectsFinal: %w", err)
	}
	return out, nil
}

// refTemplate matches objects of class by ref's ID and label.
func refTemplate(class uint, ref backend.KeyRef) []*pkcs11.Attribute {
	t := []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, class)}
	if len(ref.ID) > 0 {
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(ref.ID)))
	}
	if ref.Label != "" {
		t = append(t, pkcs11.NewAttribute(pkcs11.CKA_LABEL, ref.Label))
	}
	return t
}

// findPublic returns the public key object paired with a private key: the
// one with the same CKA_ID, or, for keys without an ID, the same label.
func (b *Backend) findPublic(sh pkcs11.SessionHandle, id backend.KeyID, label string) (pkcs11.ObjectHandle, error) {
	ref := backend.KeyRef{ID: id}
	if len(id) == 0 {
		ref.Label = label
	}
	if ref.Validate() != nil {
		return 0, errors.New("no CKA_ID or CKA_LABEL to find the public key object by")
	}
	hs, err := b.findObjects(sh, refTemplate(pkcs11.CKO_PUBLIC_KEY, ref))
	if err != nil {
		return 0, err
	}
	if len(hs) == 0 && len(id) > 0 && label != "" {
		// Tools that set the label on both halves but the ID on one.
		if hs, err = b.findObjects(sh, refTemplate(pkcs11.CKO_PUBLIC_KEY, backend.ByLabel(label))); err != nil {
			return 0, err
		}
	}
	switch len(hs) {
	case 0:
		return 0, errors.New("no public key object with the same CKA_ID")
	case 1:
		return hs[0], nil
	}
	return 0, fmt.Errorf("%d public key objects share CKA_ID %x", len(hs), []byte(id))
}

// Key finds the private key object matching ref's CKA_ID and CKA_LABEL.
// It fails with [backend.ErrKeyNotFound] when none matches,
// [backend.ErrInvalidInput] when several do (address the key by ID),
// [backend.ErrUnsupported] for a key type or size cryptoplug does not
// handle, and [backend.ErrCorrupt] when the object's attributes (or its
// missing public half) do not make a usable key.
func (b *Backend) Key(ctx context.Context, ref backend.KeyRef) (backend.Key, error) {
	const op = "find key"
	if err := b.check(ctx, op, ref.String()); err != nil {
		return nil, err
	}
	if err := ref.Validate(); err != nil {
		return nil, backend.Errorf(op, b.name, ref.String(), err)
	}
	var k *key
	err := b.withSession(ctx, func(s *session) error {
		var err error
		k, err = b.findKey(s, ref)
		return err
	})
	if errors.Is(err, errSkip) {
		err = fmt.Errorf("%w: %w", err, backend.ErrUnsupported)
	}
	if err != nil {
		return nil, backend.Errorf(op, b.name, ref.String(), err)
	}
	return k, nil
}

func (b *Backend) findKey(s *session, ref backend.KeyRef) (*key, error) {
	hs, err := b.findObjects(s.h, refTemplate(pkcs11.CKO_PRIVATE_KEY, ref))
	if err != nil {
		return nil, err
	}
	switch len(hs) {
	case 0:
		return nil, backend.ErrKeyNotFound
	case 1:
		return b.loadKey(s, hs[0])
	}
	return nil, fmt.Errorf("%d private keys match; address the key by id: %w", len(hs), backend.ErrInvalidInput)
}

// Keys lists the private keys on the token that cryptoplug can use. Objects
// of other types or sizes (DSA, RSA-1024, other curves) are left out. Keys
// whose objects are damaged are left out too, and reported in the error,
// which then wraps [backend.ErrCorrupt] alongside the usable keys returned.
func (b *Backend) Keys(ctx context.Context) ([]backend.Key, error) {
	const op = "list keys"
	if err := b.check(ctx, op, ""); err != nil {
		return nil, err
	}
	var (
		keys []backend.Key
		bad  []error
	)
	err := b.withSession(ctx, func(s *session) error {
		keys, bad = nil, nil
		hs, err := b.findObjects(s.h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY)})
		if err != nil {
			return err
		}
		for _, h := range hs {
			k, err := b.loadKey(s, h)
			switch {
			case err == nil:
				keys = append(keys, k)
			case errors.Is(err, errSkip):
			case errors.Is(err, backend.ErrCorrupt):
				bad = append(bad, err)
			default:
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, backend.Errorf(op, b.name, "", err)
	}
	return keys, backend.Errorf(op, b.name, "", errors.Join(bad...))
}

// DeleteKey destroys the private key object ref names and its public key
// object. Key values obtained earlier fail their operations with an error
// wrapping [backend.ErrKeyNotFound].
func (b *Backend) DeleteKey(ctx context.Context, ref backend.KeyRef) error {
	const op = "delete key"
	if err := b.check(ctx, op, ref.String()); err != nil {
		return err
	}
	if err := ref.Validate(); err != nil {
		return backend.Errorf(op, b.name, ref.String(), err)
	}
	b.createMu.Lock()
	defer b.createMu.Unlock()
	err := b.withSession(ctx, func(s *session) error {
		hs, err := b.findObjects(s.h, refTemplate(pkcs11.CKO_PRIVATE_KEY, ref))
		if err != nil {
			return err
		}
		switch len(hs) {
		case 0:
			return backend.ErrKeyNotFound
		case 1:
		default:
			return fmt.Errorf("%d private keys match; address the key by id: %w", len(hs), backend.ErrInvalidInput)
		}
		v, err := attrs(b.p11, s.h, hs[0], pkcs11.CKA_ID, pkcs11.CKA_LABEL)
		if err != nil {
			return fmt.Errorf("C_GetAttributeValue: %w", err)
		}
		// The public half: same ID (or, without an ID, same label).
		pubRef := backend.KeyRef{ID: v[0]}
		if len(v[0]) == 0 {
			pubRef.Label = string(v[1])
		}
		var pubs []pkcs11.ObjectHandle
		if pubRef.Validate() == nil {
			if pubs, err = b.findObjects(s.h, refTemplate(pkcs11.CKO_PUBLIC_KEY, pubRef)); err != nil {
				return err
			}
		}
		defer b.mod.Objects.Add(1) // even after a failure: the token may have destroyed it
		if err := b.p11.DestroyObject(s.h, hs[0]); err != nil {
			return classify("C_DestroyObject", err)
		}
		for _, h := range pubs {
			if err := b.p11.DestroyObject(s.h, h); err != nil {
				return classify("C_DestroyObject (public key)", err)
			}
		}
		return nil
	})
	return backend.Errorf(op, b.name, ref.String(), err)
}

// refresh finds k's private key object again in s: after the token
// reported its handle invalid (deleted, or renumbered after the sessions
// were reopened), and before the handle's first use in a newer session
// generation (see objectRef). The object must still carry k's ID and label
// and the same public key, so a key deleted and replaced under the same
// name — or another token put in the place of k's — is not used in its
// place.
func (k *key) refresh(s *session) (pkcs11.ObjectHandle, error) {
	ref := backend.KeyRef{ID: k.id, Label: k.label}
	if ref.Validate() != nil {
		return 0, backend.ErrKeyNotFound
	}
	nk, err := k.b.findKey(s, ref)
	if err != nil {
		if isLost(err) {
			return 0, err
		}
		return 0, fmt.Errorf("key object is gone: %w", err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if eq, ok := k.pub.(equaler); !ok || !eq.Equal(nk.pub) {
		return 0, fmt.Errorf("key object was replaced by a different key: %w", backend.ErrKeyNotFound)
	}
	o := nk.obj.Load()
	k.obj.Store(o)
	return o.h, nil
}
