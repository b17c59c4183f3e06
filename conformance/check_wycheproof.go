package conformance

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/cryptoplug/cryptoplug/backend"
)

// knownAnswers ends the cell as skipped when known-answer tests are
// disabled, and returns the backend's Importer after checking it claims
// import and op for a (ending the cell as unsupported otherwise).
func (r *runner) knownAnswers(c *cell, a backend.Algorithm, op backend.Ops) backend.Importer {
	c.t.Helper()
	if r.cfg.wycheproofLimit == 0 {
		c.Skip("known-answer tests disabled (WithWycheproofLimit(0))")
	}
	r.need(c, a, backend.OpImport|op)
	imp, ok := r.backend().(backend.Importer)
	if !ok {
		c.fatalf(FaultCryptoplug, "a backend.Importer", "no ImportKey method", "backend claims import for %s but does not implement backend.Importer", a)
	}
	return imp
}

// vectors loads a Wycheproof file and selects its cases, or fails the cell.
func (r *runner) vectors(c *cell, name string) []wpCase {
	c.t.Helper()
	f, err := r.loadWycheproof(name)
	if err != nil {
		c.suiteFatal("%v", err)
	}
	return selectCases(f, r.cfg.wycheproofLimit)
}

// withImported imports priv under a throwaway label, runs f with the key and
// deletes it again. It returns the import's error without running f.
func (r *runner) withImported(c *cell, imp backend.Importer, a backend.Algorithm, u backend.Usage, tag string, priv any, f func(k backend.Key)) error {
	c.t.Helper()
	label := r.label("wp", tag)
	r.track(label)
	k, err := imp.ImportKey(c.ctx, backend.KeySpec{Algorithm: a, Label: label, Usage: specUsage(a, u)}, priv)
	if err != nil {
		return err
	}
	defer func() {
		if err := r.backend().DeleteKey(c.ctx, backend.KeyRef{ID: k.ID(), Label: label}); err != nil {
			c.callFailed("delete the imported key "+label, err)
		} else {
			r.untrack(label)
		}
	}()
	if !publicEqual(k.Public(), publicOf(priv)) {
		c.failf(FaultCryptoplug, "the public key of the key imported", "another public key", "%s: the imported key's Public() is not the public key of the key imported", tag)
	}
	f(k)
	return nil
}

// publicOf returns the public half of a private key of the types
// backend.Importer accepts.
func publicOf(priv any) crypto.PublicKey {
	switch k := priv.(type) {
	case crypto.Signer:
		return k.Public()
	case *mlkem.DecapsulationKey768:
		return k.EncapsulationKey()
	case *mlkem.DecapsulationKey1024:
		return k.EncapsulationKey()
	}
	return nil
}

// tally counts known-answer outcomes for a cell's detail.
type tally struct {
	pass        int
	skipped     map[string]int // reason → count
	unsupported map[string]int // refused parameter combination → count
}

func (t *tally) skip(reason string) {
	if t.skipped == nil {
		t.skipped = map[string]int{}
	}
	t.skipped[reason]++
}

func (t *tally) refuse(what string) {
	if t.unsupported == nil {
		t.unsupported = map[string]int{}
	}
	t.unsupported[what]++
}

// finish writes the counts to the cell's detail; with no case run at all,
// it ends the cell as unsupported (everything refused) or skipped.
func (t *tally) finish(c *cell, files string) {
	c.t.Helper()
	var parts []string
	parts = append(parts, fmt.Sprintf("%d vectors pass from %s", t.pass, files))
	for _, what := range slices.Sorted(maps.Keys(t.unsupported)) {
		parts = append(parts, fmt.Sprintf("%d refused as unsupported (%s)", t.unsupported[what], what))
	}
	for _, why := range slices.Sorted(maps.Keys(t.skipped)) {
		parts = append(parts, fmt.Sprintf("%d not run (%s)", t.skipped[why], why))
	}
	msg := strings.Join(parts, "; ")
	switch {
	case c.failed() || t.pass > 0:
		c.Notef("%s", msg)
	case len(t.unsupported) > 0:
		c.Unsupported("%s", msg)
	default:
		c.Skip("%s", msg)
	}
}

func rsaFromPKCS8(der []byte) (*rsa.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, err
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("PKCS #8 key is %T", k)
	}
	return rk, nil
}

// checkWycheproofPKCS1Sign imports the keys of rsa_pkcs1_<bits>_sig_gen_test
// and signs each message: PKCS #1 v1.5 is deterministic, so the signature
// must equal the expected bytes. Groups with SHA-1 must be refused with
// ErrUnsupported, as the contract's hash allow-list says.
func checkWycheproofPKCS1Sign(r *runner, c *cell, a backend.Algorithm) {
	imp := r.knownAnswers(c, a, backend.OpSign)
	file := fmt.Sprintf("rsa_pkcs1_%d_sig_gen_test.json", a.Bits())
	cases := r.vectors(c, file)
	var t tally
	for gi, group := range groupCases(cases) {
		g := group[0].g
		priv, err := rsaFromPKCS8(g.PrivateKeyPKCS8)
		if err != nil || priv.N.BitLen() != a.Bits() {
			t.skip("key the standard library does not parse as " + string(a))
			continue
		}
		h := wpHash(g.SHA)
		err = r.withImported(c, imp, a, backend.UsageSign, fmt.Sprintf("pkcs1-sign-%d", gi), priv, func(k backend.Key) {
			s, err := k.Signer()
			if err != nil {
				c.callFatal("Signer()", err)
			}
			for _, tc := range group {
				if h == 0 {
					t.skip("hash " + g.SHA)
					continue
				}
				sig, err := s.SignContext(c.ctx, rand.Reader, hashOf(h, tc.t.Msg), h)
				switch {
				case !backend.SignatureHashAllowed(h):
					if wantErr(c, fmt.Sprintf("tcId %d: %v (not on the allow-list)", tc.t.ID, h), err, backend.ErrUnsupported) {
						t.pass++
					}
				case errors.Is(err, backend.ErrUnsupported) && h != crypto.SHA256:
					t.refuse(g.SHA)
				case err != nil:
					c.callFailed(fmt.Sprintf("%s tcId %d (%s)", file, tc.t.ID, g.SHA), err)
				case tc.t.Result == "invalid":
					t.skip("invalid case: nothing to sign")
				case !bytes.Equal(sig, tc.t.Sig):
					c.failf(FaultStore, "the expected deterministic signature", "other bytes", "%s tcId %d (%s, %s): signature differs from the expected one", file, tc.t.ID, g.SHA, tc.t.Result)
				default:
					t.pass++
				}
			}
		})
		importFailed(c, &t, file, gi, len(group), err)
	}
	t.finish(c, file)
}

// importFailed records a failed import of a group's key: a key the store
// refuses with ErrUnsupported (one it cannot hold, such as an RSA key with
// unbalanced primes or exponent 3 in a TPM, which must support only
// 65537) counts its n cases as refused; any other error fails the cell.
func importFailed(c *cell, t *tally, file string, group, n int, err error) {
	c.t.Helper()
	switch {
	case err == nil:
	case errors.Is(err, backend.ErrUnsupported):
		for range n {
			t.refuse("keys the store cannot hold")
		}
	default:
		c.callFailed(fmt.Sprintf("%s: import the group %d key", file, group), err)
	}
}

// groupCases splits selected cases by group, keeping the order.
func groupCases(cases []wpCase) [][]wpCase {
	var out [][]wpCase
	for i, tc := range cases {
		if i == 0 || tc.group != cases[i-1].group {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], tc)
	}
	return out
}

// rsaDecryptVectors imports each group's key for decryption and decrypts
// every case with the options opts returns for the group: valid cases must
// give the message, invalid ones rsa.ErrDecryption.
func (r *runner) rsaDecryptVectors(c *cell, imp backend.Importer, a backend.Algorithm, file string, t *tally,
	opts func(g *wpGroup, tc *wpTest) (crypto.DecrypterOpts, string, bool)) {
	c.t.Helper()
	cases := r.vectors(c, file)
	for gi, group := range groupCases(cases) {
		g := group[0].g
		priv, err := rsaFromPKCS8(g.PrivateKeyPKCS8)
		if err != nil || priv.N.BitLen() != a.Bits() {
			t.skip("keys of other sizes")
			continue
		}
		if _, _, ok := opts(g, group[0].t); !ok {
			t.skip("hashes outside the OAEP allow-list")
			continue
		}
		tag := strings.TrimSuffix(strings.TrimSuffix(file, ".json"), "_test")
		err = r.withImported(c, imp, a, backend.UsageDecrypt, fmt.Sprintf("%s-%d", tag, gi), priv, func(k backend.Key) {
			d, err := k.Decrypter()
			if err != nil {
				c.callFatal("Decrypter()", err)
			}
			for _, tc := range group {
				o, combo, _ := opts(g, tc.t)
				pt, err := d.DecryptContext(c.ctx, rand.Reader, tc.t.CT, o)
				switch {
				case errors.Is(err, backend.ErrUnsupported):
					if combo == "baseline" {
						c.failf(FaultCryptoplug, "decryption (the baseline)", gotErr(err), "%s tcId %d: refused as unsupported, but it is the baseline: %v", file, tc.t.ID, err)
					} else {
						t.refuse(combo)
					}
				case tc.t.Result == "valid" && err != nil:
					c.callFailed(fmt.Sprintf("%s tcId %d (%s)", file, tc.t.ID, tc.t.Comment), err)
				case tc.t.Result == "valid" && !bytes.Equal(pt, tc.t.Msg):
					c.failf(FaultStore, "the expected plaintext", "another plaintext", "%s tcId %d (%s): wrong plaintext", file, tc.t.ID, tc.t.Comment)
				case tc.t.Result == "invalid" && !errors.Is(err, rsa.ErrDecryption):
					c.failf(acceptedFault(err, FaultStore), "rsa.ErrDecryption", gotErr(err), "%s tcId %d (%s, %v): got %v, want rsa.ErrDecryption", file, tc.t.ID, tc.t.Comment, tc.t.Flags, err)
				default:
					t.pass++
				}
			}
		})
		importFailed(c, t, file, gi, len(group), err)
	}
}

// checkWycheproofPKCS1Decrypt runs rsa_pkcs1_<bits>_test: PKCS #1 v1.5
// decryption of valid ciphertexts and of every padding defect Wycheproof
// collected, on imported keys.
func checkWycheproofPKCS1Decrypt(r *runner, c *cell, a backend.Algorithm) {
	imp := r.knownAnswers(c, a, backend.OpDecrypt)
	file := fmt.Sprintf("rsa_pkcs1_%d_test.json", a.Bits())
	var t tally
	r.rsaDecryptVectors(c, imp, a, file, &t, func(*wpGroup, *wpTest) (crypto.DecrypterOpts, string, bool) {
		return nil, "baseline", true
	})
	t.finish(c, file)
}

// oaepFiles are the rsa_oaep files for a key size, and rsa_oaep_misc whose
// groups have keys of several sizes. Groups whose hashes are not on the
// OAEP allow-list (SHA-512/224, SHA-512/256) are not run.
func (r *runner) oaepFiles(bits int) ([]string, error) {
	dir, err := r.wycheproofDir()
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "testvectors_v1", fmt.Sprintf("rsa_oaep_%d_*_test.json", bits)))
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, f := range files {
		out = append(out, filepath.Base(f))
	}
	return append(out, "rsa_oaep_misc_test.json"), nil
}

// checkWycheproofOAEP runs the rsa_oaep vectors for the key size (and the
// groups of rsa_oaep_misc with that size): every hash and MGF1 hash
// combination on the OAEP allow-list, with and without labels. A
// combination the store refuses with ErrUnsupported is counted, except
// SHA-1 without a label, the baseline.
func checkWycheproofOAEP(r *runner, c *cell, a backend.Algorithm) {
	imp := r.knownAnswers(c, a, backend.OpDecrypt)
	var t tally
	files, err := r.oaepFiles(a.Bits())
	if err != nil {
		c.suiteFatal("%v", err)
	}
	for _, file := range files {
		r.rsaDecryptVectors(c, imp, a, file, &t, func(g *wpGroup, tc *wpTest) (crypto.DecrypterOpts, string, bool) {
			h, mgf := wpHash(g.SHA), wpHash(g.MGFSHA)
			if !backend.OAEPHashAllowed(h) || !backend.OAEPHashAllowed(mgf) {
				return nil, "", false
			}
			combo := fmt.Sprintf("OAEP %s MGF1-%s", g.SHA, g.MGFSHA)
			if len(tc.Label) > 0 {
				combo += " with a label"
			} else if h == crypto.SHA1 && mgf == crypto.SHA1 {
				combo = "baseline"
			}
			return &rsa.OAEPOptions{Hash: h, MGFHash: mgf, Label: tc.Label}, combo, true
		})
	}
	t.finish(c, fmt.Sprintf("%d rsa_oaep files", len(files)))
}

// checkWycheproofMLKEM runs mlkem_<n>_test: each case's seed is imported as
// a decapsulation key, whose public key must match, and its ciphertext
// decapsulated: to the expected shared key, also for the bit-flipped and
// random ciphertexts that exercise implicit rejection, or to ErrInvalidInput
// for ciphertexts of the wrong length. Cases about malformed seeds test
// key parsing, which the standard library does here, and are not run.
func checkWycheproofMLKEM(r *runner, c *cell, a backend.Algorithm) {
	imp := r.knownAnswers(c, a, backend.OpDecapsulate)
	n := 768
	if a == backend.MLKEM1024 {
		n = 1024
	}
	file := fmt.Sprintf("mlkem_%d_test.json", n)
	var t tally
	for _, tc := range r.vectors(c, file) {
		var priv any
		var err error
		if n == 768 {
			priv, err = mlkem.NewDecapsulationKey768(tc.t.Seed)
		} else {
			priv, err = mlkem.NewDecapsulationKey1024(tc.t.Seed)
		}
		if err != nil {
			t.skip("malformed seed, rejected by crypto/mlkem")
			continue
		}
		err = r.withImported(c, imp, a, backend.UsageDecapsulate, fmt.Sprintf("mlkem-%d-%d", n, tc.t.ID), priv, func(k backend.Key) {
			if ek, ok := k.Public().(interface{ Bytes() []byte }); !ok || !bytes.Equal(ek.Bytes(), tc.t.EK) {
				c.failf(FaultCryptoplug, "the expected encapsulation key", "another key", "%s tcId %d: the imported key's encapsulation key differs from the expected one", file, tc.t.ID)
			}
			d, err := k.Decapsulator()
			if err != nil {
				c.callFatal("Decapsulator()", err)
			}
			got, err := d.DecapsulateContext(c.ctx, tc.t.C)
			switch {
			case tc.t.Result == "valid" && err != nil:
				c.callFailed(fmt.Sprintf("%s tcId %d (%s)", file, tc.t.ID, tc.t.Comment), err)
			case tc.t.Result == "valid" && !bytes.Equal(got, tc.t.K):
				c.failf(FaultStore, "the expected shared key", "another key", "%s tcId %d (%s): wrong shared key", file, tc.t.ID, tc.t.Comment)
			case tc.t.Result != "valid" && !errors.Is(err, backend.ErrInvalidInput):
				c.failf(FaultCryptoplug, "ErrInvalidInput", gotErr(err), "%s tcId %d (%s): got %v, want an error wrapping %q", file, tc.t.ID, tc.t.Comment, err, backend.ErrInvalidInput)
			default:
				t.pass++
			}
		})
		if err != nil {
			c.callFailed(fmt.Sprintf("%s tcId %d: import", file, tc.t.ID), err)
		}
	}
	t.finish(c, file)
}

// checkWycheproofMLDSA runs mldsa_<n>_sign_seed_test: each group's seed is
// imported, its public key must match, and each message without a context
// string is signed through SignMessage and verified. A deterministic signer
// must reproduce every expected signature (except those Wycheproof made
// with a random rnd); a hedged one none. Cases with a context string or only
// an external mu are not run: the contract offers neither.
func checkWycheproofMLDSA(r *runner, c *cell, a backend.Algorithm) {
	imp := r.knownAnswers(c, a, backend.OpSign)
	n := map[backend.Algorithm]int{backend.MLDSA44: 44, backend.MLDSA65: 65, backend.MLDSA87: 87}[a]
	file := fmt.Sprintf("mldsa_%d_sign_seed_test.json", n)
	var t tally
	det, hedged := 0, 0
	for gi, group := range groupCases(r.vectors(c, file)) {
		g := group[0].g
		priv, err := mldsaFromSeed(a, g.PrivateSeed)
		if err != nil {
			t.skip("malformed seed")
			continue
		}
		var wantPub hexBytes
		_ = json.Unmarshal(g.PublicKey, &wantPub)
		err = r.withImported(c, imp, a, backend.UsageSign, fmt.Sprintf("mldsa-%d-%d", n, gi), priv, func(k backend.Key) {
			if m, ok := k.Public().(interface{ MarshalBinary() ([]byte, error) }); ok {
				if b, _ := m.MarshalBinary(); len(wantPub) > 0 && !bytes.Equal(b, wantPub) {
					c.failf(FaultCryptoplug, "the expected public key", "another key", "%s group %d: the imported key's public key differs from the expected one", file, gi)
				}
			}
			s, err := k.Signer()
			if err != nil {
				c.callFatal("Signer()", err)
			}
			ms, ok := s.(backend.MessageSigner)
			if !ok {
				c.fatalf(FaultCryptoplug, "a backend.MessageSigner", fmt.Sprintf("%T", s), "the Signer of an %s key is not a backend.MessageSigner", a)
			}
			for _, tc := range group {
				switch {
				case tc.t.Msg == nil:
					t.skip("external mu only, which the contract does not offer")
					continue
				case tc.t.Ctx != nil && *tc.t.Ctx != "":
					t.skip("context string")
					continue
				case tc.t.Result != "valid":
					t.skip("invalid case: nothing to sign")
					continue
				}
				randomized := slices.Contains(tc.t.Flags, "Randomized")
				sig, err := ms.SignMessageContext(c.ctx, rand.Reader, tc.t.Msg, crypto.Hash(0))
				switch {
				case err != nil:
					c.callFailed(fmt.Sprintf("%s tcId %d", file, tc.t.ID), err)
				case verify(k.Public(), tc.t.Msg, sig, crypto.Hash(0)) != nil:
					c.failf(FaultStore, "a signature that verifies", "one that does not", "%s tcId %d (%s): signature does not verify", file, tc.t.ID, tc.t.Comment)
				case randomized:
					t.pass++ // made with a given rnd: only verification applies
				case bytes.Equal(sig, tc.t.Sig):
					det++
					t.pass++
				default:
					hedged++
					t.pass++
				}
			}
		})
		if err != nil {
			c.callFailed(fmt.Sprintf("%s group %d: import", file, gi), err)
		}
	}
	switch {
	case det > 0 && hedged > 0:
		c.failf(FaultStore, "all or none of the deterministic signatures", fmt.Sprintf("%d equal, %d differ", det, hedged), "%s: %d signatures equal the expected deterministic ones but %d differ: a deterministic signer must match them all, a hedged one none", file, det, hedged)
	case det > 0:
		c.Notef("deterministic: all %d signatures equal the expected ones", det)
	case hedged > 0:
		c.Notef("hedged: %d signatures differ from the deterministic ones and verify", hedged)
	}
	t.finish(c, file)
}

func mldsaFromSeed(a backend.Algorithm, seed []byte) (any, error) {
	if len(seed) != mldsa44.SeedSize {
		return nil, fmt.Errorf("seed is %d bytes", len(seed))
	}
	var s [mldsa44.SeedSize]byte
	copy(s[:], seed)
	switch a {
	case backend.MLDSA44:
		_, k := mldsa44.NewKeyFromSeed(&s)
		return k, nil
	case backend.MLDSA65:
		_, k := mldsa65.NewKeyFromSeed(&s)
		return k, nil
	case backend.MLDSA87:
		_, k := mldsa87.NewKeyFromSeed(&s)
		return k, nil
	}
	return nil, fmt.Errorf("not ML-DSA: %s", a)
}

// ecdsaP1363Files are the P1363 (raw r||s) vector files per curve, with the
// hashes the contract allows.
var ecdsaP1363Files = map[backend.Algorithm][]string{
	backend.ECDSAP256: {"ecdsa_secp256r1_sha256_p1363_test.json", "ecdsa_secp256r1_sha512_p1363_test.json"},
	backend.ECDSAP384: {"ecdsa_secp384r1_sha384_p1363_test.json", "ecdsa_secp384r1_sha512_p1363_test.json"},
	backend.ECDSAP521: {"ecdsa_secp521r1_sha512_p1363_test.json"},
}

// checkWycheproofECDSA runs the ECDSA P1363 verification vectors through
// backend.ECDSARawToDER, the conversion PKCS #11 and TPM backends apply to
// what their store returns, and then ecdsa.VerifyASN1: a valid signature
// must convert and verify; an invalid one must be refused by the conversion
// or fail verification. It needs no private key, but runs only where the
// backend claims ECDSA signing, since that is where the conversion matters.
func checkWycheproofECDSA(r *runner, c *cell, a backend.Algorithm) {
	if r.cfg.wycheproofLimit == 0 {
		c.Skip("known-answer tests disabled (WithWycheproofLimit(0))")
	}
	r.need(c, a, backend.OpSign)
	var t tally
	files := ecdsaP1363Files[a]
	for _, file := range files {
		for _, tc := range r.vectors(c, file) {
			h := wpHash(tc.g.SHA)
			pk, err := x509.ParsePKIXPublicKey(tc.g.PublicKeyDER)
			pub, ok := pk.(*ecdsa.PublicKey)
			if err != nil || !ok {
				t.skip("public key crypto/x509 rejects")
				continue
			}
			accepted := false
			der, err := backend.ECDSARawToDER(a.Curve(), tc.t.Sig)
			if err == nil {
				accepted = ecdsa.VerifyASN1(pub, hashOf(h, tc.t.Msg), der)
			} else if !errors.Is(err, backend.ErrInvalidInput) {
				c.failf(FaultCryptoplug, "ErrInvalidInput", gotErr(err), "%s tcId %d: ECDSARawToDER error does not wrap ErrInvalidInput: %v", file, tc.t.ID, err)
			}
			switch {
			case tc.t.Result == "valid" && !accepted:
				c.failf(FaultCryptoplug, "a valid signature accepted", "rejected", "%s tcId %d (%s): valid signature rejected (conversion: %v)", file, tc.t.ID, tc.t.Comment, err)
			case tc.t.Result == "invalid" && accepted:
				c.failf(FaultCryptoplug, "an invalid signature rejected", "accepted", "%s tcId %d (%s): invalid signature accepted", file, tc.t.ID, tc.t.Comment)
			default:
				t.pass++
			}
		}
	}
	t.finish(c, strings.Join(files, ", "))
}
