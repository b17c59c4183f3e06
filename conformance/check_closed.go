//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract, so the suite must exercise it

package conformance

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
)

// closedKey is a key handle obtained from the second instance before it was
// closed, with its operation.
type closedKey struct {
	usage backend.Usage
	op    func(ctx context.Context) error // one operation through the handle's Signer, Decrypter or Decapsulator
	err   error                           // why it could not be prepared
	skip  string                          // why there is nothing to try
}

// checkClosed opens a second instance of the backend, obtains a Signer,
// Decrypter or Decapsulator for each algorithm from it (the shared keys on a
// persistent backend, new keys otherwise), closes it, and checks that
// everything then fails with ErrClosed: the backend's methods, and the
// values obtained before Close. Info and Capabilities still answer; a second
// Close returns nil. The first instance, which the rest of the suite uses,
// must keep working.
//
// A persistent store that allows one open instance at a time (the software
// directory store holds a lock) is checked on the first instance instead,
// which is then reopened for the rest of the run.
func checkClosed(r *runner, t testT, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.checkTimeout)
	defer cancel()
	target, openErr := r.open(ctx)
	viaMain, note := false, ""
	if openErr != nil && r.info.Persistent {
		viaMain = true
		note = fmt.Sprintf("a second instance could not be opened while the first was open (%v), so the first was closed and reopened", openErr)
		target, openErr = r.backend(), nil
	}
	prepared := map[backend.Algorithm][]closedKey{}
	var closeErr, closeAgainErr, reopenErr error
	if openErr == nil {
		for _, a := range r.algs {
			for _, u := range r.usages(a) {
				prepared[a] = append(prepared[a], r.prepareClosed(ctx, target, viaMain, a, u))
			}
		}
		closeErr = target.Close()
		closeAgainErr = target.Close()
		if viaMain {
			reopenErr = r.replaceBackend(ctx)
		}
	}

	r.runCell(t, name, columnBackend, func(c *cell) {
		if openErr != nil {
			c.callFatal("open a second instance of the backend", openErr)
		}
		if note != "" {
			c.Notef("%s", note)
		}
		if closeErr != nil {
			c.callFailed("Close", closeErr)
		}
		if closeAgainErr != nil {
			c.failf(FaultCryptoplug, "nil from a second Close", gotErr(closeAgainErr), "second Close: %v; Close must be idempotent and return nil after the first", closeAgainErr)
		}
		if info := target.Info(); info.Name != r.info.Name {
			c.failf(FaultCryptoplug, "Info() unchanged after Close", "name "+info.Name, "Info() after Close: Name %q, want %q", info.Name, r.info.Name)
		}
		if caps := target.Capabilities(); len(caps) != len(r.caps) {
			c.failf(FaultCryptoplug, "Capabilities() unchanged after Close", fmt.Sprintf("%d algorithms", len(caps)), "Capabilities() after Close lists %d algorithms, before %d", len(caps), len(r.caps))
		}
		absent := backend.ByLabel(r.label("absent"))
		_, err := target.Key(c.ctx, absent)
		wantErr(c, "Key after Close", err, backend.ErrClosed)
		_, err = target.Keys(c.ctx)
		wantErr(c, "Keys after Close", err, backend.ErrClosed)
		err = target.DeleteKey(c.ctx, absent)
		wantErr(c, "DeleteKey after Close", err, backend.ErrClosed)
		if a, ok := r.cheapestGenerated(); ok {
			spec := backend.KeySpec{Algorithm: a, Label: r.label("after-close")}
			r.track(spec.Label)
			_, err = target.GenerateKey(c.ctx, spec)
			wantErr(c, "GenerateKey after Close", err, backend.ErrClosed)
		}
		if imp, ok := target.(backend.Importer); ok {
			for _, a := range r.algs {
				if !r.caps.Supports(a, backend.OpImport) {
					continue
				}
				priv, err := r.stdlibKey(a)
				if err != nil {
					c.suiteFatal("make a key to import: %v", err)
				}
				spec := backend.KeySpec{Algorithm: a, Label: r.label("after-close-import")}
				r.track(spec.Label)
				_, err = imp.ImportKey(c.ctx, spec, priv)
				wantErr(c, "ImportKey after Close", err, backend.ErrClosed)
				break
			}
		}
		if reopenErr != nil {
			c.callFailed("reopen the backend after closing it", reopenErr)
		}
		c.Notef("after Close: Info and Capabilities answer, the other methods give ErrClosed, a second Close returns nil")
	})

	for _, a := range r.algs {
		r.runCell(t, name, string(a), func(c *cell) {
			if openErr != nil {
				c.Skip("no second instance: %v", openErr)
			}
			if len(prepared[a]) == 0 {
				r.need(c, a, usageOp(naturalUsage(a)))
				c.Skip("no key operation to try")
			}
			tried, skip := 0, ""
			for _, p := range prepared[a] {
				what := usageName(p.usage) + " key"
				if p.skip != "" {
					skip = p.skip
					continue
				}
				if p.err != nil {
					c.callFailed(what+": prepare", p.err)
					continue
				}
				tried++
				wantErr(c, what+": operation through a handle obtained before Close", p.op(c.ctx), backend.ErrClosed)
				if viaMain {
					continue
				}
				if k := r.existingKey(a, p.usage); k != nil {
					if op := keyOperation(k); op != nil {
						if err := op(c); err != nil {
							c.callFailed(what+": the first instance after a second instance was closed", err)
						}
					}
				}
			}
			if tried == 0 && skip != "" && !c.failed() {
				c.Skip("%s", skip)
			}
			c.Notef("%d operation(s) refused with ErrClosed", tried)
		})
	}
}

// replaceBackend opens a new instance for the rest of the run, after the
// current one was closed, and looks the shared keys up again by ID.
func (r *runner) replaceBackend(ctx context.Context) error {
	nb, err := r.open(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.b = nb
	for _, f := range r.fixtures {
		if f.err != nil || f.dead {
			continue
		}
		k, err := nb.Key(ctx, backend.ByID(f.key.ID()))
		if err != nil {
			f.err = fmt.Errorf("not found after reopening the backend: %w", err)
			continue
		}
		f.key = k
	}
	return nil
}

// prepareClosed obtains a handle for a key of a and usage u from target,
// the instance about to be closed, and returns its operation: the shared key
// itself when target is the first instance, the shared key looked up by ID
// on a second instance of a persistent backend, and a new key otherwise
// (imported when the backend can, which is cheaper than generating RSA keys;
// tracked for cleanup, though closing an in-memory store discards it).
func (r *runner) prepareClosed(ctx context.Context, target backend.Backend, viaMain bool, a backend.Algorithm, u backend.Usage) closedKey {
	ck := closedKey{usage: u}
	var k backend.Key
	switch {
	case viaMain || r.info.Persistent:
		f, _ := r.ensureFixture(ctx, a, u)
		if f.err != nil {
			ck.err = fmt.Errorf("no shared key: %w", f.err)
			break
		}
		if viaMain {
			k = f.key
		} else {
			k, ck.err = target.Key(ctx, backend.ByID(f.key.ID()))
		}
	default:
		spec := backend.KeySpec{Algorithm: a, Label: r.label(string(a), usageName(u), "closed"), Usage: specUsage(a, u)}
		imp, ok := target.(backend.Importer)
		if ok && r.caps.Supports(a, backend.OpImport) {
			priv, err := r.stdlibKey(a)
			if err != nil {
				ck.err = err
				break
			}
			r.track(spec.Label)
			k, ck.err = imp.ImportKey(ctx, spec, priv)
		} else {
			k, _, ck.err = r.makeKey(ctx, target, spec)
		}
	}
	if ck.err != nil {
		if errors.Is(ck.err, errNoKeySource) {
			ck.err, ck.skip = nil, errNoKeySource.Error()
		}
		return ck
	}
	switch u {
	case backend.UsageSign:
		s, err := k.Signer()
		if err != nil {
			ck.err = fmt.Errorf("Signer(): %w", err)
			return ck
		}
		ms, pure := s.(backend.MessageSigner)
		ck.op = func(ctx context.Context) error {
			var err1, err2 error
			switch {
			case pure && a.SignsMessages():
				_, err1 = ms.SignMessage(rand.Reader, randomBytes(20), crypto.Hash(0))
				_, err2 = ms.SignMessageContext(ctx, rand.Reader, randomBytes(20), crypto.Hash(0))
			default:
				h := crypto.SHA256
				if a.Family() == backend.FamilyECDSA {
					h = a.CurveHash()
				}
				_, err1 = s.Sign(rand.Reader, randomDigest(h), h)
				_, err2 = s.SignContext(ctx, rand.Reader, randomDigest(h), h)
			}
			return bothErr(err1, err2)
		}
	case backend.UsageDecrypt:
		d, err := k.Decrypter()
		if err != nil {
			ck.err = fmt.Errorf("Decrypter(): %w", err)
			return ck
		}
		pub := k.Public().(*rsa.PublicKey)
		ck.op = func(ctx context.Context) error {
			ct, _ := rsa.EncryptPKCS1v15(rand.Reader, pub, randomBytes(16))
			_, err1 := d.Decrypt(rand.Reader, ct, nil)
			_, err2 := d.DecryptContext(ctx, rand.Reader, ct, nil)
			return bothErr(err1, err2)
		}
	case backend.UsageDecapsulate:
		d, err := k.Decapsulator()
		if err != nil {
			ck.err = fmt.Errorf("Decapsulator(): %w", err)
			return ck
		}
		ek, _ := k.Public().(crypto.Encapsulator)
		ck.op = func(ctx context.Context) error {
			_, ct := ek.Encapsulate()
			_, err1 := d.Decapsulate(ct)
			_, err2 := d.DecapsulateContext(ctx, ct)
			return bothErr(err1, err2)
		}
	}
	return ck
}

// bothErr returns the error of the context-free call and the context call
// when they agree on ErrClosed, and otherwise the one that does not wrap it
// (or a plain error if one succeeded), so one check covers both paths.
func bothErr(withoutCtx, withCtx error) error {
	switch {
	case withoutCtx == nil:
		return fmt.Errorf("the call without a context succeeded (the context variant returned %v)", withCtx)
	case withCtx == nil:
		return fmt.Errorf("the context variant succeeded (the call without a context returned %v)", withoutCtx)
	case !errors.Is(withoutCtx, backend.ErrClosed):
		return withoutCtx
	}
	return withCtx
}

// checkReopen, on a persistent backend, closes the instance the suite has
// used so far, opens a new one with the Opener and checks that every shared
// key is still there: found by ID and label, with the same public key, and
// working. The rest of the run uses the new instance. On a backend that is
// not persistent (Info().Persistent false) every cell is skipped.
func checkReopen(r *runner, t testT, name string) {
	if !r.info.Persistent {
		for _, col := range append([]string{columnBackend}, algNames(r.algs)...) {
			r.runCell(t, name, col, func(c *cell) {
				c.Skip("backend is not persistent (Info().Persistent is false): its keys are not meant to outlive Close")
			})
		}
		return
	}
	var reopened bool
	r.runCell(t, name, columnBackend, func(c *cell) {
		old := r.backend()
		var before func(*cell) error
		for _, a := range r.algs {
			for _, u := range r.usages(a) {
				if k := r.existingKey(a, u); k != nil && before == nil {
					before = keyOperation(k)
				}
			}
		}
		if err := old.Close(); err != nil {
			c.callFailed("Close", err)
		}
		if before != nil {
			wantErr(c, "operation through a handle from the closed instance", before(c), backend.ErrClosed)
		}
		nb, err := r.open(c.ctx)
		if err != nil {
			c.callFatal("reopen the backend", err)
		}
		r.mu.Lock()
		r.b = nb
		r.mu.Unlock()
		reopened = true
		if !nb.Info().Persistent {
			c.failf(FaultCryptoplug, "Persistent true", "Persistent false", "the reopened instance reports Persistent false")
		}
		c.Notef("closed and reopened with the Opener")
	})
	if !reopened {
		// Cleanup needs an open instance; try once more, quietly.
		ctx, cancel := context.WithTimeout(context.Background(), r.cfg.checkTimeout)
		if nb, err := r.open(ctx); err == nil {
			r.mu.Lock()
			r.b = nb
			r.mu.Unlock()
		}
		cancel()
	}

	for _, a := range r.algs {
		r.runCell(t, name, string(a), func(c *cell) {
			if !reopened {
				c.Skip("the backend could not be reopened")
			}
			us := r.usages(a)
			if len(us) == 0 {
				r.need(c, a, usageOp(naturalUsage(a)))
			}
			found := 0
			for _, u := range us {
				old := r.existingKey(a, u)
				if old == nil {
					continue
				}
				what := usageName(u) + " key"
				nb := r.backend()
				k, err := nb.Key(c.ctx, backend.ByID(old.ID()))
				if err != nil {
					c.callFailed(what+": Key by ID after reopening", err)
					continue
				}
				sameKey(c, what+": Key by ID after reopening", k, old)
				if byLabel, err := nb.Key(c.ctx, backend.ByLabel(old.Label())); err != nil {
					c.callFailed(what+": Key by label after reopening", err)
				} else {
					sameKey(c, what+": Key by label after reopening", byLabel, old)
				}
				if op := keyOperation(k); op != nil {
					if err := op(c); err != nil {
						c.callFailed(what+": operation after reopening", err)
					}
				}
				r.mu.Lock()
				r.fixtures[fixtureKey{a, u}].key = k
				r.mu.Unlock()
				found++
			}
			if found == 0 {
				c.Skip("no shared %s key was made in this run", a)
			}
			c.Notef("%d key(s) found again with the same public key", found)
		})
	}
}

func algNames(algs []backend.Algorithm) []string {
	out := make([]string, len(algs))
	for i, a := range algs {
		out[i] = string(a)
	}
	return out
}
