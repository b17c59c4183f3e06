package conformance

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"math/big"

	"github.com/cryptoplug/cryptoplug/backend"
)

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
