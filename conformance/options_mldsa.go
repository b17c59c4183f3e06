package conformance

import (
	"crypto"

	"github.com/cryptoplug/cryptoplug/backend"
)

// mldsaContextCases are the ML-DSA context forms (backend.MLDSAOptions, as a
// value and a pointer; the 255- and 256-byte bounds).
func mldsaContextCases(a backend.Algorithm, pub crypto.PublicKey, msg []byte) []optionCase {
	return nil
}
