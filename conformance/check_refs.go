package conformance

import (
	"context"
	"crypto"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
)

// cheapestCreatable returns the algorithm in scope that is cheapest to make
// a key of on this backend, generated or else imported.
func (r *runner) cheapestCreatable() (backend.Algorithm, bool) {
	if a, ok := r.cheapestGenerated(); ok {
		return a, true
	}
	if _, ok := r.backend().(backend.Importer); !ok {
		return "", false
	}
	for _, a := range []backend.Algorithm{
		backend.ECDSAP256, backend.Ed25519, backend.ECDSAP384, backend.MLKEM768, backend.MLDSA44,
		backend.ECDSAP521, backend.Ed448, backend.MLKEM1024, backend.MLDSA65, backend.MLDSA87,
		backend.RSA2048, backend.RSA3072, backend.RSA4096,
	} {
		for _, s := range r.algs {
			if s == a && r.caps.Supports(a, backend.OpImport) {
				return a, true
			}
		}
	}
	return "", false
}

// createKey makes a new key of a labelled label with a random ID, generated
// or imported from a fresh key of the suite's, tracked for cleanup.
func (r *runner) createKey(ctx context.Context, a backend.Algorithm, label string) (backend.Key, error) {
	b := r.backend()
	spec := backend.KeySpec{Algorithm: a, Label: label, ID: randomBytes(16)}
	r.track(label)
	if r.caps.Supports(a, backend.OpGenerate) {
		return b.GenerateKey(ctx, spec)
	}
	priv, err := privkey.Generate(a)
	if err != nil {
		return nil, err
	}
	return b.(backend.Importer).ImportKey(ctx, spec, priv)
}

// deleteOwn deletes a key this check made, by its ID and label.
func (r *runner) deleteOwn(c *cell, k backend.Key) {
	c.t.Helper()
	if k == nil {
		return
	}
	if err := r.backend().DeleteKey(c.ctx, backend.KeyRef{ID: k.ID(), Label: k.Label()}); err != nil && !errors.Is(err, backend.ErrKeyNotFound) {
		c.callFailed("delete "+k.Label(), err)
		return
	}
	r.untrack(k.Label())
}

// checkLabels checks that labels are exact byte strings: a key labelled
// with a precomposed "é" (NFC) is not found by the decomposed form (NFD,
// "e" and a combining accent) nor by the label in another case; keys with
// those labels can be created beside it and are each found by their own
// label; Keys lists every one of them once, with its label byte for byte;
// and deleting one leaves the others. A store that normalises Unicode or
// folds case would hand a caller another key than the one named.
func checkLabels(r *runner, c *cell) {
	a, ok := r.cheapestCreatable()
	if !ok {
		c.Skip("the backend can neither generate nor import a key in scope")
	}
	b := r.backend()
	labels := []struct{ name, label string }{
		{"NFC", r.label("Clé-Été")},
		{"NFD", r.label("Cle\u0301-E\u0301te\u0301")},
		{"lower case", r.label("clé-été")},
	}
	upper := r.label("CLÉ-ÉTÉ")
	first, err := r.createKey(c.ctx, a, labels[0].label)
	if err != nil {
		c.callFatal(fmt.Sprintf("create a %s key labelled %q", a, labels[0].label), err)
	}
	keys := []backend.Key{first}
	defer func() {
		for _, k := range keys {
			r.deleteOwn(c, k)
		}
	}()
	for _, other := range []struct{ name, label string }{labels[1], labels[2], {"upper case", upper}} {
		got, err := b.Key(c.ctx, backend.ByLabel(other.label))
		if err == nil {
			c.failf(FaultCryptoplug, "ErrKeyNotFound: labels are exact bytes", fmt.Sprintf("the key labelled %q", got.Label()),
				"Key(%q), the %s form of an existing label, found the key labelled %q", other.label, other.name, got.Label())
			continue
		}
		wantErr(c, fmt.Sprintf("Key by the %s form of an existing label", other.name), err, backend.ErrKeyNotFound)
	}
	for _, l := range labels[1:] {
		k, err := r.createKey(c.ctx, a, l.label)
		if err != nil {
			c.failf(faultOf(err), "a new key: a label in another Unicode form or case is another label", gotErr(err),
				"create a key labelled with the %s form %q beside %q: %v", l.name, l.label, labels[0].label, err)
			continue
		}
		keys = append(keys, k)
	}
	for _, k := range keys {
		got, err := b.Key(c.ctx, backend.ByLabel(k.Label()))
		if err != nil {
			c.callFailed(fmt.Sprintf("Key(%q)", k.Label()), err)
			continue
		}
		sameKey(c, fmt.Sprintf("Key(%q)", k.Label()), got, k)
	}
	list, err := b.Keys(c.ctx)
	if err != nil {
		c.callFatal("Keys()", err)
	}
	for _, k := range keys {
		n := 0
		for _, l := range list {
			if l.ID().Equal(k.ID()) {
				n++
				if l.Label() != k.Label() {
					c.failf(FaultCryptoplug, fmt.Sprintf("label %q byte for byte", k.Label()), fmt.Sprintf("label %q", l.Label()),
						"Keys() lists the key labelled %q as %q", k.Label(), l.Label())
				}
			}
		}
		if n != 1 {
			c.failf(FaultCryptoplug, "listed once", fmt.Sprintf("listed %d times", n), "Keys() lists the key labelled %q %d times, want once", k.Label(), n)
		}
	}
	if len(keys) > 1 {
		gone := keys[1]
		if err := b.DeleteKey(c.ctx, backend.KeyRef{ID: gone.ID(), Label: gone.Label()}); err != nil {
			c.callFailed(fmt.Sprintf("DeleteKey(%q)", gone.Label()), err)
		} else {
			r.untrack(gone.Label())
			keys = append(keys[:1], keys[2:]...)
			if got, err := b.Key(c.ctx, backend.ByLabel(first.Label())); err != nil {
				c.failf(faultOf(err), fmt.Sprintf("the key labelled %q still there", first.Label()), gotErr(err),
					"deleting the key labelled %q took the one labelled %q with it: %v", gone.Label(), first.Label(), err)
			} else {
				sameKey(c, "the NFC key after deleting the NFD one", got, first)
			}
		}
	}
	c.Notef("%d %s keys with labels differing only in Unicode form or case: each found by its own label, listed once, deleted alone", len(keys)+1, a)
}

// checkDeleteRef checks DeleteKey and Key with a KeyRef whose ID names one
// key and whose label names another: the contract says both must match, so
// nothing matches: ErrKeyNotFound, and both keys are still there (a store
// that matches on the ID alone, as pkcs11-tool does, or on the label alone,
// deletes the wrong key). It then deletes one key, creates another under
// the same label, and checks that the handle obtained before the deletion
// fails rather than using the new key.
func checkDeleteRef(r *runner, c *cell) {
	a, ok := r.cheapestCreatable()
	if !ok {
		c.Skip("the backend can neither generate nor import a key in scope")
	}
	b := r.backend()
	ka, err := r.createKey(c.ctx, a, r.label("ref-a"))
	if err != nil {
		c.callFatal("create the first key", err)
	}
	kb, err := r.createKey(c.ctx, a, r.label("ref-b"))
	if err != nil {
		r.deleteOwn(c, ka)
		c.callFatal("create the second key", err)
	}
	keys := []backend.Key{ka, kb}
	defer func() {
		for _, k := range keys {
			r.deleteOwn(c, k)
		}
	}()
	mixed := backend.KeyRef{ID: ka.ID(), Label: kb.Label()}
	if got, err := b.Key(c.ctx, mixed); err == nil {
		c.failf(FaultCryptoplug, "ErrKeyNotFound: ID and label name different keys", fmt.Sprintf("the key labelled %q", got.Label()),
			"Key with the ID of %q and the label %q found %q; both must match", ka.Label(), kb.Label(), got.Label())
	} else {
		wantErr(c, "Key with one key's ID and another's label", err, backend.ErrKeyNotFound)
	}
	err = b.DeleteKey(c.ctx, mixed)
	_, errA := b.Key(c.ctx, backend.ByID(ka.ID()))
	_, errB := b.Key(c.ctx, backend.ByLabel(kb.Label()))
	switch {
	case err == nil && errA != nil:
		c.failf(FaultCryptoplug, "ErrKeyNotFound and nothing deleted", "the key with that ID deleted (the label ignored)",
			"DeleteKey with the ID of %q and the label of %q deleted %q: the label was not checked", ka.Label(), kb.Label(), ka.Label())
	case err == nil && errB != nil:
		c.failf(FaultCryptoplug, "ErrKeyNotFound and nothing deleted", "the key with that label deleted (the ID ignored)",
			"DeleteKey with the ID of %q and the label of %q deleted %q: the ID was not checked", ka.Label(), kb.Label(), kb.Label())
	default:
		wantErr(c, "DeleteKey with one key's ID and another's label", err, backend.ErrKeyNotFound)
		if errA != nil || errB != nil {
			c.failf(FaultCryptoplug, "both keys still there", fmt.Sprintf("lookups: %v; %v", errA, errB),
				"after a DeleteKey that matched nothing, a key is missing: %v; %v", errA, errB)
		}
	}

	// Delete ka, make a new key under its label, use ka's old handle.
	op := keyOperation(ka)
	probe := signProbe(ka)
	if err := b.DeleteKey(c.ctx, backend.KeyRef{ID: ka.ID(), Label: ka.Label()}); err != nil {
		c.callFatal("DeleteKey of the first key", err)
	}
	keys = keys[1:]
	kn, err := r.createKey(c.ctx, a, ka.Label())
	if err != nil {
		c.callFatal("create a new key under the deleted key's label", err)
	}
	keys = append(keys, kn)
	if op != nil {
		if err := op(c); err == nil {
			got := "success"
			if probe != nil && probe(c, kn.Public()) {
				got = "a signature by the new key that took the label"
			}
			c.failf(FaultCryptoplug, "an error from a deleted key's handle", got,
				"after DeleteKey and a new key under the same label, the old handle still works (%s): it must fail, not use another key", got)
		}
	}
	c.Notef("a mixed KeyRef matched nothing and deleted nothing; the old handle of a deleted key failed after its label was reused (%s keys)", a)
}

// signProbe returns a function that signs through k's Signer (obtained now)
// and reports whether the signature verifies under pub, or nil for a key
// that does not sign.
func signProbe(k backend.Key) func(c *cell, pub crypto.PublicKey) bool {
	s, err := k.Signer()
	if err != nil {
		return nil
	}
	a := k.Algorithm()
	return func(c *cell, pub crypto.PublicKey) bool {
		var input []byte
		var opts crypto.SignerOpts
		var sig []byte
		switch a.Family() {
		case backend.FamilyRSA:
			input, opts = randomDigest(crypto.SHA256), crypto.SHA256
			sig, err = s.SignContext(c.ctx, rand.Reader, input, opts)
		case backend.FamilyECDSA:
			input, opts = randomDigest(a.CurveHash()), a.CurveHash()
			sig, err = s.SignContext(c.ctx, rand.Reader, input, opts)
		default:
			ms, ok := s.(backend.MessageSigner)
			if !ok {
				return false
			}
			input, opts = randomBytes(20), crypto.Hash(0)
			sig, err = ms.SignMessageContext(c.ctx, rand.Reader, input, opts)
		}
		return err == nil && verify(pub, input, sig, opts) == nil
	}
}
