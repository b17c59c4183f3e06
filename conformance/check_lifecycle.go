//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract, so the suite must exercise it

package conformance

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"

	"github.com/cryptoplug/cryptoplug/backend"
)

// sameKey records a failure unless got is the key want names.
func sameKey(c *cell, what string, got, want backend.Key) {
	c.t.Helper()
	switch {
	case !got.ID().Equal(want.ID()):
		c.failf(FaultCryptoplug, "ID "+want.ID().String(), "ID "+got.ID().String(), "%s: ID %s, want %s", what, got.ID(), want.ID())
	case got.Label() != want.Label():
		c.failf(FaultCryptoplug, fmt.Sprintf("label %q", want.Label()), fmt.Sprintf("label %q", got.Label()), "%s: label %q, want %q", what, got.Label(), want.Label())
	case got.Algorithm() != want.Algorithm():
		c.failf(FaultCryptoplug, string(want.Algorithm()), string(got.Algorithm()), "%s: algorithm %s, want %s", what, got.Algorithm(), want.Algorithm())
	case !publicEqual(got.Public(), want.Public()):
		c.failf(FaultCryptoplug, "the same public key", "a different public key", "%s: a different public key", what)
	}
}

// specUsage is the Usage to put in a KeySpec for a key like the shared key
// of usage u.
func specUsage(a backend.Algorithm, u backend.Usage) backend.Usage {
	if u == naturalUsage(a) {
		return 0
	}
	return u
}

// checkLifecycle finds each shared key by ID, by label and by both, checks
// that a mismatched ID and label find nothing, that Keys lists it exactly
// once, and that creating another key with its label or its ID fails with
// ErrKeyExists (by GenerateKey and, where claimed, ImportKey).
func checkLifecycle(r *runner, c *cell, a backend.Algorithm) {
	us := r.usages(a)
	if len(us) == 0 {
		r.need(c, a, usageOp(naturalUsage(a)))
	}
	b := r.backend()
	for _, u := range us {
		k := r.key(c, a, u)
		id, label := k.ID(), k.Label()
		name := usageName(u) + " key"
		for _, ref := range []backend.KeyRef{backend.ByID(id), backend.ByLabel(label), {ID: id, Label: label}} {
			got, err := b.Key(c.ctx, ref)
			if err != nil {
				c.callFailed(fmt.Sprintf("%s: Key(%s)", name, ref), err)
				continue
			}
			sameKey(c, fmt.Sprintf("%s: Key(%s)", name, ref), got, k)
		}
		_, err := b.Key(c.ctx, backend.KeyRef{ID: id, Label: label + "-other"})
		wantErr(c, name+": Key with its ID and another label", err, backend.ErrKeyNotFound)

		list, err := b.Keys(c.ctx)
		if err != nil {
			c.callFailed("Keys()", err)
		} else {
			found := 0
			for _, l := range list {
				if l.Label() == label {
					found++
					sameKey(c, name+": Keys() entry", l, k)
				}
			}
			if found != 1 {
				c.failf(FaultCryptoplug, "listed once", fmt.Sprintf("listed %d times", found), "%s: Keys() lists it %d times, want once", name, found)
			}
		}

		if r.caps.Supports(a, backend.OpGenerate) {
			dupLabel := backend.KeySpec{Algorithm: a, Label: label, ID: randomBytes(16), Usage: specUsage(a, u)}
			r.createMustFail(c, name+": GenerateKey with an existing label", dupLabel, func() (backend.Key, error) {
				return b.GenerateKey(c.ctx, dupLabel)
			})
			dupID := backend.KeySpec{Algorithm: a, Label: r.label(string(a), usageName(u), "dup-id"), ID: id, Usage: specUsage(a, u)}
			r.createMustFail(c, name+": GenerateKey with an existing ID", dupID, func() (backend.Key, error) {
				return b.GenerateKey(c.ctx, dupID)
			})
		}
		if imp, ok := b.(backend.Importer); ok && r.caps.Supports(a, backend.OpImport) {
			priv, err := r.stdlibKey(a)
			if err != nil {
				c.suiteFatal("make a key to import: %v", err)
			}
			dupLabel := backend.KeySpec{Algorithm: a, Label: label, ID: randomBytes(16), Usage: specUsage(a, u)}
			r.createMustFail(c, name+": ImportKey with an existing label", dupLabel, func() (backend.Key, error) {
				return imp.ImportKey(c.ctx, dupLabel, priv)
			})
		}
		c.Notef("%s found by ID, label and both, listed once, duplicates refused", name)
	}
}

// createMustFail runs create, which must fail with ErrKeyExists. A key it
// makes anyway is deleted again, by its own ID and the label asked for.
func (r *runner) createMustFail(c *cell, what string, spec backend.KeySpec, create func() (backend.Key, error)) {
	c.t.Helper()
	if r.ours(spec.Label) {
		r.track(spec.Label)
	}
	k, err := create()
	if err == nil {
		c.failf(FaultCryptoplug, "ErrKeyExists", "success", "%s: succeeded, want an error wrapping %q", what, backend.ErrKeyExists)
		if r.ours(k.Label()) {
			_ = r.backend().DeleteKey(c.ctx, backend.KeyRef{ID: k.ID(), Label: k.Label()})
		}
		return
	}
	wantErr(c, what, err, backend.ErrKeyExists)
}

// cheapestGenerated returns the algorithm in scope that is cheapest to
// generate on this backend, for checks that need any key at all.
func (r *runner) cheapestGenerated() (backend.Algorithm, bool) {
	for _, a := range []backend.Algorithm{
		backend.ECDSAP256, backend.Ed25519, backend.ECDSAP384, backend.MLKEM768, backend.MLDSA44,
		backend.ECDSAP521, backend.Ed448, backend.MLKEM1024, backend.MLDSA65, backend.MLDSA87,
		backend.RSA2048, backend.RSA3072, backend.RSA4096,
	} {
		for _, s := range r.algs {
			if s == a && r.caps.Supports(a, backend.OpGenerate) {
				return a, true
			}
		}
	}
	return "", false
}

// checkLifecycleBackend checks lookups of keys that do not exist
// (ErrKeyNotFound, also from DeleteKey), an empty KeyRef, GenerateKey with
// malformed specs (ErrInvalidInput: an empty label, a control character, a
// 256-byte label, a 65-byte ID, an unknown algorithm, a usage the algorithm
// cannot have), and a key with the largest label (255 bytes of multi-byte
// UTF-8) and ID (64 bytes) allowed, which must be found by exactly those and
// not by one byte less.
func checkLifecycleBackend(r *runner, c *cell) {
	b := r.backend()
	absent := r.label("absent")
	_, err := b.Key(c.ctx, backend.ByLabel(absent))
	wantErr(c, "Key of a label nobody uses", err, backend.ErrKeyNotFound)
	_, err = b.Key(c.ctx, backend.ByID(randomBytes(16)))
	wantErr(c, "Key of a random ID", err, backend.ErrKeyNotFound)
	err = b.DeleteKey(c.ctx, backend.ByLabel(absent))
	wantErr(c, "DeleteKey of a label nobody uses", err, backend.ErrKeyNotFound)
	_, err = b.Key(c.ctx, backend.KeyRef{})
	wantErr(c, "Key of an empty KeyRef", err, backend.ErrInvalidInput, backend.ErrKeyNotFound)

	a, ok := r.cheapestGenerated()
	if !ok {
		c.Notef("no algorithm claims generate: malformed KeySpecs not tried")
		return
	}
	badUsage := backend.UsageDecapsulate
	if a.Decapsulates() {
		badUsage = backend.UsageSign
	}
	for _, tc := range []struct {
		name string
		spec backend.KeySpec
		want []error
	}{
		{"an empty label", backend.KeySpec{Algorithm: a}, nil},
		{"a newline in the label", backend.KeySpec{Algorithm: a, Label: r.label("new\nline")}, nil},
		{"a 256-byte label", backend.KeySpec{Algorithm: a, Label: r.label(strings.Repeat("x", 256))}, nil},
		{"a 65-byte ID", backend.KeySpec{Algorithm: a, Label: r.label("long-id"), ID: randomBytes(65)}, nil},
		{"an unknown algorithm", backend.KeySpec{Algorithm: "RSA-1024", Label: r.label("rsa-1024")},
			[]error{backend.ErrInvalidInput, backend.ErrUnsupported}},
		{"a usage " + string(a) + " cannot have", backend.KeySpec{Algorithm: a, Label: r.label("bad-usage"), Usage: badUsage}, nil},
	} {
		want := tc.want
		if want == nil {
			want = []error{backend.ErrInvalidInput}
		}
		if r.ours(tc.spec.Label) {
			r.track(tc.spec.Label)
		}
		k, err := b.GenerateKey(c.ctx, tc.spec)
		if err == nil && r.ours(k.Label()) {
			_ = b.DeleteKey(c.ctx, backend.KeyRef{ID: k.ID(), Label: k.Label()})
		}
		wantErr(c, "GenerateKey with "+tc.name, err, want...)
	}

	// Boundaries the contract allows must work: a 255-byte label of
	// multi-byte UTF-8, a 64-byte ID; and lookups match labels exactly.
	long := r.label("ключ-ü-🔑")
	long += strings.Repeat("é", (backend.MaxLabelLen-len(long)-1)/2)
	long += strings.Repeat("x", backend.MaxLabelLen-len(long)) // at least one: the label ends in ASCII
	spec := backend.KeySpec{Algorithm: a, Label: long, ID: randomBytes(backend.MaxKeyIDLen)}
	r.track(spec.Label)
	k, err := b.GenerateKey(c.ctx, spec)
	if err != nil {
		c.callFailed(fmt.Sprintf("GenerateKey with a %d-byte UTF-8 label and a %d-byte ID (both the largest allowed)", len(long), len(spec.ID)), err)
	} else {
		for _, ref := range []backend.KeyRef{backend.ByLabel(long), backend.ByID(spec.ID)} {
			if got, err := b.Key(c.ctx, ref); err != nil {
				c.callFailed(fmt.Sprintf("Key(%s) of the key with the longest label and ID", ref), err)
			} else {
				sameKey(c, "Key of the key with the longest label and ID", got, k)
			}
		}
		_, err = b.Key(c.ctx, backend.ByLabel(long[:len(long)-1]))
		wantErr(c, "Key by a label one byte shorter than an existing one", err, backend.ErrKeyNotFound)
		_, err = b.Key(c.ctx, backend.ByID(spec.ID[:len(spec.ID)-1]))
		wantErr(c, "Key by an ID one byte shorter than an existing one", err, backend.ErrKeyNotFound)
		if err := b.DeleteKey(c.ctx, backend.KeyRef{ID: spec.ID, Label: long}); err != nil {
			c.callFailed("DeleteKey of the key with the longest label and ID", err)
		}
	}
	c.Notef("malformed KeySpecs refused and the largest label and ID accepted, tried with %s", a)
}

// checkDelete deletes each shared key of a (by ID and label) and checks it is
// gone: Key by ID and by label and a second DeleteKey give ErrKeyNotFound,
// Keys no longer lists it, and the Signer, Decrypter or Decapsulator
// obtained before fails.
func checkDelete(r *runner, c *cell, a backend.Algorithm) {
	us := r.usages(a)
	if len(us) == 0 {
		r.need(c, a, usageOp(naturalUsage(a)))
	}
	b := r.backend()
	deleted := 0
	for _, u := range us {
		k := r.existingKey(a, u)
		if k == nil {
			continue
		}
		name := usageName(u) + " key"
		op := keyOperation(k)
		ref := backend.KeyRef{ID: k.ID(), Label: k.Label()}
		if err := b.DeleteKey(c.ctx, ref); err != nil {
			c.callFailed(fmt.Sprintf("%s: DeleteKey(%s)", name, ref), err)
			continue
		}
		deleted++
		r.mu.Lock()
		r.fixtures[fixtureKey{a, u}].dead = true
		r.mu.Unlock()
		_, err := b.Key(c.ctx, backend.ByID(ref.ID))
		wantErr(c, name+": Key by ID after DeleteKey", err, backend.ErrKeyNotFound)
		_, err = b.Key(c.ctx, backend.ByLabel(ref.Label))
		wantErr(c, name+": Key by label after DeleteKey", err, backend.ErrKeyNotFound)
		err = b.DeleteKey(c.ctx, ref)
		wantErr(c, name+": DeleteKey again", err, backend.ErrKeyNotFound)
		if list, err := b.Keys(c.ctx); err != nil {
			c.callFailed("Keys()", err)
		} else {
			for _, l := range list {
				if l.ID().Equal(ref.ID) || l.Label() == ref.Label {
					c.failf(FaultCryptoplug, "not listed after DeleteKey", "still listed", "%s: Keys() still lists it after DeleteKey", name)
				}
			}
		}
		if op != nil {
			if err := op(c); err == nil {
				c.failf(FaultCryptoplug, "an error from a deleted key's handle", "success", "%s: an operation through the handle obtained before DeleteKey succeeded; it must fail", name)
			}
		}
	}
	if deleted == 0 {
		c.Skip("no shared %s key was made in this run, so none to delete", a)
	}
	c.Notef("%d shared key(s) deleted", deleted)
}

// keyOperation returns a function that performs one operation through k's
// Signer, Decrypter or Decapsulator, obtained now, or nil if k offers none.
func keyOperation(k backend.Key) func(c *cell) error {
	a := k.Algorithm()
	if s, err := k.Signer(); err == nil {
		return func(c *cell) error {
			switch a.Family() {
			case backend.FamilyRSA:
				_, err := s.SignContext(c.ctx, rand.Reader, randomDigest(crypto.SHA256), crypto.SHA256)
				return err
			case backend.FamilyECDSA:
				_, err := s.SignContext(c.ctx, rand.Reader, randomDigest(a.CurveHash()), a.CurveHash())
				return err
			}
			ms, ok := s.(backend.MessageSigner)
			if !ok {
				return errors.New("not a MessageSigner")
			}
			_, err := ms.SignMessageContext(c.ctx, rand.Reader, randomBytes(20), crypto.Hash(0))
			return err
		}
	}
	if d, err := k.Decrypter(); err == nil {
		pub := k.Public().(*rsa.PublicKey)
		return func(c *cell) error {
			ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, randomBytes(16))
			if err != nil {
				return nil // cannot tell; treat as not failing so the caller reports it
			}
			_, err = d.DecryptContext(c.ctx, rand.Reader, ct, nil)
			return err
		}
	}
	if d, err := k.Decapsulator(); err == nil {
		if ek, ok := k.Public().(crypto.Encapsulator); ok {
			return func(c *cell) error {
				_, ct := ek.Encapsulate()
				_, err := d.DecapsulateContext(c.ctx, ct)
				return err
			}
		}
	}
	return nil
}
