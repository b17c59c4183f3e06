package conformance

import (
	"crypto"
	"crypto/mlkem"
	"crypto/rsa"
	"crypto/x509"
	"encoding"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/cryptoplug/cryptoplug/backend"
)

// wantErr records a failure unless err wraps one of targets. what describes
// the call for the message.
func wantErr(c *cell, what string, err error, targets ...error) bool {
	c.t.Helper()
	var names []string
	for _, t := range targets {
		if errors.Is(err, t) {
			return true
		}
		names = append(names, fmt.Sprintf("%q", t))
	}
	want := "an error wrapping " + strings.Join(names, " or ")
	if err == nil {
		// Accepting a ciphertext that does not decrypt is the store's
		// answer; accepting a malformed request is cryptoplug's, whose
		// validation runs before the store is asked.
		fault := FaultCryptoplug
		if slices.Contains(targets, rsa.ErrDecryption) {
			fault = FaultStore
		}
		c.failf(fault, want, "success", "%s: succeeded, want %s", what, want)
	} else {
		c.failf(FaultCryptoplug, want, gotErr(err), "%s: got %q, want %s", what, err, want)
	}
	return false
}

// acceptedFault is whose fault it is that a request which had to fail did
// not fail as it should: ifAccepted when it succeeded, cryptoplug's when it
// failed with the wrong error.
func acceptedFault(err error, ifAccepted Fault) Fault {
	if err == nil {
		return ifAccepted
	}
	return FaultCryptoplug
}

// usages returns the usages of the shared keys of a that the backend claims
// the operations for: sign or decapsulate, and decrypt for RSA.
func (r *runner) usages(a backend.Algorithm) []backend.Usage {
	var out []backend.Usage
	if u := naturalUsage(a); r.caps.Supports(a, usageOp(u)) {
		out = append(out, u)
	}
	if a.Decrypts() && r.caps.Supports(a, backend.OpDecrypt) {
		out = append(out, backend.UsageDecrypt)
	}
	return out
}

// checkCapabilities checks Info and Capabilities: a name and kind, no secret
// in the URI, claims that make sense for each algorithm, Importer present
// when import is claimed, and a fresh map on every call.
func checkCapabilities(r *runner, c *cell) {
	b := r.backend()
	info := b.Info()
	if info.Name == "" {
		c.failf(FaultCryptoplug, "a name", "an empty name", "Info().Name is empty")
	}
	if info.Kind == "" {
		c.failf(FaultCryptoplug, "a kind", "an empty kind", "Info().Kind is empty")
	}
	if u, err := backend.ParseURI(info.URI); err == nil {
		if v, ok := u.Get("pin-value"); ok && v != "REDACTED" {
			c.failf(FaultCryptoplug, "a redacted pin-value", "the PIN in Info().URI", "Info().URI carries a pin-value; it must be redacted")
		}
	}
	c.Notef("%s (%s), persistent=%v", info.Name, info.Kind, info.Persistent)

	caps := r.caps
	if len(caps) == 0 {
		c.failf(FaultCryptoplug, "at least one algorithm", "none", "Capabilities() claims no algorithm")
	}
	const known = backend.OpGenerate | backend.OpSign | backend.OpDecrypt | backend.OpDecapsulate | backend.OpImport
	_, isImporter := b.(backend.Importer)
	for a, ops := range caps {
		switch {
		case !a.Valid():
			c.failf(FaultCryptoplug, "known algorithms", string(a), "Capabilities() claims unknown algorithm %q", a)
			continue
		case ops == 0:
			c.failf(FaultCryptoplug, "at least one operation", "none", "Capabilities() lists %s with no operation; leave it out instead", a)
		case ops&^known != 0:
			c.failf(FaultCryptoplug, "known operations", fmt.Sprintf("bits %#x", uint8(ops&^known)), "Capabilities() claims unknown operation bits %#x for %s", uint8(ops&^known), a)
		}
		if ops.Has(backend.OpSign) && !a.Signs() {
			c.failf(FaultCryptoplug, "no sign claim", "sign claimed", "%s claims sign, but %s keys do not sign", a, a.Family())
		}
		if ops.Has(backend.OpDecrypt) && !a.Decrypts() {
			c.failf(FaultCryptoplug, "no decrypt claim", "decrypt claimed", "%s claims decrypt, but only RSA keys decrypt", a)
		}
		if ops.Has(backend.OpDecapsulate) && !a.Decapsulates() {
			c.failf(FaultCryptoplug, "no decapsulate claim", "decapsulate claimed", "%s claims decapsulate, but only ML-KEM keys decapsulate", a)
		}
		if ops.Has(backend.OpImport) && !isImporter {
			c.failf(FaultCryptoplug, "a backend.Importer", "no ImportKey method", "%s claims import, but the backend does not implement backend.Importer", a)
		}
	}

	// The map is the caller's to keep: changing it must not change the
	// backend's answer.
	mine := b.Capabilities()
	for a := range mine {
		delete(mine, a)
	}
	mine[backend.Algorithm("bogus")] = backend.OpSign
	if again := b.Capabilities(); !maps.Equal(again, caps) {
		c.failf(FaultCryptoplug, "a fresh map on every call", "a shared map", "Capabilities() changed after the caller modified a returned map: %v, was %v", again, caps)
	}
}

// checkGenerate makes the shared keys of a (generating them, or importing
// when only import is claimed) and checks what GenerateKey returned: the
// algorithm, label and ID asked for, and a public key of the right type.
func checkGenerate(r *runner, c *cell, a backend.Algorithm) {
	if _, ok := r.caps[a]; !ok {
		c.Unsupported("backend does not claim %s", a)
	}
	us := r.usages(a)
	if len(us) == 0 {
		c.Unsupported("backend claims %s for %s, no key operation the suite can test", r.caps[a], a)
	}
	for _, u := range us {
		start := time.Now()
		k := r.key(c, a, u)
		took := time.Since(start)
		r.mu.Lock()
		f := r.fixtures[fixtureKey{a, u}]
		r.mu.Unlock()
		if got := k.Algorithm(); got != a {
			c.failf(FaultCryptoplug, string(a), string(got), "%s key: Algorithm() = %q, want %q", usageName(u), got, a)
		}
		if got := k.Label(); got != f.label {
			c.failf(FaultCryptoplug, fmt.Sprintf("label %q", f.label), fmt.Sprintf("label %q", got), "%s key: Label() = %q, want %q", usageName(u), got, f.label)
		}
		id := k.ID()
		switch {
		case len(id) == 0 || len(id) > backend.MaxKeyIDLen:
			c.failf(FaultCryptoplug, fmt.Sprintf("an ID of 1 to %d bytes", backend.MaxKeyIDLen), fmt.Sprintf("%d bytes", len(id)), "%s key: ID() is %d bytes, want 1 to %d", usageName(u), len(id), backend.MaxKeyIDLen)
		case f.wantID != nil && !id.Equal(f.wantID):
			c.failf(FaultCryptoplug, "ID "+f.wantID.String(), "ID "+id.String(), "%s key: ID() = %s, want the ID given in the KeySpec, %s", usageName(u), id, f.wantID)
		}
		if err := validatePublic(a, k.Public()); err != nil {
			c.failf(FaultStore, "a valid "+string(a)+" public key", err.Error(), "%s key: %v", usageName(u), err)
		}
		c.Notef("%s key %s in %v", usageName(u), f.how, took.Round(time.Millisecond))
	}
}

// checkPublicKey checks each shared key's public key: its type and size,
// that every call returns the same key, and that it survives the standard
// encoding: PKIX (x509.MarshalPKIXPublicKey) where crypto/x509 supports the
// type, circl's MarshalBinary for Ed448 and ML-DSA, Bytes for ML-KEM.
func checkPublicKey(r *runner, c *cell, a backend.Algorithm) {
	us := r.usages(a)
	if len(us) == 0 {
		r.need(c, a, usageOp(naturalUsage(a)))
	}
	for _, u := range us {
		k := r.key(c, a, u)
		pub := k.Public()
		if err := validatePublic(a, pub); err != nil {
			c.fatalf(FaultStore, "a valid "+string(a)+" public key", err.Error(), "%s key: %v", usageName(u), err)
		}
		for i := range 3 {
			if again := k.Public(); !publicEqual(pub, again) {
				c.failf(FaultCryptoplug, "the same public key on every call", "a different key", "%s key: Public() call %d returned a different key", usageName(u), i+2)
			}
		}
		if err := roundTripPublic(a, pub); err != nil {
			c.failf(FaultCryptoplug, "a public key that survives its standard encoding", err.Error(), "%s key: %v", usageName(u), err)
		}
	}
}

// roundTripPublic encodes pub and decodes it again.
func roundTripPublic(a backend.Algorithm, pub crypto.PublicKey) error {
	switch a.Family() {
	case backend.FamilyRSA, backend.FamilyECDSA:
		return roundTripPKIX(pub)
	}
	switch a {
	case backend.Ed25519:
		return roundTripPKIX(pub)
	case backend.Ed448:
		return roundTripBinary(pub, func(b []byte) (crypto.PublicKey, error) {
			if len(b) != ed448.PublicKeySize {
				return nil, fmt.Errorf("%d bytes", len(b))
			}
			return ed448.PublicKey(b), nil
		})
	case backend.MLDSA44:
		return roundTripBinary(pub, func(b []byte) (crypto.PublicKey, error) {
			k := new(mldsa44.PublicKey)
			return k, k.UnmarshalBinary(b)
		})
	case backend.MLDSA65:
		return roundTripBinary(pub, func(b []byte) (crypto.PublicKey, error) {
			k := new(mldsa65.PublicKey)
			return k, k.UnmarshalBinary(b)
		})
	case backend.MLDSA87:
		return roundTripBinary(pub, func(b []byte) (crypto.PublicKey, error) {
			k := new(mldsa87.PublicKey)
			return k, k.UnmarshalBinary(b)
		})
	case backend.MLKEM768:
		ek := pub.(*mlkem.EncapsulationKey768)
		back, err := mlkem.NewEncapsulationKey768(ek.Bytes())
		if err != nil || !publicEqual(ek, back) {
			return fmt.Errorf("ML-KEM-768 encapsulation key does not round-trip through Bytes: %v", err)
		}
	case backend.MLKEM1024:
		ek := pub.(*mlkem.EncapsulationKey1024)
		back, err := mlkem.NewEncapsulationKey1024(ek.Bytes())
		if err != nil || !publicEqual(ek, back) {
			return fmt.Errorf("ML-KEM-1024 encapsulation key does not round-trip through Bytes: %v", err)
		}
	}
	return nil
}

func roundTripPKIX(pub crypto.PublicKey) error {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return fmt.Errorf("x509.MarshalPKIXPublicKey: %v", err)
	}
	back, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return fmt.Errorf("x509.ParsePKIXPublicKey of the key's own encoding: %v", err)
	}
	if !publicEqual(pub, back) {
		return fmt.Errorf("public key changed in a PKIX round trip")
	}
	return nil
}

func roundTripBinary(pub crypto.PublicKey, parse func([]byte) (crypto.PublicKey, error)) error {
	m, ok := pub.(encoding.BinaryMarshaler)
	if !ok {
		return fmt.Errorf("%T has no MarshalBinary", pub)
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return fmt.Errorf("MarshalBinary: %v", err)
	}
	back, err := parse(b)
	if err != nil {
		return fmt.Errorf("decode the key's own MarshalBinary: %v", err)
	}
	if !publicEqual(pub, back) {
		return fmt.Errorf("public key changed in a MarshalBinary round trip")
	}
	return nil
}

// checkUsage checks that each shared key offers the interface of its usage,
// with the same public key, and refuses the others with ErrUnsupported:
// Decrypter() on a signing key, Signer() on an RSA decryption key or an
// ML-KEM key, and so on.
func checkUsage(r *runner, c *cell, a backend.Algorithm) {
	us := r.usages(a)
	if len(us) == 0 {
		r.need(c, a, usageOp(naturalUsage(a)))
	}
	for _, u := range us {
		k := r.key(c, a, u)
		pub := k.Public()
		name := usageName(u) + " key"
		s, serr := k.Signer()
		d, derr := k.Decrypter()
		e, eerr := k.Decapsulator()
		switch u {
		case backend.UsageSign:
			if serr != nil {
				c.callFailed(name+": Signer()", serr)
			} else {
				if !publicEqual(s.Public(), pub) {
					c.failf(FaultCryptoplug, "Signer().Public() equal to Key.Public()", "a different key", "%s: Signer().Public() differs from Key.Public()", name)
				}
				if _, ok := s.(backend.MessageSigner); a.SignsMessages() && !ok {
					c.failf(FaultCryptoplug, "a backend.MessageSigner", fmt.Sprintf("%T", s), "%s: the Signer of a %s key must implement backend.MessageSigner", name, a)
				}
			}
			wantErr(c, name+": Decrypter()", derr, backend.ErrUnsupported)
			wantErr(c, name+": Decapsulator()", eerr, backend.ErrUnsupported)
		case backend.UsageDecrypt:
			if derr != nil {
				c.callFailed(name+": Decrypter()", derr)
			} else if !publicEqual(d.Public(), pub) {
				c.failf(FaultCryptoplug, "Decrypter().Public() equal to Key.Public()", "a different key", "%s: Decrypter().Public() differs from Key.Public()", name)
			}
			wantErr(c, name+" (created with UsageDecrypt only): Signer()", serr, backend.ErrUnsupported)
			wantErr(c, name+": Decapsulator()", eerr, backend.ErrUnsupported)
		case backend.UsageDecapsulate:
			if eerr != nil {
				c.callFailed(name+": Decapsulator()", eerr)
			} else if enc, ok := pub.(interface{ Bytes() []byte }); ok && string(e.Encapsulator().Bytes()) != string(enc.Bytes()) {
				c.failf(FaultCryptoplug, "Encapsulator() equal to Key.Public()", "a different key", "%s: Decapsulator().Encapsulator() differs from Key.Public()", name)
			}
			wantErr(c, name+": Signer()", serr, backend.ErrUnsupported)
			wantErr(c, name+": Decrypter()", derr, backend.ErrUnsupported)
		}
	}
}

// checkUnclaimed checks that what the backend does not claim for a fails
// with ErrUnsupported: generating an algorithm it does not claim generate
// for, importing when it does not claim import, and generating an RSA
// decryption key when it does not claim decrypt.
func checkUnclaimed(r *runner, c *cell, a backend.Algorithm) {
	b := r.backend()
	tried := 0
	refuse := func(what string, u backend.Usage, create func(spec backend.KeySpec) (backend.Key, error)) {
		tried++
		spec := backend.KeySpec{Algorithm: a, Label: r.label(string(a), "unclaimed", fmt.Sprint(tried)), Usage: u}
		r.track(spec.Label)
		k, err := create(spec)
		if err == nil {
			c.failf(FaultCryptoplug, "ErrUnsupported", "success", "%s succeeded although the backend does not claim it (claims %s for %s)", what, r.caps[a], a)
			_ = b.DeleteKey(c.ctx, backend.KeyRef{ID: k.ID(), Label: spec.Label})
			return
		}
		wantErr(c, what+" (not claimed)", err, backend.ErrUnsupported)
	}
	if !r.caps.Supports(a, backend.OpGenerate) {
		refuse("GenerateKey", 0, func(spec backend.KeySpec) (backend.Key, error) { return b.GenerateKey(c.ctx, spec) })
	}
	if imp, ok := b.(backend.Importer); ok && !r.caps.Supports(a, backend.OpImport) {
		priv, err := r.stdlibKey(a)
		if err != nil {
			c.suiteFatal("make a key to import: %v", err)
		}
		refuse("ImportKey", 0, func(spec backend.KeySpec) (backend.Key, error) { return imp.ImportKey(c.ctx, spec, priv) })
	}
	if a.Decrypts() && r.caps.Supports(a, backend.OpGenerate) && !r.caps.Supports(a, backend.OpDecrypt) {
		refuse("GenerateKey with UsageDecrypt", backend.UsageDecrypt, func(spec backend.KeySpec) (backend.Key, error) { return b.GenerateKey(c.ctx, spec) })
	}
	if tried == 0 {
		c.Skip("nothing to refuse: the backend claims every operation the suite can ask of %s (%s)", a, r.caps[a])
	}
	c.Notef("%d unclaimed operation(s) refused with ErrUnsupported", tried)
}
