// Package privkey is the one place that decides how an in-memory private
// key of each [backend.Algorithm] is made, encoded and destroyed: [Generate]
// with the standard library (circl for Ed448 and ML-DSA), [Marshal] and
// [Parse] for the canonical encoding the software backend stores and the
// reference server's import route carries, and [Wipe]. The software
// backend, the conformance suite, the benchmarks and the server share it.
package privkey

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
