package privkey

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"math/big"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
)

// Wipe zeroes what it can reach of priv. The standard library keeps
// further copies it does not expose (RSA's precomputed FIPS key, ML-KEM's
// expanded key); those are left to the garbage collector.
func Wipe(priv crypto.PrivateKey) {
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		wipeInt(p.D)
		for _, q := range p.Primes {
			wipeInt(q)
		}
		wipeInt(p.Precomputed.Dp)
		wipeInt(p.Precomputed.Dq)
		wipeInt(p.Precomputed.Qinv)
		p.Precomputed = rsa.PrecomputedValues{}
	case *ecdsa.PrivateKey:
		//lint:ignore SA1019 wiping the scalar in place is the point; the key is never used again
		wipeInt(p.D)
	case ed25519.PrivateKey:
		clear(p)
	case ed448.PrivateKey:
		clear(p)
	case *mldsa44.PrivateKey:
		*p = mldsa44.PrivateKey{}
	case *mldsa65.PrivateKey:
		*p = mldsa65.PrivateKey{}
	case *mldsa87.PrivateKey:
		*p = mldsa87.PrivateKey{}
	}
}

func wipeInt(x *big.Int) {
	if x != nil {
		clear(x.Bits())
		x.SetInt64(0)
	}
}
