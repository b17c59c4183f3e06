//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract, so the suite must exercise it

package conformance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudflare/circl/sign/ed448"

	"github.com/cryptoplug/cryptoplug/backend"
)

// optionCase is one way of passing options to Sign or SignMessage. If
// verifyAs is nil the request must be refused with one of refuse; otherwise
// it may be signed (and must then verify with verifyAs) or, when optional,
// refused with ErrUnsupported (a variant the store cannot do), or refused
// with one of refuse.
type optionCase struct {
	name     string
	input    []byte
	opts     crypto.SignerOpts
	verifyAs func(sig []byte) error
	refuse   []error
	optional bool
	// alsoIs names what a wrong signature is instead, for the report.
	alsoIs func(sig []byte) string
}

var (
	ctxShort = "cryptoplug conformance context"
	ctx255   = strings.Repeat("c", 255)
	ctx256   = strings.Repeat("c", 256)
)

// checkSignOptions passes every option form the contract accepts, and the
// forms callers get wrong, to the key's Signer once each, through Sign and
// (for pure schemes) SignMessage: nil options where a scheme allows them;
// typed nil pointers of every option type, which the standard library would
// dereference (they must be refused with ErrInvalidInput, or handled as the
// zero options would be, never a panic); circl's ed448.SignerOptions as a
// value and as a pointer, with and without a context and for Ed448ph;
// contexts of 255 bytes (allowed) and 256 bytes (ErrInvalidInput); and the
// option types of other key types. A variant the store cannot do must be
// refused with ErrUnsupported; a signature that comes back must verify
// under exactly the variant asked for, with the standard library or circl.
// A call that panics fails the check and the next case still runs.
func checkSignOptions(r *runner, c *cell, a backend.Algorithm) {
	k, s := r.signer(c, a)
	pub := k.Public()
	var cases []optionCase
	inv := []error{backend.ErrInvalidInput}
	foreign := []error{backend.ErrInvalidInput, backend.ErrUnsupported}
	switch a.Family() {
	case backend.FamilyRSA:
		d := randomDigest(crypto.SHA256)
		cases = []optionCase{
			{name: "(*rsa.PSSOptions)(nil)", input: d, opts: (*rsa.PSSOptions)(nil), refuse: inv},
			{name: "(*ed25519.Options)(nil)", input: d, opts: (*ed25519.Options)(nil), refuse: inv},
			{name: "(*ed448.SignerOptions)(nil)", input: d, opts: (*ed448.SignerOptions)(nil), refuse: inv},
			{name: "ed448.SignerOptions (an Ed448 option type)", input: d, opts: ed448.SignerOptions{}, refuse: inv},
		}
	case backend.FamilyECDSA:
		h := a.CurveHash()
		d := randomDigest(h)
		pk := pub.(*ecdsa.PublicKey)
		cases = []optionCase{
			{name: "(*rsa.PSSOptions)(nil)", input: d, opts: (*rsa.PSSOptions)(nil), refuse: inv},
			{name: "(*ed25519.Options)(nil)", input: d, opts: (*ed25519.Options)(nil), refuse: inv},
			{name: "*rsa.PSSOptions with the curve's hash (an RSA option type)", input: d,
				opts: &rsa.PSSOptions{Hash: h, SaltLength: rsa.PSSSaltLengthEqualsHash}, refuse: inv,
				verifyAs: func(sig []byte) error { return verify(pk, d, sig, h) }},
		}
	case backend.FamilyEdDSA:
		if a == backend.Ed25519 {
			cases = ed25519OptionCases(pub.(ed25519.PublicKey))
		} else {
			cases = ed448OptionCases(pub.(ed448.PublicKey))
		}
	case backend.FamilyMLDSA:
		msg := randomBytes(64)
		pure := func(sig []byte) error { return verify(pub, msg, sig, crypto.Hash(0)) }
		cases = []optionCase{
			{name: "nil options", input: msg, opts: nil, refuse: inv, verifyAs: pure},
			{name: "crypto.Hash(0)", input: msg, opts: crypto.Hash(0), verifyAs: pure},
			{name: "(*rsa.PSSOptions)(nil)", input: msg, opts: (*rsa.PSSOptions)(nil), refuse: inv},
			{name: "(*ed25519.Options)(nil)", input: msg, opts: (*ed25519.Options)(nil), refuse: inv},
			{name: "(*ed448.SignerOptions)(nil)", input: msg, opts: (*ed448.SignerOptions)(nil), refuse: inv},
			{name: "*ed25519.Options with a context (an Ed25519 option type)", input: msg,
				opts: &ed25519.Options{Context: ctxShort}, refuse: foreign},
			{name: "ed448.SignerOptions with a context (an Ed448 option type)", input: msg,
				opts: ed448.SignerOptions{Context: ctxShort}, refuse: foreign},
		}
		cases = append(cases, mldsaContextCases(a, pub, msg)...)
	}
	ms, pure := s.(backend.MessageSigner)
	ran, refused := 0, []string{}
	for i, tc := range cases {
		paths := []string{"Sign"}
		if pure {
			paths = append(paths, "SignMessage")
		}
		for _, path := range paths {
			name := tc.name + " via " + path
			withCtx := (i+len(path))%2 == 0
			sig, panicked, err := callSign(func() ([]byte, error) {
				if path == "SignMessage" {
					return signMessage(c, ms, tc.input, tc.opts, withCtx)
				}
				return sign(c, s, tc.input, tc.opts, withCtx)
			})
			ran++
			switch {
			case panicked != "":
				c.failf(FaultCryptoplug, "an error or a signature, no panic", "panic: "+panicked, "%s: panic: %s", name, panicked)
			case err != nil && isOneOf(err, tc.refuse):
				refused = append(refused, name)
			case err != nil && tc.optional && errors.Is(err, backend.ErrUnsupported):
				refused = append(refused, name+" (unsupported)")
			case err != nil && tc.verifyAs != nil:
				c.callFailed(name, err)
			case err != nil:
				c.failf(FaultCryptoplug, describeRefusal(tc.refuse), gotErr(err), "%s: %v; want %s", name, err, describeRefusal(tc.refuse))
			case tc.verifyAs == nil:
				got := "a signature"
				if tc.alsoIs != nil {
					if other := tc.alsoIs(sig); other != "" {
						got = other
					}
				}
				c.failf(FaultCryptoplug, describeRefusal(tc.refuse), got, "%s: returned %s; want %s", name, got, describeRefusal(tc.refuse))
			default:
				if verr := tc.verifyAs(sig); verr != nil {
					got, fault := "a signature that does not verify", FaultStore
					if tc.alsoIs != nil {
						if other := tc.alsoIs(sig); other != "" {
							// The store signed what it was asked; the options
							// were lost on the way.
							got, fault = other, FaultCryptoplug
						}
					}
					c.failf(fault, "a signature of exactly "+tc.name, got, "%s: the signature does not verify as asked: %v (it is %s)", name, verr, got)
				}
			}
		}
	}
	c.Notef("%d option forms tried; refused as the contract allows: %s", ran, strings.Join(refused, "; "))
}

// callSign runs f and turns a panic into a value, so that one panicking case
// does not end the check.
func callSign(f func() ([]byte, error)) (out []byte, panicked string, err error) {
	defer func() {
		if p := recover(); p != nil {
			panicked = fmt.Sprint(p)
		}
	}()
	out, err = f()
	return out, "", err
}

func isOneOf(err error, targets []error) bool {
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
	}
	return false
}

func describeRefusal(targets []error) string {
	var names []string
	for _, t := range targets {
		names = append(names, fmt.Sprintf("%q", t))
	}
	if len(names) == 0 {
		return "a signature"
	}
	return "an error wrapping " + strings.Join(names, " or ")
}

// ed25519OptionCases are the Ed25519 forms: typed nil options, foreign
// option types, and the context length bounds of Ed25519ctx and Ed25519ph.
func ed25519OptionCases(pk ed25519.PublicKey) []optionCase {
	msg := randomBytes(64)
	digest := hashOf(crypto.SHA512, msg)
	inv := []error{backend.ErrInvalidInput}
	ver := func(input []byte, o *ed25519.Options) func([]byte) error {
		return func(sig []byte) error { return ed25519.VerifyWithOptions(pk, input, sig, o) }
	}
	is := func(sig []byte) string { return whatEd25519Signed(pk, msg, digest, sig) }
	return []optionCase{
		{name: "(*ed25519.Options)(nil)", input: msg, opts: (*ed25519.Options)(nil), refuse: inv, verifyAs: ver(msg, &ed25519.Options{}), alsoIs: is},
		{name: "(*rsa.PSSOptions)(nil)", input: msg, opts: (*rsa.PSSOptions)(nil), refuse: inv, alsoIs: is},
		{name: "(*ed448.SignerOptions)(nil)", input: msg, opts: (*ed448.SignerOptions)(nil), refuse: inv, alsoIs: is},
		{name: "ed448.SignerOptions with a context (an Ed448 option type)", input: msg, opts: ed448.SignerOptions{Context: ctxShort},
			refuse: []error{backend.ErrInvalidInput, backend.ErrUnsupported}, alsoIs: is},
		{name: "Ed25519ctx with a 255-byte context", input: msg, opts: &ed25519.Options{Context: ctx255},
			verifyAs: ver(msg, &ed25519.Options{Context: ctx255}), optional: true, alsoIs: is},
		{name: "Ed25519ctx with a 256-byte context", input: msg, opts: &ed25519.Options{Context: ctx256}, refuse: inv, alsoIs: is},
		{name: "Ed25519ph with a 256-byte context", input: digest, opts: &ed25519.Options{Hash: crypto.SHA512, Context: ctx256}, refuse: inv, alsoIs: is},
	}
}

// ed448OptionCases are the Ed448 forms: circl's SignerOptions as a value and
// a pointer, with and without a context, Ed448 and Ed448ph; the context
// length bounds; typed nil options; foreign option types; an unknown scheme.
func ed448OptionCases(pk ed448.PublicKey) []optionCase {
	msg := randomBytes(64)
	inv := []error{backend.ErrInvalidInput}
	foreign := []error{backend.ErrInvalidInput, backend.ErrUnsupported}
	pureV := func(sig []byte) error { return verify(pk, msg, sig, crypto.Hash(0)) }
	ctxV := func(ctx string) func([]byte) error {
		return func(sig []byte) error {
			if !ed448.Verify(pk, msg, sig, ctx) {
				return errBadSignature
			}
			return nil
		}
	}
	phV := func(ctx string) func([]byte) error {
		return func(sig []byte) error {
			if !ed448.VerifyPh(pk, msg, sig, ctx) {
				return errBadSignature
			}
			return nil
		}
	}
	is := func(sig []byte) string {
		for _, cand := range []struct {
			name string
			ok   bool
		}{
			{"a pure Ed448 signature without the context", ed448.Verify(pk, msg, sig, "")},
			{"an Ed448 signature with the context but not pre-hashed", ed448.Verify(pk, msg, sig, ctxShort)},
			{"an Ed448ph signature without the context", ed448.VerifyPh(pk, msg, sig, "")},
		} {
			if cand.ok {
				return cand.name
			}
		}
		return ""
	}
	return []optionCase{
		{name: "ed448.SignerOptions{} (value, pure Ed448)", input: msg, opts: ed448.SignerOptions{}, verifyAs: pureV, alsoIs: is},
		{name: "&ed448.SignerOptions{} (pointer, pure Ed448)", input: msg, opts: &ed448.SignerOptions{}, verifyAs: pureV, alsoIs: is},
		{name: "Ed448 with a context, ed448.SignerOptions value", input: msg, opts: ed448.SignerOptions{Context: ctxShort},
			verifyAs: ctxV(ctxShort), optional: true, alsoIs: is},
		{name: "Ed448 with a context, *ed448.SignerOptions pointer", input: msg, opts: &ed448.SignerOptions{Context: ctxShort},
			verifyAs: ctxV(ctxShort), optional: true, alsoIs: is},
		{name: "Ed448ph, ed448.SignerOptions value", input: msg, opts: ed448.SignerOptions{Scheme: ed448.ED448Ph},
			verifyAs: phV(""), optional: true, alsoIs: is},
		{name: "Ed448ph with a context, *ed448.SignerOptions pointer", input: msg, opts: &ed448.SignerOptions{Scheme: ed448.ED448Ph, Context: ctxShort},
			verifyAs: phV(ctxShort), optional: true, alsoIs: is},
		{name: "Ed448 with a 255-byte context", input: msg, opts: ed448.SignerOptions{Context: ctx255},
			verifyAs: ctxV(ctx255), optional: true, alsoIs: is},
		{name: "Ed448 with a 256-byte context (value)", input: msg, opts: ed448.SignerOptions{Context: ctx256}, refuse: inv, alsoIs: is},
		{name: "Ed448 with a 256-byte context (pointer)", input: msg, opts: &ed448.SignerOptions{Context: ctx256}, refuse: inv, alsoIs: is},
		{name: "an unknown Ed448 scheme", input: msg, opts: ed448.SignerOptions{Scheme: 7}, refuse: inv, alsoIs: is},
		{name: "(*ed448.SignerOptions)(nil)", input: msg, opts: (*ed448.SignerOptions)(nil), refuse: inv, verifyAs: pureV, alsoIs: is},
		{name: "(*ed25519.Options)(nil)", input: msg, opts: (*ed25519.Options)(nil), refuse: inv, alsoIs: is},
		{name: "*ed25519.Options with a context (an Ed25519 option type)", input: msg, opts: &ed25519.Options{Context: ctxShort},
			refuse: foreign, alsoIs: is},
	}
}

// checkDecryptOptions passes the typed nil pointers of the decryption
// option types, which crypto/rsa would dereference: a nil
// *rsa.PKCS1v15DecryptOptions may be refused with ErrInvalidInput or
// decrypt as PKCS #1 v1.5 (the only scheme it can mean); a nil
// *rsa.OAEPOptions names no hash and must be refused with ErrInvalidInput;
// so must options of a signing type. Never a panic.
func checkDecryptOptions(r *runner, c *cell, a backend.Algorithm) {
	pub, d := r.decrypter(c, a)
	msg := randomBytes(24)
	pkcs1, err := rsa.EncryptPKCS1v15(rand.Reader, pub, msg)
	if err != nil {
		c.suiteFatal("rsa.EncryptPKCS1v15: %v", err)
	}
	oaep, err := rsa.EncryptOAEP(crypto.SHA1.New(), rand.Reader, pub, msg, nil)
	if err != nil {
		c.suiteFatal("rsa.EncryptOAEP: %v", err)
	}
	for i, tc := range []struct {
		name      string
		ct        []byte
		opts      crypto.DecrypterOpts
		mayDecode bool
	}{
		{"(*rsa.PKCS1v15DecryptOptions)(nil)", pkcs1, (*rsa.PKCS1v15DecryptOptions)(nil), true},
		{"(*rsa.OAEPOptions)(nil)", oaep, (*rsa.OAEPOptions)(nil), false},
		{"(*rsa.PSSOptions)(nil) (a signing option type)", pkcs1, (*rsa.PSSOptions)(nil), false},
		{"*rsa.PSSOptions (a signing option type)", pkcs1, &rsa.PSSOptions{Hash: crypto.SHA256}, false},
	} {
		pt, panicked, err := callSign(func() ([]byte, error) { return decrypt(c, d, tc.ct, tc.opts, i%2 == 1) })
		switch {
		case panicked != "":
			c.failf(FaultCryptoplug, "an error or a plaintext, no panic", "panic: "+panicked, "%s: panic: %s", tc.name, panicked)
		case err != nil && errors.Is(err, backend.ErrInvalidInput):
		case err != nil:
			c.failf(FaultCryptoplug, "ErrInvalidInput", gotErr(err), "%s: %v; want an error wrapping %q", tc.name, err, backend.ErrInvalidInput)
		case !tc.mayDecode:
			c.failf(FaultCryptoplug, "ErrInvalidInput", "a plaintext", "%s: decrypted; options that name no scheme must be refused", tc.name)
		case !bytes.Equal(pt, msg):
			c.failf(FaultStore, "the PKCS#1 v1.5 plaintext", "another plaintext", "%s: decrypted to the wrong plaintext", tc.name)
		}
		decryptValid(c, pub, d, "after "+tc.name)
	}
	c.Notef("typed nil and foreign decryption options refused or handled as PKCS#1 v1.5")
}

// checkNilContext calls the context-taking operations of each shared key
// with a nil context, which a caller passes by mistake (Go's rule is to pass
// context.TODO, but code does it): the call must return, with an error or a
// correct result, within the check's bound, and must not panic. A backend
// that waits on a nil context's Done channel blocks forever; one that calls
// its Err method panics.
func checkNilContext(r *runner, c *cell, a backend.Algorithm) {
	us := r.usages(a)
	if len(us) == 0 {
		r.need(c, a, usageOp(naturalUsage(a)))
	}
	bound := min(r.cfg.checkTimeout, backend.DefaultTimeout)
	var answered []string
	for _, u := range us {
		what, call := nilContextCall(c, r.key(c, a, u), u)
		type answer struct {
			err      error
			panicked string
		}
		done := make(chan answer, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- answer{panicked: fmt.Sprint(p)}
				}
			}()
			done <- answer{err: call()}
		}()
		timer := time.NewTimer(bound)
		select {
		case ans := <-done:
			timer.Stop()
			switch {
			case ans.panicked != "":
				c.failf(FaultCryptoplug, "an error or a result, no panic", "panic: "+ans.panicked, "%s: panic: %s", what, ans.panicked)
			case errors.Is(ans.err, errBadSignature) || errors.Is(ans.err, errWrongResult):
				c.failf(FaultStore, "a correct result or an error", ans.err.Error(), "%s: %v", what, ans.err)
			case ans.err != nil:
				answered = append(answered, fmt.Sprintf("%s: an error (%v)", what, ans.err))
			default:
				answered = append(answered, what+": a correct result")
			}
		case <-timer.C:
			c.failf(FaultCryptoplug, fmt.Sprintf("an answer within %v", bound), "no answer: the call hangs",
				"%s did not return within %v: a nil context must not block the call", what, bound)
		}
	}
	c.Notef("%s", strings.Join(answered, "; "))
}

// nilContextCall returns the operation of k's usage u called with a nil
// context, and its name. The call checks its own result: a wrong signature
// wraps errBadSignature, a wrong plaintext or key errWrongResult.
func nilContextCall(c *cell, k backend.Key, u backend.Usage) (string, func() error) {
	c.t.Helper()
	var nilCtx context.Context // a nil context, as a careless caller passes it
	a := k.Algorithm()
	switch u {
	case backend.UsageDecrypt:
		d, err := k.Decrypter()
		if err != nil {
			c.callFatal("Decrypter()", err)
		}
		msg := randomBytes(16)
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, k.Public().(*rsa.PublicKey), msg)
		if err != nil {
			c.suiteFatal("rsa.EncryptPKCS1v15: %v", err)
		}
		return "DecryptContext(nil, …)", func() error {
			pt, err := d.DecryptContext(nilCtx, rand.Reader, ct, nil)
			if err == nil && !bytes.Equal(pt, msg) {
				err = fmt.Errorf("%w: not the plaintext encrypted", errWrongResult)
			}
			return err
		}
	case backend.UsageDecapsulate:
		d, err := k.Decapsulator()
		if err != nil {
			c.callFatal("Decapsulator()", err)
		}
		want, ct := d.Encapsulator().Encapsulate()
		return "DecapsulateContext(nil, …)", func() error {
			got, err := d.DecapsulateContext(nilCtx, ct)
			if err == nil && !bytes.Equal(got, want) {
				err = fmt.Errorf("%w: not the shared key encapsulated", errWrongResult)
			}
			return err
		}
	}
	s, err := k.Signer()
	if err != nil {
		c.callFatal("Signer()", err)
	}
	if ms, ok := s.(backend.MessageSigner); ok && a.SignsMessages() {
		msg := randomBytes(32)
		return "SignMessageContext(nil, …)", func() error {
			sig, err := ms.SignMessageContext(nilCtx, rand.Reader, msg, crypto.Hash(0))
			if err == nil {
				err = verify(k.Public(), msg, sig, crypto.Hash(0))
			}
			return err
		}
	}
	h := crypto.SHA256
	if a.Family() == backend.FamilyECDSA {
		h = a.CurveHash()
	}
	digest := randomDigest(h)
	return "SignContext(nil, …)", func() error {
		sig, err := s.SignContext(nilCtx, rand.Reader, digest, h)
		if err == nil {
			err = verify(k.Public(), digest, sig, h)
		}
		return err
	}
}
