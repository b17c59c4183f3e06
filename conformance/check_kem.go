package conformance

import (
	"bytes"
	"crypto"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
)

// decapsulator returns the shared ML-KEM key's encapsulation key and
// Decapsulator, or ends the cell.
func (r *runner) decapsulator(c *cell, a backend.Algorithm) (crypto.Encapsulator, backend.Decapsulator) {
	c.t.Helper()
	k := r.key(c, a, backend.UsageDecapsulate)
	d, err := k.Decapsulator()
	if err != nil {
		c.callFatal(fmt.Sprintf("Decapsulator() of the shared %s key", a), err)
	}
	ek, ok := k.Public().(crypto.Encapsulator)
	if !ok {
		c.fatalf(FaultCryptoplug, "a crypto.Encapsulator", fmt.Sprintf("%T", k.Public()), "Public() of an %s key is %T, not a crypto.Encapsulator", a, k.Public())
	}
	return ek, d
}

// decapsulate calls Decapsulate, or DecapsulateContext when withCtx is set,
// and checks that the ciphertext was left as it was.
func decapsulate(c *cell, d backend.Decapsulator, ct []byte, withCtx bool) ([]byte, error) {
	c.t.Helper()
	before := bytes.Clone(ct)
	var (
		key []byte
		err error
	)
	if withCtx {
		key, err = d.DecapsulateContext(c.ctx, ct)
	} else {
		key, err = d.Decapsulate(ct)
	}
	unmodified(c, "Decapsulate", ct, before, nil, optsState(nil))
	return key, err
}

// decapsulateValid decapsulates one fresh ciphertext; checks call it after
// an odd request to show the key still works.
func decapsulateValid(c *cell, ek crypto.Encapsulator, d backend.Decapsulator, when string) {
	c.t.Helper()
	want, ct := ek.Encapsulate()
	got, err := d.DecapsulateContext(c.ctx, ct)
	if err != nil {
		c.callFailed("a valid decapsulation "+when, err)
	} else if !bytes.Equal(got, want) {
		c.failf(FaultStore, "the encapsulated shared key", "another key", "a valid decapsulation %s gave the wrong shared key", when)
	}
}

// checkDecapsulate encapsulates with crypto/mlkem, to the key's public key
// and to its Decapsulator's Encapsulator, and checks the backend
// decapsulates the same shared key, through Decapsulate and
// DecapsulateContext.
func checkDecapsulate(r *runner, c *cell, a backend.Algorithm) {
	ek, d := r.decapsulator(c, a)
	if !bytes.Equal(d.Encapsulator().Bytes(), ek.Bytes()) {
		c.failf(FaultCryptoplug, "Encapsulator() equal to Key.Public()", "a different key", "Decapsulator().Encapsulator() differs from Key.Public()")
	}
	for i := range 6 {
		enc := ek
		if i >= 4 {
			enc = d.Encapsulator()
		}
		want, ct := enc.Encapsulate()
		got, err := decapsulate(c, d, ct, i%2 == 1)
		switch {
		case err != nil:
			c.callFailed("decapsulate a crypto/mlkem ciphertext", err)
		case len(got) != 32:
			c.failf(FaultStore, "a 32-byte shared key", fmt.Sprintf("%d bytes", len(got)), "shared key is %d bytes, want 32", len(got))
		case !bytes.Equal(got, want):
			c.failf(FaultStore, "the encapsulated shared key", "another key", "decapsulated shared key differs from the one crypto/mlkem encapsulated")
		}
	}
}

// checkDecapsulateInvalid checks ML-KEM's implicit rejection: a tampered
// ciphertext (a byte changed at the start, middle or end, or random bytes of
// the right length) decapsulates without error to a 32-byte key unlike the
// real one, to the same key every time, and to a different key for each
// ciphertext (a constant rejection key would tell the caller which
// ciphertexts were rejected); ciphertexts of the wrong length fail with
// ErrInvalidInput. After each, a valid decapsulation must succeed.
func checkDecapsulateInvalid(r *runner, c *cell, a backend.Algorithm) {
	ek, d := r.decapsulator(c, a)
	want, ct := ek.Encapsulate()
	flip := func(i int) []byte { t := bytes.Clone(ct); t[i] ^= 0x01; return t }
	rejections := map[string]string{}
	for _, tc := range []struct {
		name string
		ct   []byte
	}{
		{"first byte changed", flip(0)},
		{"middle byte changed", flip(len(ct) / 2)},
		{"last byte changed", flip(len(ct) - 1)},
		{"random bytes", randomBytes(len(ct))},
	} {
		k1, err := decapsulate(c, d, tc.ct, false)
		if err != nil {
			c.failf(faultOf(err), "a pseudorandom key and no error (implicit rejection)", gotErr(err), "%s: %v; ML-KEM must reject implicitly, returning a pseudorandom key and no error", tc.name, err)
			continue
		}
		if len(k1) != 32 {
			c.failf(FaultStore, "a 32-byte key", fmt.Sprintf("%d bytes", len(k1)), "%s: implicit-rejection key is %d bytes, want 32", tc.name, len(k1))
		}
		if bytes.Equal(k1, want) {
			c.failf(FaultStore, "the implicit-rejection key", "the real shared key", "%s: decapsulated to the real shared key", tc.name)
		}
		if other, dup := rejections[string(k1)]; dup {
			c.failf(FaultStore, "a different implicit-rejection key for every ciphertext", "the same key for two",
				"%s and %s gave the same implicit-rejection key: it must be derived from the ciphertext (FIPS 203), not constant", other, tc.name)
		}
		rejections[string(k1)] = tc.name
		k2, err := decapsulate(c, d, tc.ct, true)
		if err != nil || !bytes.Equal(k1, k2) {
			c.failf(FaultStore, "the same key again", "a different result", "%s: decapsulating the same ciphertext again gave a different result (err %v); implicit rejection is deterministic", tc.name, err)
		}
		decapsulateValid(c, ek, d, "after "+tc.name)
	}
	for _, tc := range []struct {
		name string
		ct   []byte
	}{
		{"one byte short", ct[:len(ct)-1]},
		{"one byte long", append(bytes.Clone(ct), 0)},
		{"empty", []byte{}},
	} {
		_, err := decapsulate(c, d, tc.ct, true)
		wantErr(c, "ciphertext "+tc.name, err, backend.ErrInvalidInput)
		decapsulateValid(c, ek, d, "after a ciphertext "+tc.name)
	}
}
