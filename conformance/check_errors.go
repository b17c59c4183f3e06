package conformance

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/cryptoplug/cryptoplug/backend"
)

// otherSize is an algorithm of the same family as a and another size: the
// key of a imported as it must be refused.
func otherSize(a backend.Algorithm) backend.Algorithm {
	return map[backend.Algorithm]backend.Algorithm{
		backend.RSA2048: backend.RSA3072, backend.RSA3072: backend.RSA2048, backend.RSA4096: backend.RSA2048,
		backend.ECDSAP256: backend.ECDSAP384, backend.ECDSAP384: backend.ECDSAP256, backend.ECDSAP521: backend.ECDSAP256,
		backend.Ed25519: backend.Ed448, backend.Ed448: backend.Ed25519,
		backend.MLDSA44: backend.MLDSA65, backend.MLDSA65: backend.MLDSA44, backend.MLDSA87: backend.MLDSA44,
		backend.MLKEM768: backend.MLKEM1024, backend.MLKEM1024: backend.MLKEM768,
	}[a]
}

// broken returns a copy of priv that is not a valid key of its type, or nil
// where the suite cannot build one the importer must notice.
func broken(priv any) any {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		cp := *k
		cp.D = new(big.Int).Add(k.D, big.NewInt(2))
		cp.Precomputed = rsa.PrecomputedValues{}
		return &cp
	case *ecdsa.PrivateKey:
		cp := *k
		cp.D = new(big.Int).Add(k.Curve.Params().N, big.NewInt(1)) //lint:ignore SA1019 a scalar out of range is the point
		return &cp
	case ed25519.PrivateKey:
		cp := append(ed25519.PrivateKey(nil), k...)
		cp[ed25519.SeedSize] ^= 0xff // a public half that is not the seed's
		return cp
	}
	return nil
}

// checkErrors imports a key the suite made, provokes the errors a caller
// meets (a duplicate label, the key under another algorithm, a malformed
// key, malformed requests to its operation) and checks each: it wraps the
// sentinel the contract names, it is a *backend.Error, and it does not
// carry the key's private material in any encoding. The suite knows that
// material because it made the key. Errors the rest of the run sees are
// checked the same way by "error-type" and "error-leak".
func checkErrors(r *runner, c *cell, a backend.Algorithm) {
	if _, ok := r.caps[a]; !ok {
		c.Unsupported("backend does not claim %s", a)
	}
	imp, ok := r.importer(a, 0)
	if !ok {
		c.Skip("import not claimed for %s: the suite knows no private key of this backend to look for", a)
	}
	priv, err := r.stdlibKey(a)
	if err != nil {
		c.suiteFatal("make a key to import: %v", err)
	}
	u := naturalUsage(a)
	if !r.caps.Supports(a, usageOp(u)) && a.Decrypts() && r.caps.Supports(a, backend.OpDecrypt) {
		u = backend.UsageDecrypt
	}
	checked := 0
	expect := func(what string, err error, targets ...error) {
		c.t.Helper()
		checked++
		wantErr(c, what, err, targets...)
		if err == nil {
			return
		}
		var be *backend.Error
		if !errors.As(err, &be) {
			c.failf(FaultCryptoplug, "a *backend.Error", fmt.Sprintf("%T", err), "%s: the error is a %T, not a *backend.Error: %v", what, err, err)
		}
		r.rec.mu.Lock()
		leak, enc, found := r.rec.secrets.scan(err.Error())
		r.rec.mu.Unlock()
		if found {
			c.failf(FaultCryptoplug, "an error without key material", leak+" as "+enc, "%s: the error carries %s, as %s", what, leak, enc)
		}
	}
	label := r.label(string(a), "errors")
	r.track(label)
	spec := backend.KeySpec{Algorithm: a, Label: label, ID: randomBytes(16), Usage: specUsage(a, u)}
	k, err := imp.ImportKey(c.ctx, spec, priv)
	if err != nil {
		c.callFatal("import the suite's own key", err)
	}
	defer r.deleteOwn(c, k)

	dup := spec
	dup.ID = randomBytes(16)
	_, err = imp.ImportKey(c.ctx, dup, priv)
	expect("ImportKey with the label of an existing key", err, backend.ErrKeyExists)
	if other := otherSize(a); other != "" {
		wrong := backend.KeySpec{Algorithm: other, Label: r.label(string(a), "errors-as", string(other))}
		r.track(wrong.Label)
		kw, err := imp.ImportKey(c.ctx, wrong, priv)
		r.deleteOwn(c, kw)
		expect(fmt.Sprintf("ImportKey of a %s key as %s", a, other), err, backend.ErrInvalidInput, backend.ErrUnsupported)
	}
	if bad := broken(priv); bad != nil {
		malformed := backend.KeySpec{Algorithm: a, Label: r.label(string(a), "errors-malformed"), Usage: specUsage(a, u)}
		r.track(malformed.Label)
		km, err := imp.ImportKey(c.ctx, malformed, bad)
		if err == nil && a == backend.Ed25519 {
			r.deleteOwn(c, km) // the store may keep the seed and derive the public half itself
		} else {
			r.deleteOwn(c, km)
			expect(fmt.Sprintf("ImportKey of a malformed %s key", a), err, backend.ErrInvalidInput)
		}
	}
	switch u {
	case backend.UsageSign:
		s, err := k.Signer()
		if err != nil {
			c.callFatal("Signer()", err)
		}
		switch a.Family() {
		case backend.FamilyRSA, backend.FamilyECDSA:
			_, err = s.SignContext(c.ctx, rand.Reader, randomBytes(31), crypto.SHA256)
			expect("Sign with a 31-byte digest for SHA-256", err, backend.ErrInvalidInput)
			_, err = s.SignContext(c.ctx, rand.Reader, randomDigest(crypto.SHA1), crypto.SHA1)
			expect("Sign with SHA-1", err, backend.ErrUnsupported)
		default:
			_, err = s.SignContext(c.ctx, rand.Reader, randomDigest(crypto.SHA256), crypto.SHA256)
			expect("Sign with crypto.SHA256", err, backend.ErrInvalidInput, backend.ErrUnsupported)
		}
		_, err = k.Decrypter()
		expect("Decrypter() of a signing key", err, backend.ErrUnsupported)
	case backend.UsageDecrypt:
		d, err := k.Decrypter()
		if err != nil {
			c.callFatal("Decrypter()", err)
		}
		pub := k.Public().(*rsa.PublicKey)
		_, err = d.DecryptContext(c.ctx, rand.Reader, rawEncrypt(pub, badBlockType(pkcs1EM(pub.Size(), randomBytes(20), 0))), nil)
		expect("Decrypt of a ciphertext with bad padding", err, rsa.ErrDecryption)
		_, err = d.DecryptContext(c.ctx, rand.Reader, randomBytes(7), &rsa.OAEPOptions{Hash: crypto.SHA1})
		expect("Decrypt of a 7-byte ciphertext", err, rsa.ErrDecryption)
	case backend.UsageDecapsulate:
		d, err := k.Decapsulator()
		if err != nil {
			c.callFatal("Decapsulator()", err)
		}
		_, err = d.DecapsulateContext(c.ctx, randomBytes(33))
		expect("Decapsulate of a 33-byte ciphertext", err, backend.ErrInvalidInput)
		_, err = k.Signer()
		expect("Signer() of an ML-KEM key", err, backend.ErrUnsupported)
	}
	c.Notef("%d errors provoked around an imported key: each wraps its sentinel, is a *backend.Error and carries no key material", checked)
}

// checkErrorType reports the errors of the whole run that are not a
// *backend.Error, as the contract says every error of a backend is.
func checkErrorType(r *runner, c *cell) {
	rec := r.rec
	rec.mu.Lock()
	seen, n, first := rec.seen, rec.nUntyped, append([]violation(nil), rec.untyped...)
	rec.mu.Unlock()
	if n > 0 {
		c.failf(FaultCryptoplug, "every error a *backend.Error", fmt.Sprintf("%d of %d errors of other types, first %s", n, seen, first[0].text),
			"%d of the %d errors the backend returned in this run are not (and do not wrap) a *backend.Error: %s", n, seen, describeViolations(first))
		return
	}
	c.Notef("all %d errors the backend returned in this run are *backend.Error", seen)
}

// checkErrorLeak reports the errors of the whole run that carry private
// key material of a key the suite imported.
func checkErrorLeak(r *runner, c *cell) {
	rec := r.rec
	rec.mu.Lock()
	seen, imported, n, first := rec.seen, rec.imported, rec.nLeaks, append([]violation(nil), rec.leaks...)
	rec.mu.Unlock()
	if imported == 0 {
		c.Skip("no key was imported in this run, so the suite knows no private key to look for in %d errors", seen)
	}
	if n > 0 {
		c.failf(FaultCryptoplug, "errors without key material", fmt.Sprintf("%d errors with key material, first: %s", n, first[0].text),
			"%d of the %d errors the backend returned carry private key material of an imported key: %s", n, seen, describeViolations(first))
		return
	}
	c.Notef("%d errors scanned for the private material of %d imported keys (raw, hex, base64, decimal, byte lists): none found", seen, imported)
}

func describeViolations(vs []violation) string {
	var parts []string
	for _, v := range vs {
		parts = append(parts, fmt.Sprintf("%s: %s: %s", v.where, v.call, v.text))
	}
	return strings.Join(parts, "; ")
}
