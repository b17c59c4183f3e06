package conformance

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"math/big"
	"runtime"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/cryptoplug/cryptoplug/backend"
)

// searchSignatures runs step for n = 1, 2, … on up to four goroutines (a
// token with several sessions signs in parallel) until a step says stop,
// the budget is spent or the cell's context ends. It returns how many steps
// ran. step records its own failures.
func searchSignatures(c *cell, budget int, step func(n int) (stop bool)) int {
	var (
		made atomic.Int64
		stop atomic.Bool
		wg   sync.WaitGroup
	)
	for range min(runtime.GOMAXPROCS(0), 4) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					c.failf(FaultCryptoplug, "no panic", fmt.Sprintf("panic: %v", p), "panic: %v", p)
					stop.Store(true)
				}
			}()
			for !stop.Load() && c.ctx.Err() == nil {
				n := made.Add(1)
				if n > int64(budget) {
					return
				}
				if step(int(n)) {
					stop.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return int(min(made.Load(), int64(budget)))
}

// checkRSASignatureLength checks that every RSA signature is exactly the
// modulus size, which a store that strips leading zeros (or a conversion
// from a big integer) gets wrong for about one signature in 256. Where the
// backend imports RSA keys, the suite imports its own key and asks for the
// PKCS #1 v1.5 signature of a digest it picked because that signature
// starts with a zero byte: one call decides, on the slowest token.
// Otherwise it signs distinct digests with the shared key until one whose
// signature has a leading zero byte appears, within the signature budget.
func checkRSASignatureLength(r *runner, c *cell, a backend.Algorithm) {
	k, s := r.signer(c, a)
	pub := k.Public().(*rsa.PublicKey)
	if imp, ok := r.importer(a, backend.OpSign); ok {
		if r.checkKnownLeadingZero(c, imp, a) {
			c.Notef("the shared key's signatures were not searched: the imported key's signature decided")
			return
		}
	}
	var seenAt atomic.Int64
	made := searchSignatures(c, r.cfg.sigBudget, func(n int) bool {
		digest := randomDigest(crypto.SHA256)
		sig, err := s.SignContext(c.ctx, rand.Reader, digest, crypto.SHA256)
		switch {
		case err != nil:
			c.callFailed(fmt.Sprintf("PKCS#1 v1.5 SHA-256 signature %d", n), err)
			return true
		case len(sig) != pub.Size():
			c.failf(FaultStore, fmt.Sprintf("a %d-byte signature", pub.Size()), fmt.Sprintf("%d bytes", len(sig)),
				"signature %d is %d bytes, want the modulus size %d", n, len(sig), pub.Size())
			return true
		}
		if err := verify(pub, digest, sig, crypto.SHA256); err != nil {
			c.badSignature(fmt.Sprintf("signature %d", n), "PKCS#1 v1.5 SHA-256", err)
			return true
		}
		if sig[0] == 0 {
			seenAt.CompareAndSwap(0, int64(n))
			return true
		}
		return false
	})
	if c.failed() {
		return
	}
	if at := seenAt.Load(); at > 0 {
		c.Notef("with the shared key, a signature with a leading zero byte came at signature %d and was %d bytes", at, pub.Size())
		return
	}
	if err := c.ctx.Err(); err != nil {
		c.callFatal("stopped before finding a signature with a leading zero byte", err)
	}
	c.Notef("no shared-key signature with a leading zero byte within the budget of %d (probability about %.1f%%); all %d were %d bytes",
		r.cfg.sigBudget, 100*pow(255.0/256.0, r.cfg.sigBudget), made, pub.Size())
}

// checkKnownLeadingZero imports the suite's own key of a and signs the
// digest whose PKCS #1 v1.5 signature under that key starts with a zero
// byte: it must come back whole, and equal to the standard library's. It
// reports whether that signature was made and checked.
func (r *runner) checkKnownLeadingZero(c *cell, imp backend.Importer, a backend.Algorithm) (decided bool) {
	c.t.Helper()
	pk, err := r.stdlibKey(a)
	if err != nil {
		c.suiteFatal("make a key to import: %v", err)
	}
	priv := pk.(*rsa.PrivateKey)
	digest, want, err := leadingZeroSignature(priv)
	if err != nil {
		c.suiteFatal("find a digest whose signature starts with a zero byte: %v", err)
	}
	err = r.withImported(c, imp, a, backend.UsageSign, "sig-length", priv, func(k backend.Key) {
		s, err := k.Signer()
		if err != nil {
			c.callFatal("Signer() of the imported key", err)
		}
		sig, err := s.SignContext(c.ctx, rand.Reader, digest, crypto.SHA256)
		switch {
		case err != nil:
			c.callFailed("PKCS#1 v1.5 SHA-256 with the imported key", err)
		case len(sig) != len(want):
			c.failf(FaultStore, fmt.Sprintf("a %d-byte signature starting with a zero byte", len(want)), fmt.Sprintf("%d bytes", len(sig)),
				"the signature of a digest chosen so that it starts with a zero byte is %d bytes, want the modulus size %d", len(sig), len(want))
		case !bytes.Equal(sig, want):
			c.failf(FaultStore, "the deterministic PKCS#1 v1.5 signature", "other bytes",
				"PKCS#1 v1.5 is deterministic, but the imported key's signature differs from the standard library's")
		default:
			c.Notef("with an imported key, a digest chosen for it gave the expected %d-byte signature starting with a zero byte", len(sig))
		}
		decided = err == nil
	})
	if err != nil {
		c.callFailed("import the suite's own key", err)
	}
	return decided
}

var leadingZeroCache sync.Map // *rsa.PrivateKey → [2][]byte{digest, signature}

// leadingZeroSignature finds a SHA-256 digest whose PKCS #1 v1.5 signature
// under priv starts with a zero byte, signing locally on every core (one
// signature in 256 does, so a few hundred on average).
func leadingZeroSignature(priv *rsa.PrivateKey) (digest, sig []byte, err error) {
	if v, ok := leadingZeroCache.Load(priv); ok {
		p := v.([2][]byte)
		return p[0], p[1], nil
	}
	var (
		once  sync.Once
		found [2][]byte
		tries atomic.Int64
		wg    sync.WaitGroup
		done  atomic.Bool
		ferr  error
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !done.Load() && tries.Add(1) <= 1<<13 {
				d := randomDigest(crypto.SHA256)
				s, err := rsa.SignPKCS1v15(nil, priv, crypto.SHA256, d)
				if err != nil || s[0] == 0 {
					once.Do(func() { found, ferr = [2][]byte{d, s}, err })
					done.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	if ferr != nil {
		return nil, nil, ferr
	}
	if found[0] == nil {
		return nil, nil, errors.New("no signature with a leading zero byte in 8192 tries")
	}
	leadingZeroCache.Store(priv, found)
	return found[0], found[1], nil
}

func pow(x float64, n int) float64 {
	p := 1.0
	for range n {
		p *= x
	}
	return p
}

// parseECDSA returns r and s of a DER signature.
func parseECDSA(sig []byte) (r, s *big.Int, ok bool) {
	r, s = new(big.Int), new(big.Int)
	var inner cryptobyte.String
	in := cryptobyte.String(sig)
	ok = in.ReadASN1(&inner, cbasn1.SEQUENCE) && in.Empty() &&
		inner.ReadASN1Integer(r) && inner.ReadASN1Integer(s) && inner.Empty()
	return r, s, ok
}

// checkECDSADER signs distinct digests with the curve's hash, each checked
// to be canonical DER with r and s in range and to verify, until it has
// seen both an r and an s short enough that their fixed-length form starts
// with a zero byte DER drops (about one signature in 512 each; P-521
// sooner), within the signature budget: a store that returns r and s
// zero-padded to the curve size, as TPMs do, and a conversion that keeps
// the padding, give DER that is not canonical only then.
func checkECDSADER(r *runner, c *cell, a backend.Algorithm) {
	k, s := r.signer(c, a)
	pub := k.Public().(*ecdsa.PublicKey)
	h := a.CurveHash()
	size := (pub.Curve.Params().BitSize + 7) / 8
	var shortR, shortS atomic.Int64
	var mu sync.Mutex
	minLen, maxLen := 1<<30, 0
	made := searchSignatures(c, r.cfg.sigBudget, func(n int) bool {
		digest := randomDigest(h)
		sig, err := s.SignContext(c.ctx, rand.Reader, digest, h)
		if err != nil {
			c.callFailed(fmt.Sprintf("ECDSA with %v, signature %d", h, n), err)
			return true
		}
		if err := checkECDSAEncoding(pub, sig); err != nil {
			c.failf(FaultCryptoplug, "canonical ASN.1 DER", err.Error(), "signature %d: %v", n, err)
			return true
		}
		if err := verify(pub, digest, sig, h); err != nil {
			c.badSignature(fmt.Sprintf("signature %d", n), describeOpts(h), err)
			return true
		}
		mu.Lock()
		minLen, maxLen = min(minLen, len(sig)), max(maxLen, len(sig))
		mu.Unlock()
		// Short enough that the fixed-length form starts with a zero byte
		// that DER drops (a zero before a byte of 0x80 or more stays).
		rr, ss, _ := parseECDSA(sig)
		if rr.BitLen() < 8*(size-1) {
			shortR.CompareAndSwap(0, int64(n))
		}
		if ss.BitLen() < 8*(size-1) {
			shortS.CompareAndSwap(0, int64(n))
		}
		return shortR.Load() > 0 && shortS.Load() > 0
	})
	if c.failed() {
		return
	}
	note := fmt.Sprintf("%d canonical DER signatures, %d to %d bytes", made, minLen, maxLen)
	switch {
	case shortR.Load() > 0 && shortS.Load() > 0:
		note += fmt.Sprintf("; a short r came at signature %d and a short s at %d, both minimally encoded", shortR.Load(), shortS.Load())
	default:
		note += fmt.Sprintf("; within the budget of %d, short r seen: %v, short s seen: %v", r.cfg.sigBudget, shortR.Load() > 0, shortS.Load() > 0)
	}
	c.Notef("%s", note)
}

// checkSignRepeat checks what repeating a signature reveals. PKCS #1 v1.5,
// Ed25519 and Ed448 are deterministic: the same input twice must give the
// same signature. ECDSA may be randomized or deterministic (RFC 6979), so
// the same digest twice may give one signature or two; but the nonce must
// never repeat across different digests, which shows as a repeated r among
// signatures of distinct digests (and leaks the private key). Where the
// backend imports ECDSA keys, the suite also signs with a key it knows and
// recovers each nonce: nonces a bit or more short of the group order's size
// in more than a few signatures are biased, and lattice attacks recover the
// key from them. PSS salts are recovered from the signatures with the public
// key and must all differ (and not be zero). ML-DSA may be hedged or
// deterministic (FIPS 204); the detail says which.
func checkSignRepeat(r *runner, c *cell, a backend.Algorithm) {
	k, s := r.signer(c, a)
	pub := k.Public()
	twice := func(input []byte, opts crypto.SignerOpts, message bool) ([]byte, []byte) {
		var sigs [2][]byte
		for i := range sigs {
			var err error
			if message {
				sigs[i], err = signMessage(c, s.(backend.MessageSigner), input, opts, i == 1)
			} else {
				sigs[i], err = sign(c, s, input, opts, i == 1)
			}
			if err != nil {
				c.callFatal(describeOpts(opts), err)
			}
			if err := verify(pub, input, sigs[i], opts); err != nil {
				c.badSignature(describeOpts(opts), describeOpts(opts), err)
				c.t.FailNow()
			}
		}
		return sigs[0], sigs[1]
	}
	switch a.Family() {
	case backend.FamilyRSA:
		d := randomDigest(crypto.SHA256)
		if x, y := twice(d, crypto.SHA256, false); !bytes.Equal(x, y) {
			c.failf(FaultStore, "the same signature twice", "two different signatures",
				"PKCS#1 v1.5 signatures of the same digest differ; the scheme is deterministic")
		}
		r.checkPSSSalts(c, s, pub.(*rsa.PublicKey))
	case backend.FamilyECDSA:
		h := a.CurveHash()
		d := randomDigest(h)
		x, y := twice(d, h, false)
		if bytes.Equal(x, y) {
			c.Notef("deterministic: one digest signed twice gave the same signature (RFC 6979 style)")
		} else {
			c.Notef("randomized: one digest signed twice gave two signatures")
		}
		r.checkECDSANonces(c, s, pub.(*ecdsa.PublicKey), h, "the shared key", nil)
		if imp, ok := r.importer(a, backend.OpSign); ok {
			pk, err := r.stdlibKey(a)
			if err != nil {
				c.suiteFatal("make a key to import: %v", err)
			}
			priv := pk.(*ecdsa.PrivateKey)
			err = r.withImported(c, imp, a, backend.UsageSign, "nonce", priv, func(k backend.Key) {
				ks, err := k.Signer()
				if err != nil {
					c.callFatal("Signer() of the imported key", err)
				}
				r.checkECDSANonces(c, ks, &priv.PublicKey, h, "an imported key", priv)
			})
			if err != nil {
				c.callFailed("import the suite's own key", err)
			}
		} else {
			c.Notef("import not claimed: nonce bias not checked, only nonce reuse")
		}
	case backend.FamilyEdDSA:
		m := randomBytes(50)
		if x, y := twice(m, crypto.Hash(0), true); !bytes.Equal(x, y) {
			c.failf(FaultStore, "the same signature twice", "two different signatures",
				"two %s signatures of the same message differ; EdDSA is deterministic", a)
		}
		c.Notef("deterministic, as EdDSA must be")
	case backend.FamilyMLDSA:
		m := randomBytes(50)
		if x, y := twice(m, crypto.Hash(0), true); bytes.Equal(x, y) {
			c.Notef("deterministic: the same message gave the same signature twice")
		} else {
			c.Notef("hedged: the same message gave two different valid signatures")
		}
	}
}

// checkECDSANonces signs the sample count of distinct digests with s and
// checks that no r repeats. With the private key known (priv not nil) it
// recovers each nonce k = s⁻¹(z + r·d) mod n and checks it is not biased:
// min(k, n−k) below n/512 happens to one nonce in 256, so several such
// nonces among a few dozen mean the nonces are short. (min, because a store
// may return s or n−s, which turns k into n−k.)
func (r *runner) checkECDSANonces(c *cell, s backend.Signer, pub *ecdsa.PublicKey, h crypto.Hash, whose string, priv *ecdsa.PrivateKey) {
	c.t.Helper()
	n := pub.Curve.Params().N
	seen := map[string]int{}
	short := 0
	threshold := new(big.Int).Rsh(n, 9)
	var d *big.Int
	if priv != nil {
		b, err := priv.Bytes()
		if err != nil {
			c.suiteFatal("the suite's ECDSA key: %v", err)
		}
		d = new(big.Int).SetBytes(b)
	}
	for i := range r.cfg.samples {
		digest := randomDigest(h)
		sig, err := s.SignContext(c.ctx, rand.Reader, digest, h)
		if err != nil {
			c.callFatal(fmt.Sprintf("%s: ECDSA signature %d", whose, i+1), err)
		}
		if err := verify(pub, digest, sig, h); err != nil {
			c.badSignature(fmt.Sprintf("%s: ECDSA signature %d", whose, i+1), describeOpts(h), err)
			return
		}
		rr, ss, ok := parseECDSA(sig)
		if !ok {
			c.failf(FaultCryptoplug, "ASN.1 DER", "an unparseable signature", "%s: signature %d is not DER", whose, i+1)
			return
		}
		if j, dup := seen[string(rr.Bytes())]; dup {
			c.failf(FaultStore, "a fresh nonce for every message", fmt.Sprintf("the same r for signatures %d and %d of different digests", j, i+1),
				"%s: signatures %d and %d of different digests share r: the nonce repeated, which gives away the private key", whose, j, i+1)
			return
		}
		seen[string(rr.Bytes())] = i + 1
		if priv == nil {
			continue
		}
		z := hashToInt(digest, n)
		k := new(big.Int).Mul(rr, d)
		k.Add(k, z)
		k.Mul(k, new(big.Int).ModInverse(ss, n))
		k.Mod(k, n)
		if other := new(big.Int).Sub(n, k); other.Cmp(k) < 0 {
			k = other
		}
		if k.Cmp(threshold) < 0 {
			short++
		}
	}
	if priv == nil {
		c.Notef("%s: %d signatures of distinct digests, no r repeated", whose, r.cfg.samples)
		return
	}
	if short >= max(3, r.cfg.samples/4) {
		c.failf(FaultStore, "nonces uniform modulo the group order", fmt.Sprintf("%d of %d nonces at least 8 bits short", short, r.cfg.samples),
			"%s: %d of %d recovered nonces are at least 8 bits shorter than the group order (one in 256 would be): the nonces are biased, which leaks the private key",
			whose, short, r.cfg.samples)
		return
	}
	c.Notef("%s: %d nonces recovered, none repeated, %d of them 8 bits short", whose, r.cfg.samples, short)
}

// hashToInt converts a digest to an integer as ECDSA does (FIPS 186-5,
// 6.4.1): the leftmost bits, as many as the group order has.
func hashToInt(digest []byte, n *big.Int) *big.Int {
	z := new(big.Int).SetBytes(digest)
	if excess := len(digest)*8 - n.BitLen(); excess > 0 {
		z.Rsh(z, uint(excess))
	}
	return z
}

// checkPSSSalts signs the sample count of distinct digests and one digest
// twice with PSS and PSSSaltLengthEqualsHash, recovers each salt from the
// signature with the public key, and checks they are all different and
// none is all zero: PSS with a repeated or constant salt is deterministic
// where the caller asked for randomness.
func (r *runner) checkPSSSalts(c *cell, s backend.Signer, pub *rsa.PublicKey) {
	c.t.Helper()
	h := crypto.SHA256
	opts := &rsa.PSSOptions{Hash: h, SaltLength: rsa.PSSSaltLengthEqualsHash}
	same := randomDigest(h)
	seen := map[string]int{}
	for i := range r.cfg.samples + 1 {
		digest := same
		if i >= 2 {
			digest = randomDigest(h)
		}
		sig, err := sign(c, s, digest, opts, i%2 == 1)
		if err != nil {
			c.callFatal(fmt.Sprintf("PSS signature %d", i+1), err)
		}
		salt, err := pssSalt(pub, h, digest, sig)
		if err != nil {
			c.badSignature(fmt.Sprintf("PSS signature %d", i+1), describeOpts(opts), err)
			return
		}
		switch {
		case len(salt) != h.Size():
			c.failf(FaultStore, fmt.Sprintf("a %d-byte salt", h.Size()), fmt.Sprintf("%d bytes", len(salt)),
				"PSS signature %d has a %d-byte salt; PSSSaltLengthEqualsHash asks for %d", i+1, len(salt), h.Size())
			return
		case allZero(salt):
			c.failf(FaultStore, "a random salt", "an all-zero salt", "PSS signature %d has an all-zero salt", i+1)
			return
		}
		if j, dup := seen[string(salt)]; dup {
			c.failf(FaultStore, "a random salt for every signature", fmt.Sprintf("the same salt in signatures %d and %d", j, i+1),
				"PSS signatures %d and %d have the same salt: the salt is not random", j, i+1)
			return
		}
		seen[string(salt)] = i + 1
	}
	c.Notef("PKCS#1 v1.5 repeats; %d PSS salts recovered, all different", r.cfg.samples+1)
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// pssSalt recovers the salt of an RSASSA-PSS signature over digest with the
// public key (RFC 8017, 9.1.2, EMSA-PSS-VERIFY, MGF1 with the same hash),
// and fails if the signature does not verify.
func pssSalt(pub *rsa.PublicKey, h crypto.Hash, digest, sig []byte) ([]byte, error) {
	if len(sig) != pub.Size() {
		return nil, fmt.Errorf("%w: %d bytes, want %d", errBadSignature, len(sig), pub.Size())
	}
	emBits := pub.N.BitLen() - 1
	emLen := (emBits + 7) / 8
	hLen := h.Size()
	m := new(big.Int).SetBytes(sig)
	if m.Cmp(pub.N) >= 0 {
		return nil, fmt.Errorf("%w: signature not below the modulus", errBadSignature)
	}
	m.Exp(m, big.NewInt(int64(pub.E)), pub.N)
	if m.BitLen() > 8*emLen || emLen < hLen+2 {
		return nil, fmt.Errorf("%w: encoded message too long", errBadSignature)
	}
	em := m.FillBytes(make([]byte, emLen))
	if em[emLen-1] != 0xbc {
		return nil, fmt.Errorf("%w: no 0xbc trailer", errBadSignature)
	}
	db := bytes.Clone(em[:emLen-hLen-1])
	hh := em[emLen-hLen-1 : emLen-1]
	xorInto(db, mgf1(h, hh, len(db)))
	db[0] &= 0xff >> (8*emLen - emBits)
	i := 0
	for i < len(db) && db[i] == 0 {
		i++
	}
	if i == len(db) || db[i] != 0x01 {
		return nil, fmt.Errorf("%w: no 0x01 separator", errBadSignature)
	}
	salt := db[i+1:]
	hm := h.New()
	hm.Write(make([]byte, 8))
	hm.Write(digest)
	hm.Write(salt)
	if !bytes.Equal(hm.Sum(nil), hh) {
		return nil, fmt.Errorf("%w: hash mismatch", errBadSignature)
	}
	return salt, nil
}
