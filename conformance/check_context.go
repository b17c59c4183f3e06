//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract, so the suite must exercise it

package conformance

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
)

// failFast is how long a call with a context that is already done may take:
// it must not reach the store at all.
const failFast = time.Second

// deadContexts returns a cancelled context and one whose deadline has
// passed, with the errors they must produce.
func deadContexts() []struct {
	ctx  context.Context
	want error
} {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	cancel2()
	return []struct {
		ctx  context.Context
		want error
	}{{canceled, context.Canceled}, {expired, context.DeadlineExceeded}}
}

// wantCtxErr records a failure unless err wraps want and the call returned
// within failFast.
func wantCtxErr(c *cell, what string, err, want error, took time.Duration) {
	c.t.Helper()
	if wantErr(c, what, err, want) && took > failFast {
		c.failf(FaultCryptoplug, fmt.Sprintf("failure within %v", failFast), "failure after "+took.Round(time.Millisecond).String(), "%s: took %v with a context that was already done; it must fail before reaching the store", what, took.Round(time.Millisecond))
	}
}

// checkContextCanceled calls every context-taking method for a with a
// cancelled context and with an expired deadline: GenerateKey, ImportKey,
// Key, SignContext (SignMessageContext), DecryptContext and
// DecapsulateContext must fail fast with the context's error (errors.Is
// context.Canceled or context.DeadlineExceeded). A key GenerateKey makes
// anyway is deleted.
func checkContextCanceled(r *runner, c *cell, a backend.Algorithm) {
	if _, ok := r.caps[a]; !ok {
		c.Unsupported("backend does not claim %s", a)
	}
	b := r.backend()
	imp, canImport := b.(backend.Importer)
	canImport = canImport && r.caps.Supports(a, backend.OpImport)
	var priv any
	if canImport {
		var err error
		if priv, err = r.stdlibKey(a); err != nil {
			c.suiteFatal("make a key to import: %v", err)
		}
	}
	keys := map[backend.Usage]backend.Key{}
	for _, u := range r.usages(a) {
		keys[u] = r.key(c, a, u)
	}
	calls := 0
	for i, dc := range deadContexts() {
		ctx, want := dc.ctx, dc.want
		try := func(what string, f func() error) {
			calls++
			start := time.Now()
			err := f()
			wantCtxErr(c, what+" with "+want.Error(), err, want, time.Since(start))
		}
		spec := backend.KeySpec{Algorithm: a, Label: r.label(string(a), "canceled", string(rune('a'+i)))}
		if r.caps.Supports(a, backend.OpGenerate) {
			r.track(spec.Label)
			try("GenerateKey", func() error {
				k, err := b.GenerateKey(ctx, spec)
				if err == nil {
					_ = b.DeleteKey(c.ctx, backend.KeyRef{ID: k.ID(), Label: spec.Label})
				}
				return err
			})
		}
		if canImport {
			spec.Label += "-import"
			r.track(spec.Label)
			try("ImportKey", func() error {
				k, err := imp.ImportKey(ctx, spec, priv)
				if err == nil {
					_ = b.DeleteKey(c.ctx, backend.KeyRef{ID: k.ID(), Label: spec.Label})
				}
				return err
			})
		}
		for u, k := range keys {
			name := usageName(u) + " key: "
			try(name+"Key", func() error { _, err := b.Key(ctx, backend.ByID(k.ID())); return err })
			switch u {
			case backend.UsageSign:
				s, err := k.Signer()
				if err != nil {
					c.callFatal("Signer()", err)
				}
				if ms, ok := s.(backend.MessageSigner); ok && a.SignsMessages() {
					try(name+"SignMessageContext", func() error {
						_, err := ms.SignMessageContext(ctx, rand.Reader, randomBytes(20), crypto.Hash(0))
						return err
					})
				} else {
					h := crypto.SHA256
					if a.Family() == backend.FamilyECDSA {
						h = a.CurveHash()
					}
					try(name+"SignContext", func() error {
						_, err := s.SignContext(ctx, rand.Reader, randomDigest(h), h)
						return err
					})
				}
			case backend.UsageDecrypt:
				d, err := k.Decrypter()
				if err != nil {
					c.callFatal("Decrypter()", err)
				}
				ct, err := rsa.EncryptPKCS1v15(rand.Reader, k.Public().(*rsa.PublicKey), randomBytes(16))
				if err != nil {
					c.suiteFatal("rsa.EncryptPKCS1v15: %v", err)
				}
				try(name+"DecryptContext", func() error { _, err := d.DecryptContext(ctx, rand.Reader, ct, nil); return err })
			case backend.UsageDecapsulate:
				d, err := k.Decapsulator()
				if err != nil {
					c.callFatal("Decapsulator()", err)
				}
				_, ct := d.Encapsulator().Encapsulate()
				try(name+"DecapsulateContext", func() error { _, err := d.DecapsulateContext(ctx, ct); return err })
			}
		}
	}
	if calls == 0 {
		c.Skip("no key and no key creation to try for %s", a)
	}
	c.Notef("%d calls with a done context refused", calls)
}

// checkContextCanceledBackend calls Keys, Key and DeleteKey with a done
// context: each must fail fast with the context's error, not
// ErrKeyNotFound.
func checkContextCanceledBackend(r *runner, c *cell) {
	b := r.backend()
	absent := backend.ByLabel(r.label("absent"))
	for _, dc := range deadContexts() {
		ctx, want := dc.ctx, dc.want
		for _, tc := range []struct {
			name string
			f    func() error
		}{
			{"Keys", func() error { _, err := b.Keys(ctx); return err }},
			{"Key of an absent label", func() error { _, err := b.Key(ctx, absent); return err }},
			{"DeleteKey of an absent label", func() error { return b.DeleteKey(ctx, absent) }},
		} {
			start := time.Now()
			err := tc.f()
			if errors.Is(err, backend.ErrKeyNotFound) {
				c.failf(FaultCryptoplug, "the context's error", gotErr(err), "%s with %v: ErrKeyNotFound; the context's error must come first", tc.name, want)
				continue
			}
			wantCtxErr(c, tc.name+" with "+want.Error(), err, want, time.Since(start))
		}
	}
	c.Notef("Keys, Key and DeleteKey refused a cancelled and an expired context")
}
