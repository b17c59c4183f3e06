//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract, so the suite must exercise it

package conformance

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"

	"github.com/cryptoplug/cryptoplug/backend"
)

// decrypter returns the shared RSA decryption key's public key and
// Decrypter, or ends the cell.
func (r *runner) decrypter(c *cell, a backend.Algorithm) (*rsa.PublicKey, backend.Decrypter) {
	c.t.Helper()
	k := r.key(c, a, backend.UsageDecrypt)
	d, err := k.Decrypter()
	if err != nil {
		c.callFatal(fmt.Sprintf("Decrypter() of the shared %s decryption key", a), err)
	}
	return k.Public().(*rsa.PublicKey), d
}

// decrypt calls Decrypt, or DecryptContext when withCtx is set, and checks
// that the ciphertext and options were left as they were.
func decrypt(c *cell, d backend.Decrypter, ct []byte, opts crypto.DecrypterOpts, withCtx bool) ([]byte, error) {
	c.t.Helper()
	before, optsBefore := bytes.Clone(ct), optsState(opts)
	var (
		pt  []byte
		err error
	)
	if withCtx {
		pt, err = d.DecryptContext(c.ctx, rand.Reader, ct, opts)
	} else {
		pt, err = d.Decrypt(rand.Reader, ct, opts)
	}
	unmodified(c, "Decrypt", ct, before, opts, optsBefore)
	return pt, err
}

// decryptValid decrypts one fresh PKCS #1 v1.5 ciphertext; checks call it
// after a refused ciphertext to show the key still works.
func decryptValid(c *cell, pub *rsa.PublicKey, d backend.Decrypter, when string) {
	c.t.Helper()
	msg := randomBytes(24)
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, msg)
	if err != nil {
		c.suiteFatal("rsa.EncryptPKCS1v15: %v", err)
	}
	pt, err := d.DecryptContext(c.ctx, rand.Reader, ct, nil)
	if err != nil {
		c.callFailed("a valid PKCS#1 v1.5 decryption "+when, err)
	} else if !bytes.Equal(pt, msg) {
		c.failf(FaultStore, "the plaintext encrypted", "another plaintext", "a valid PKCS#1 v1.5 decryption %s returned the wrong plaintext", when)
	}
}

// checkDecryptPKCS1v15 decrypts PKCS #1 v1.5 ciphertexts made by crypto/rsa
// of 0 bytes (the separator then ends the block), 1 byte, 32 bytes starting
// with two zero bytes (which a conversion through a big integer drops) and
// the longest possible (k-11) bytes, with nil options and an empty
// *rsa.PKCS1v15DecryptOptions, through Decrypt and DecryptContext. It is
// baseline for every backend that claims RSA decryption.
func checkDecryptPKCS1v15(r *runner, c *cell, a backend.Algorithm) {
	pub, d := r.decrypter(c, a)
	for i, n := range []int{0, 1, 32, pub.Size() - 11} {
		for j, opts := range []crypto.DecrypterOpts{nil, &rsa.PKCS1v15DecryptOptions{}} {
			msg := randomBytes(n)
			if n == 32 {
				msg[0], msg[1] = 0, 0
			}
			ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, msg)
			if err != nil {
				c.suiteFatal("rsa.EncryptPKCS1v15: %v", err)
			}
			pt, err := decrypt(c, d, ct, opts, (i+j)%2 == 1)
			switch {
			case err != nil:
				c.callFailed(fmt.Sprintf("%d-byte message, options %s", n, optsState(opts)), err)
			case !bytes.Equal(pt, msg):
				c.failf(FaultStore, fmt.Sprintf("the %d-byte plaintext encrypted", n), fmt.Sprintf("another plaintext of %d bytes", len(pt)),
					"%d-byte message, options %s: wrong plaintext (%d bytes)", n, optsState(opts), len(pt))
			}
		}
	}
}

// countingReader counts the bytes read from crypto/rand through it.
type countingReader struct{ n atomic.Int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := rand.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// checkDecryptSessionKey checks PKCS #1 v1.5 decryption with SessionKeyLen
// set, the crypto/rsa rule that makes TLS-RSA-style key transport safe
// against Bleichenbacher's attack: a correctly padded key of that length
// comes back; bad padding, or correct padding around a message of another
// length, returns a key of that length and no error, and the caller must not
// be able to tell it from a real one. So the fallback keys of different bad
// ciphertexts must differ from each other (a constant or zero key does not),
// and must not be bytes of the decrypted block; the same bad ciphertext may
// give the same key again (implicit rejection, as OpenSSL 3.2 and
// opencryptoki derive it from the ciphertext) or a fresh random one. How
// much the backend reads from the caller's rand must not depend on the
// padding either: reading the fallback only when the padding is bad tells
// the padding's fate to whoever supplies rand. A ciphertext of the wrong
// length is still an error. A store that refuses SessionKeyLen with
// ErrUnsupported is recorded as unsupported.
func checkDecryptSessionKey(r *runner, c *cell, a backend.Algorithm) {
	pub, d := r.decrypter(c, a)
	k := pub.Size()
	opts := &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 32}
	key := randomBytes(32)
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, key)
	if err != nil {
		c.suiteFatal("rsa.EncryptPKCS1v15: %v", err)
	}
	pt, err := decrypt(c, d, ct, opts, false)
	switch {
	case errors.Is(err, backend.ErrUnsupported):
		c.Unsupported("store refuses PKCS#1 v1.5 decryption with SessionKeyLen: %v", err)
	case err != nil:
		c.callFatal("correctly padded 32-byte key with SessionKeyLen 32", err)
	case !bytes.Equal(pt, key):
		c.failf(FaultStore, "the 32-byte key encrypted", "another key", "correctly padded 32-byte key with SessionKeyLen 32: wrong plaintext")
	}

	msg16 := randomBytes(16)
	short, err := rsa.EncryptPKCS1v15(rand.Reader, pub, msg16)
	if err != nil {
		c.suiteFatal("rsa.EncryptPKCS1v15: %v", err)
	}
	type badCase struct {
		name   string
		ct     []byte
		secret []byte // bytes of the decrypted block the fallback must not be
	}
	emBT := badBlockType(pkcs1EM(k, randomBytes(32), 0))
	emNS := noSeparator(pkcs1EM(k, randomBytes(32), 0))
	cases := []badCase{
		{"correct padding around a 16-byte message", short, msg16},
		{"block type 01", rawEncrypt(pub, emBT), emBT[k-32:]},
		{"no zero separator", rawEncrypt(pub, emNS), emNS[k-32:]},
		{"a random ciphertext", rawEncrypt(pub, append([]byte{0}, randomBytes(k-1)...)), nil},
	}
	fallbacks := map[string]string{}
	for i, tc := range cases {
		pt, err := decrypt(c, d, tc.ct, opts, i%2 == 0)
		switch {
		case err != nil:
			c.failf(FaultCryptoplug, "32 bytes and no error", gotErr(err),
				"%s with SessionKeyLen 32: %v; want 32 bytes and no error, as crypto/rsa returns", tc.name, err)
		case len(pt) != 32:
			c.failf(FaultCryptoplug, "32 bytes", fmt.Sprintf("%d bytes", len(pt)), "%s with SessionKeyLen 32: %d bytes, want 32", tc.name, len(pt))
		case allZero(pt):
			c.failf(FaultCryptoplug, "a random key", "32 zero bytes", "%s with SessionKeyLen 32: the fallback key is all zero", tc.name)
		case tc.secret != nil && bytes.Contains(pt, tc.secret) || tc.secret != nil && bytes.Contains(tc.secret, pt):
			c.failf(FaultCryptoplug, "a random key", "bytes of the decrypted block", "%s with SessionKeyLen 32: the fallback key is the tail of the decrypted block", tc.name)
		default:
			if other, dup := fallbacks[string(pt)]; dup {
				c.failf(FaultCryptoplug, "a different key for every bad ciphertext", "the same key for two",
					"%s and %s with SessionKeyLen 32 gave the same fallback key: it is constant, so a caller can tell bad padding from good", other, tc.name)
			}
			fallbacks[string(pt)] = tc.name
		}
		decryptValid(c, pub, d, "after "+tc.name)
	}
	again, err := decrypt(c, d, cases[1].ct, opts, true)
	if err == nil {
		if _, same := fallbacks[string(again)]; same {
			c.Notef("the same bad ciphertext gives the same fallback key again (implicit rejection)")
		} else {
			c.Notef("the same bad ciphertext gives a fresh random fallback key each time")
		}
	}

	checkRandUse(c, d, opts, ct, cases[1].ct)

	// crypto/rsa treats a short ciphertext like bad padding here (random
	// bytes, no error) and a long one as an error; either is safe.
	for _, tc := range []struct {
		name string
		ct   []byte
	}{{"one byte short", ct[1:]}, {"one byte long", append([]byte{0}, ct...)}} {
		pt, err := decrypt(c, d, tc.ct, opts, false)
		if err == nil && len(pt) != 32 {
			c.failf(FaultCryptoplug, "32 bytes or rsa.ErrDecryption", fmt.Sprintf("%d bytes", len(pt)),
				"ciphertext %s with SessionKeyLen 32: %d bytes and no error, want 32 random bytes or rsa.ErrDecryption", tc.name, len(pt))
		} else if err != nil {
			wantErr(c, "ciphertext "+tc.name+" with SessionKeyLen 32", err, rsa.ErrDecryption)
		}
	}
}

// checkRandUse decrypts a well-padded and a badly padded ciphertext with a
// counting rand: how many bytes the backend reads must not depend on the
// padding, or whoever supplies rand learns the padding's fate.
func checkRandUse(c *cell, d backend.Decrypter, opts crypto.DecrypterOpts, good, bad []byte) {
	c.t.Helper()
	var goodRand, badRand countingReader
	if _, err := d.DecryptContext(c.ctx, &goodRand, good, opts); err != nil {
		c.callFailed("correctly padded key with a counting rand", err)
	}
	if _, err := d.DecryptContext(c.ctx, &badRand, bad, opts); err != nil {
		c.failf(FaultCryptoplug, "32 bytes and no error", gotErr(err), "bad padding with a counting rand: %v", err)
	}
	if g, b := goodRand.n.Load(), badRand.n.Load(); g != b {
		c.failf(FaultCryptoplug, "the same use of rand for good and bad padding", fmt.Sprintf("%d bytes read for good padding, %d for bad", g, b),
			"with SessionKeyLen, the backend reads %d bytes from rand for a good padding and %d for a bad one: whoever supplies rand learns the padding's fate", g, b)
	}
}

func badBlockType(em []byte) []byte { em[1] = 0x01; return em }

func noSeparator(em []byte) []byte {
	copy(em[2:], nonZeroBytes(len(em)-2))
	return em
}

// decryptOAEPCheck returns the check of OAEP decryption with hash h, for the
// MGF1 hash (the same as h, or SHA-1) and label (none, or a label) variants,
// each encrypted by crypto/rsa. A wrong label must give rsa.ErrDecryption
// (or ErrUnsupported from a store that cannot take labels at all).
// OAEP with SHA-1, its own MGF1 and no label is the baseline.
func decryptOAEPCheck(h crypto.Hash) func(*runner, *cell, backend.Algorithm) {
	return func(r *runner, c *cell, a backend.Algorithm) {
		pub, d := r.decrypter(c, a)
		v := &variants{c: c}
		mgfs := []crypto.Hash{0}
		if h != crypto.SHA1 {
			mgfs = append(mgfs, crypto.SHA1)
		} else {
			mgfs = append(mgfs, crypto.SHA1) // the same hash, named explicitly
		}
		i := 0
		for _, mgf := range mgfs {
			for _, label := range [][]byte{nil, []byte("cryptoplug conformance label")} {
				i++
				opts := &rsa.OAEPOptions{Hash: h, MGFHash: mgf, Label: label}
				name := fmt.Sprintf("OAEP %v", h)
				if mgf != 0 {
					name += fmt.Sprintf(" MGF1-%v", mgf)
				}
				if label != nil {
					name += " with a label"
				}
				withCtx := i%2 == 0
				v.run(name, h == crypto.SHA1 && mgf == 0 && label == nil, func() error {
					n := 32
					if mgf == 0 && label == nil {
						n = pub.Size() - 2*h.Size() - 2 // the longest message
					}
					msg := randomBytes(n)
					ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, pub, msg, opts)
					if err != nil {
						c.suiteFatal("rsa.EncryptOAEPWithOptions: %v", err)
					}
					pt, err := decrypt(c, d, ct, opts, withCtx)
					if err != nil {
						return err
					}
					if !bytes.Equal(pt, msg) {
						c.failf(FaultStore, fmt.Sprintf("the %d-byte plaintext encrypted", len(msg)), fmt.Sprintf("another plaintext of %d bytes", len(pt)), "%s: wrong plaintext (%d bytes, want %d)", name, len(pt), len(msg))
					}
					if mgf == 0 && label == nil {
						// The empty message: the 0x01 separator ends the block.
						empty, err := rsa.EncryptOAEPWithOptions(rand.Reader, pub, nil, opts)
						if err != nil {
							c.suiteFatal("rsa.EncryptOAEPWithOptions: %v", err)
						}
						pt, err := decrypt(c, d, empty, opts, !withCtx)
						switch {
						case err != nil:
							c.callFailed(name+": the empty message", err)
						case len(pt) != 0:
							c.failf(FaultStore, "the empty plaintext", fmt.Sprintf("%d bytes", len(pt)), "%s: the empty message decrypted to %d bytes", name, len(pt))
						}
					}
					// A store that cannot check labels may refuse them
					// (ErrUnsupported); it must not decrypt.
					wrong := &rsa.OAEPOptions{Hash: h, MGFHash: mgf, Label: []byte("another label")}
					_, err = decrypt(c, d, ct, wrong, !withCtx)
					wantErr(c, name+" decrypted with another label", err, rsa.ErrDecryption, backend.ErrUnsupported)
					return nil
				})
			}
		}
		v.finish()
	}
}

// checkDecryptInvalid sends ciphertexts that must fail with
// rsa.ErrDecryption, built from the public key: PKCS #1 v1.5 blocks with a
// bad first byte, a bad block type, no zero separator or short padding; OAEP
// blocks with a bad leading byte, a wrong label hash or no 0x01 separator;
// c = 0, c = 1, c = n, c > n, a valid ciphertext plus n; ciphertexts one
// byte short, one byte long (even with a leading zero) or empty; and a
// tampered OAEP ciphertext.
// Options outside the contract (an unknown type, OAEP with MD5) must fail
// too. After every failure a valid decryption must succeed.
func checkDecryptInvalid(r *runner, c *cell, a backend.Algorithm) {
	pub, d := r.decrypter(c, a)
	k := pub.Size()
	msg := randomBytes(20)
	// "No 0x01 separator" zeroes the separator, so a decoder scans on into
	// the message: a message starting 0x00 or 0x01 (one in 128) would then
	// decode. A top bit set makes the first non-zero byte always wrong.
	msg[0] |= 0x80
	// "One byte short" drops valid[0]; when that byte is zero (about one
	// ciphertext in 256) the shorter slice is the same integer and
	// decrypts correctly, as crypto/rsa does. Use a ciphertext whose first
	// byte matters.
	var valid []byte
	for valid == nil || valid[0] == 0 {
		var err error
		if valid, err = rsa.EncryptPKCS1v15(rand.Reader, pub, msg); err != nil {
			c.suiteFatal("rsa.EncryptPKCS1v15: %v", err)
		}
	}
	oaep := &rsa.OAEPOptions{Hash: crypto.SHA1}
	validOAEP, err := rsa.EncryptOAEPWithOptions(rand.Reader, pub, msg, oaep)
	if err != nil {
		c.suiteFatal("rsa.EncryptOAEPWithOptions: %v", err)
	}
	tampered := bytes.Clone(validOAEP)
	tampered[k/2] ^= 0x40
	withLabel, err := rsa.EncryptOAEPWithOptions(rand.Reader, pub, msg, &rsa.OAEPOptions{Hash: crypto.SHA1, Label: []byte("label")})
	if err != nil {
		c.suiteFatal("rsa.EncryptOAEPWithOptions: %v", err)
	}
	n := pub.N.FillBytes(make([]byte, k))
	nPlus1 := new(big.Int).Add(pub.N, big.NewInt(1)).FillBytes(make([]byte, k))
	one := make([]byte, k)
	one[k-1] = 1

	type tc struct {
		name string
		ct   []byte
		opts crypto.DecrypterOpts
	}
	var cases []tc
	pkcs1 := func(name string, em []byte) {
		cases = append(cases, tc{"PKCS#1 v1.5: " + name, rawEncrypt(pub, em), nil})
	}
	pkcs1("first byte 01", func() []byte { em := pkcs1EM(k, msg, 0); em[0] = 0x01; return em }())
	pkcs1("block type 01", badBlockType(pkcs1EM(k, msg, 0)))
	pkcs1("block type 00", func() []byte { em := pkcs1EM(k, msg, 0); em[1] = 0x00; return em }())
	pkcs1("no zero separator", noSeparator(pkcs1EM(k, msg, 0)))
	pkcs1("padding string of 7 bytes", pkcs1EM(k, randomBytes(k-3-7), 7))
	pkcs1("empty padding string", append([]byte{0x00, 0x02, 0x00}, randomBytes(k-3)...))
	oaepCase := func(name string, em []byte) {
		cases = append(cases, tc{"OAEP SHA-1: " + name, rawEncrypt(pub, em), oaep})
	}
	oaepCase("leading byte 01", oaepEM(k, crypto.SHA1, nil, msg, nil, 0x01))
	oaepCase("wrong label hash", oaepEM(k, crypto.SHA1, nil, msg, func(db []byte) { db[0] ^= 0x80 }, 0x00))
	oaepCase("no 0x01 separator", oaepEM(k, crypto.SHA1, nil, msg, func(db []byte) { db[len(db)-len(msg)-1] = 0x00 }, 0x00))
	oaepCase("separator 0x02", oaepEM(k, crypto.SHA1, nil, msg, func(db []byte) { db[len(db)-len(msg)-1] = 0x02 }, 0x00))
	cases = append(cases,
		tc{"OAEP SHA-1: encrypted with a label, decrypted without", withLabel, oaep},
		tc{"OAEP SHA-1: one bit flipped", tampered, oaep},
	)
	for _, o := range []struct {
		name string
		opts crypto.DecrypterOpts
	}{{"PKCS#1 v1.5", nil}, {"OAEP SHA-1", oaep}} {
		cases = append(cases,
			tc{o.name + ": c = 0", make([]byte, k), o.opts},
			tc{o.name + ": c = 1", one, o.opts},
			tc{o.name + ": c = n", n, o.opts},
			tc{o.name + ": c = n+1", nPlus1, o.opts},
			tc{o.name + ": c = 2^(8k)-1 (> n)", bytes.Repeat([]byte{0xff}, k), o.opts},
			tc{o.name + ": one byte short", valid[1:], o.opts},
			tc{o.name + ": one byte long (a zero prepended)", append([]byte{0}, valid...), o.opts},
			tc{o.name + ": empty", []byte{}, o.opts},
		)
	}
	// A valid ciphertext plus n is the same residue: a store that reduces
	// its input modulo n instead of refusing c >= n decrypts it. It fits
	// in k bytes when n's top byte leaves room.
	// in k bytes only for c < 2^(8k) - n, so look for such a c (public-key
	// operations are cheap).
	for range 1024 {
		ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, msg)
		if err != nil {
			c.suiteFatal("rsa.EncryptPKCS1v15: %v", err)
		}
		if plusN := new(big.Int).Add(new(big.Int).SetBytes(ct), pub.N); plusN.BitLen() <= 8*k {
			cases = append(cases, tc{"PKCS#1 v1.5: a valid ciphertext plus n", plusN.FillBytes(make([]byte, k)), nil})
			break
		}
	}
	for i, tc := range cases {
		_, err := decrypt(c, d, tc.ct, tc.opts, i%2 == 1)
		wantErr(c, tc.name, err, rsa.ErrDecryption)
		decryptValid(c, pub, d, "after "+tc.name)
	}

	_, err = decrypt(c, d, valid, crypto.SHA256, false)
	if err == nil {
		c.failf(FaultCryptoplug, "an error", "success", "Decrypt with options of type crypto.Hash (neither PKCS#1 v1.5 nor OAEP options) succeeded; want an error")
	}
	decryptValid(c, pub, d, "after options of an unknown type")
	_, err = decrypt(c, d, validOAEP, &rsa.OAEPOptions{Hash: crypto.MD5}, true)
	wantErr(c, "OAEP with MD5 (not on the allow-list)", err, backend.ErrUnsupported)
	decryptValid(c, pub, d, "after OAEP with MD5")
	c.Notef("%d bad ciphertexts refused with rsa.ErrDecryption", len(cases))
}
