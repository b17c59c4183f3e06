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
