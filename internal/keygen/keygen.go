// Package keygen makes in-memory private keys for every [backend.Algorithm]
// with the standard library (circl for Ed448 and ML-DSA): the keys the
// software backend stores, the conformance suite imports and the benchmarks
// use as their baseline. One place decides which library and which key type
// stands for an algorithm.
package keygen

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"fmt"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"

	"github.com/cryptoplug/cryptoplug/backend"
)

// Generate makes a new private key of algorithm alg from crypto/rand. The
// result has the type [backend.Importer] documents for alg: *rsa.PrivateKey,
// *ecdsa.PrivateKey, ed25519.PrivateKey, ed448.PrivateKey,
// *mldsaNN.PrivateKey, *mlkem.DecapsulationKey768 or 1024. An unknown
// algorithm fails with [backend.ErrUnsupported]. Safe for concurrent use.
func Generate(alg backend.Algorithm) (crypto.PrivateKey, error) {
	switch alg {
	case backend.RSA2048, backend.RSA3072, backend.RSA4096:
		return rsa.GenerateKey(rand.Reader, alg.Bits())
	case backend.ECDSAP256, backend.ECDSAP384, backend.ECDSAP521:
		return ecdsa.GenerateKey(alg.Curve(), rand.Reader)
	case backend.Ed25519:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case backend.Ed448:
		_, priv, err := ed448.GenerateKey(rand.Reader)
		return priv, err
	case backend.MLDSA44:
		_, priv, err := mldsa44.GenerateKey(rand.Reader)
		return priv, err
	case backend.MLDSA65:
		_, priv, err := mldsa65.GenerateKey(rand.Reader)
		return priv, err
	case backend.MLDSA87:
		_, priv, err := mldsa87.GenerateKey(rand.Reader)
		return priv, err
	case backend.MLKEM768:
		return mlkem.GenerateKey768()
	case backend.MLKEM1024:
		return mlkem.GenerateKey1024()
	}
	return nil, fmt.Errorf("cannot generate %q keys: %w", alg, backend.ErrUnsupported)
}
