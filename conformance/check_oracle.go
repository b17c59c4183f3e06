//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract, so the suite must exercise it

package conformance

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/cryptoplug/cryptoplug/backend"
)

// checkDecryptOracle checks that RSA decryption failures are
// indistinguishable: every ciphertext of the right length whose padding is
// wrong, whatever is wrong with it, must fail with the same error text and
// the same chain of error types. A decrypter whose errors differ by reason
// ("block type", "no separator", "label hash") is a padding oracle even when
// every error wraps rsa.ErrDecryption: Bleichenbacher's attack on PKCS #1
// v1.5 and Manger's on OAEP need only one bit of difference. Each padding is
// checked as a group: PKCS #1 v1.5; OAEP with SHA-1 (the baseline); and
// OAEP with SHA-256 where the store offers it. Timing is not measured here
// (the suite has no timed tests); only what the caller can read.
func checkDecryptOracle(r *runner, c *cell, a backend.Algorithm) {
	pub, d := r.decrypter(c, a)
	k := pub.Size()
	msg := randomBytes(20)
	msg[0] |= 0x80 // see checkDecryptInvalid: keeps "no separator" invalid
	randomCT := func() []byte { return rawEncrypt(pub, append([]byte{0}, randomBytes(k-1)...)) }
	type bad struct {
		name string
		ct   []byte
	}
	pkcs1 := []bad{
		{"first byte 01", rawEncrypt(pub, func() []byte { em := pkcs1EM(k, msg, 0); em[0] = 0x01; return em }())},
		{"block type 01", rawEncrypt(pub, badBlockType(pkcs1EM(k, msg, 0)))},
		{"block type 00", rawEncrypt(pub, func() []byte { em := pkcs1EM(k, msg, 0); em[1] = 0x00; return em }())},
		{"no zero separator", rawEncrypt(pub, noSeparator(pkcs1EM(k, msg, 0)))},
		{"padding string of 7 bytes", rawEncrypt(pub, pkcs1EM(k, randomBytes(k-3-7), 7))},
		{"empty padding string", rawEncrypt(pub, append([]byte{0x00, 0x02, 0x00}, randomBytes(k-3)...))},
		{"a random ciphertext", randomCT()},
	}
	oaep := func(h crypto.Hash) []bad {
		valid, err := rsa.EncryptOAEPWithOptions(rand.Reader, pub, msg, &rsa.OAEPOptions{Hash: h})
		if err != nil {
			c.suiteFatal("rsa.EncryptOAEPWithOptions: %v", err)
		}
		valid[k/2] ^= 0x40
		return []bad{
			{"leading byte 01", rawEncrypt(pub, oaepEM(k, h, nil, msg, nil, 0x01))},
			{"wrong label hash", rawEncrypt(pub, oaepEM(k, h, nil, msg, func(db []byte) { db[0] ^= 0x80 }, 0x00))},
			{"no 0x01 separator", rawEncrypt(pub, oaepEM(k, h, nil, msg, func(db []byte) { db[len(db)-len(msg)-1] = 0x00 }, 0x00))},
			{"separator 0x02", rawEncrypt(pub, oaepEM(k, h, nil, msg, func(db []byte) { db[len(db)-len(msg)-1] = 0x02 }, 0x00))},
			{"one bit flipped", valid},
			{"a random ciphertext", randomCT()},
		}
	}
	groups := []struct {
		name     string
		opts     crypto.DecrypterOpts
		cases    []bad
		optional bool
	}{
		{"PKCS#1 v1.5", nil, pkcs1, false},
		{"OAEP SHA-1", &rsa.OAEPOptions{Hash: crypto.SHA1}, oaep(crypto.SHA1), false},
		{"OAEP SHA-256", &rsa.OAEPOptions{Hash: crypto.SHA256}, oaep(crypto.SHA256), true},
	}
	var checked []string
	for _, g := range groups {
		var first struct {
			name, text string
			set        bool
		}
		differ := false
		for i, tc := range g.cases {
			_, err := decrypt(c, d, tc.ct, g.opts, i%2 == 1)
			if err == nil {
				continue // decrypt-invalid reports a bad ciphertext that decrypts
			}
			if g.optional && errors.Is(err, backend.ErrUnsupported) {
				break
			}
			text := errorSignature(err)
			if !first.set {
				first.name, first.text, first.set = tc.name, text, true
				continue
			}
			if text != first.text && !differ {
				differ = true
				c.failf(FaultCryptoplug, "the same error for every padding failure",
					fmt.Sprintf("%q for %s, %q for %s", first.text, first.name, text, tc.name),
					"%s: decryption errors differ by failure reason (a padding oracle): %s gives %s, %s gives %s",
					g.name, first.name, first.text, tc.name, text)
			}
		}
		if first.set && !differ {
			checked = append(checked, fmt.Sprintf("%s (%d kinds of bad padding)", g.name, len(g.cases)))
		}
		decryptValid(c, pub, d, "after the "+g.name+" padding failures")
	}
	if len(checked) > 0 {
		c.Notef("one error text and type chain for every failure: %s", strings.Join(checked, ", "))
	}
}

// errorSignature is what a caller can read from an error: its text and the
// chain of types it wraps.
func errorSignature(err error) string {
	var types []string
	var walk func(e error)
	walk = func(e error) {
		for e != nil {
			types = append(types, reflect.TypeOf(e).String())
			switch u := e.(type) {
			case interface{ Unwrap() []error }:
				for _, inner := range u.Unwrap() {
					walk(inner)
				}
				return
			case interface{ Unwrap() error }:
				e = u.Unwrap()
			default:
				return
			}
		}
	}
	walk(err)
	return err.Error() + " [" + strings.Join(types, " > ") + "]"
}
