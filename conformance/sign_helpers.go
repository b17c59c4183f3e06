//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract, so the suite must exercise it

package conformance

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"

	"github.com/cryptoplug/cryptoplug/backend"
)

// signer returns the shared key of a and its Signer, or ends the cell.
func (r *runner) signer(c *cell, a backend.Algorithm) (backend.Key, backend.Signer) {
	c.t.Helper()
	k := r.key(c, a, 0)
	s, err := k.Signer()
	if err != nil {
		c.callFatal(fmt.Sprintf("Signer() of the shared %s key", a), err)
	}
	return k, s
}

// messageSigner returns the shared key's Signer as a MessageSigner, or ends
// the cell.
func (r *runner) messageSigner(c *cell, a backend.Algorithm) (backend.Key, backend.MessageSigner) {
	c.t.Helper()
	k, s := r.signer(c, a)
	ms, ok := s.(backend.MessageSigner)
	if !ok {
		c.fatalf(FaultCryptoplug, "a backend.MessageSigner", fmt.Sprintf("%T", s), "the Signer of a %s key (%T) does not implement backend.MessageSigner", a, s)
	}
	return k, ms
}

func hashOf(h crypto.Hash, msg []byte) []byte {
	hh := h.New()
	hh.Write(msg)
	return hh.Sum(nil)
}

// randomDigest returns the hash with h of a fresh random message.
func randomDigest(h crypto.Hash) []byte { return hashOf(h, randomBytes(48)) }

// optsState describes the options a caller passed, to notice a backend that
// writes to them.
func optsState(o any) string {
	switch v := o.(type) {
	case *rsa.PSSOptions:
		if v != nil {
			return fmt.Sprintf("%+v", *v)
		}
	case *ed25519.Options:
		if v != nil {
			return fmt.Sprintf("%+v", *v)
		}
	case *rsa.OAEPOptions:
		if v != nil {
			return fmt.Sprintf("%v/%v/%x", v.Hash, v.MGFHash, v.Label)
		}
	case *rsa.PKCS1v15DecryptOptions:
		if v != nil {
			return fmt.Sprintf("%+v", *v)
		}
	}
	return fmt.Sprintf("%v", o)
}

// unmodified records a failure if the call changed its input.
func unmodified(c *cell, what string, in, before []byte, opts any, optsBefore string) {
	c.t.Helper()
	if !bytes.Equal(in, before) {
		c.failf(FaultCryptoplug, "the input left unchanged", "the input modified", "%s modified the input slice it was given", what)
	}
	if optsState(opts) != optsBefore {
		c.failf(FaultCryptoplug, "the options left unchanged", "options "+optsState(opts), "%s modified the options it was given: %s, was %s", what, optsState(opts), optsBefore)
	}
}

// sign calls Sign, or SignContext when withCtx is set, and checks that the
// digest and options were left as they were.
func sign(c *cell, s backend.Signer, digest []byte, opts crypto.SignerOpts, withCtx bool) ([]byte, error) {
	c.t.Helper()
	before, optsBefore := bytes.Clone(digest), optsState(opts)
	var (
		sig []byte
		err error
	)
	if withCtx {
		sig, err = s.SignContext(c.ctx, rand.Reader, digest, opts)
	} else {
		sig, err = s.Sign(rand.Reader, digest, opts)
	}
	unmodified(c, "Sign", digest, before, opts, optsBefore)
	return sig, err
}

// signMessage calls SignMessage, or SignMessageContext when withCtx is set,
// and checks that the message and options were left as they were.
func signMessage(c *cell, s backend.MessageSigner, msg []byte, opts crypto.SignerOpts, withCtx bool) ([]byte, error) {
	c.t.Helper()
	before, optsBefore := bytes.Clone(msg), optsState(opts)
	var (
		sig []byte
		err error
	)
	if withCtx {
		sig, err = s.SignMessageContext(c.ctx, rand.Reader, msg, opts)
	} else {
		sig, err = s.SignMessage(rand.Reader, msg, opts)
	}
	unmodified(c, "SignMessage", msg, before, opts, optsBefore)
	return sig, err
}

// variants runs the parameter combinations of one check. A combination the
// store refuses with ErrUnsupported is noted, unless it is a baseline every
// backend claiming the operation must offer; when every combination is
// refused, the cell ends as unsupported.
type variants struct {
	c           *cell
	ok          []string
	unsupported []string
}

// run runs one combination. f returns the backend's error, if any; it
// records verification problems itself with c.failf.
func (v *variants) run(name string, baseline bool, f func() error) {
	v.c.t.Helper()
	err := f()
	switch {
	case err == nil:
		v.ok = append(v.ok, name)
	case errors.Is(err, backend.ErrUnsupported) && !baseline:
		v.unsupported = append(v.unsupported, name)
	case errors.Is(err, backend.ErrUnsupported):
		v.c.failf(FaultCryptoplug, name+" to work (baseline of a claimed operation)", gotErr(err), "%s: refused as unsupported, but it is the baseline every backend claiming this operation must offer: %v", name, err)
	default:
		v.c.callFailed(name, err)
	}
}

// finish notes or ends with what was refused.
func (v *variants) finish() {
	v.c.t.Helper()
	if v.c.failed() || len(v.unsupported) == 0 {
		return
	}
	if len(v.ok) == 0 {
		v.c.Unsupported("store refused every variant with ErrUnsupported: %s", strings.Join(v.unsupported, ", "))
	}
	v.c.Notef("refused as unsupported: %s", strings.Join(v.unsupported, ", "))
}

// badSignature records a signature that does not verify: the store's
// answer, passed through.
func (c *cell) badSignature(what, verifiedAs string, err error) {
	c.t.Helper()
	c.failf(FaultStore, "a signature that verifies as "+verifiedAs, "one that does not", "%s: %v (verified as %s)", what, err, verifiedAs)
}

// importer returns the backend's Importer when it claims import and op for
// a, so that a check can use a key whose private half the suite knows.
func (r *runner) importer(a backend.Algorithm, op backend.Ops) (backend.Importer, bool) {
	imp, ok := r.backend().(backend.Importer)
	if !ok || !r.caps.Supports(a, backend.OpImport|op) {
		return nil, false
	}
	return imp, true
}
