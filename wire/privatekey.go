package wire

import (
	"crypto"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
)

// ImportKeyRequest is the body of POST /v1/key/import: where to store the
// key, as for POST /v1/key, and the private key in the encoding
// [MarshalPrivateKey] writes (base64 in JSON).
type ImportKeyRequest struct {
	KeySpec
	PrivateKey []byte `json:"private_key"`
}

// MarshalPrivateKey encodes priv, a key of algorithm alg, in the canonical
// form the software backend also stores ([privkey.Marshal]):
//
//	RSA, ECDSA, Ed25519  PKCS #8 DER (x509.MarshalPKCS8PrivateKey)
//	Ed448                the 57-byte RFC 8032 seed
//	ML-DSA               the 32-byte seed, or circl's packed private key
//	                     for a key that does not know its seed
//	ML-KEM               the 64-byte "d || z" seed
//
// A key of the wrong type or size for alg is an error wrapping
// backend.ErrInvalidInput. Errors never include key material. The caller
// should clear the result after use.
func MarshalPrivateKey(alg backend.Algorithm, priv crypto.PrivateKey) ([]byte, error) {
	return privkey.Marshal(alg, priv)
}

// ParsePrivateKey decodes what [MarshalPrivateKey] writes for alg into the
// types backend.Importer documents. It accepts only that canonical encoding,
// bounds its size first, and checks a packed ML-DSA key with a
// sign-and-verify test. Errors wrap backend.ErrInvalidInput and name the
// defect, never the data. It does not modify enc.
func ParsePrivateKey(alg backend.Algorithm, enc []byte) (crypto.PrivateKey, error) {
	priv, err := privkey.Parse(alg, enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", backend.ErrInvalidInput, err)
	}
	return priv, nil
}
