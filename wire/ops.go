package wire

import "github.com/cryptoplug/cryptoplug/backend"

// Signature schemes for [SignRequest.Scheme].
const (
	SchemePKCS1v15 = "pkcs1v15" // RSA PKCS #1 v1.5 over Hash
	SchemePSS      = "pss"      // RSA-PSS over Hash with SaltLength
	SchemeECDSA    = "ecdsa"    // ECDSA over Hash, ASN.1 DER signature
	SchemeEd25519  = "ed25519"  // Ed25519; Hash "SHA-512" with a digest is Ed25519ph; Context optional
	SchemeEd448    = "ed448"    // pure Ed448 over the message; Context optional
	SchemeEd448ph  = "ed448ph"  // Ed448ph over the message (hashed by the server); Context optional
	SchemeMLDSA    = "ml-dsa"   // pure ML-DSA over the message; Context optional
	SchemePure     = "pure"     // the key's pure scheme: Ed25519, Ed448 or ML-DSA; Context optional
)

// Encryption schemes for [EncryptRequest.Scheme] and [DecryptRequest.Scheme].
const (
	SchemeOAEP        = "oaep"
	SchemeRSAPKCS1v15 = "pkcs1v15"
)

// SignRequest is the body of POST /v1/sign.
//
// Exactly one of Message and Digest is non-null. A Digest is signed as it is
// and must be Hash's size. A Message is signed whole by keys with a pure
// scheme (Ed25519, Ed448, ML-DSA), and hashed with Hash first by the others.
type SignRequest struct {
	Label string `json:"label"`
	// ID, when set, is the key's ID in hex: the request then fails with
	// key_not_found unless the key labelled Label has this ID, so a handle
	// kept by a client never signs with a key recreated under its label.
	ID      string `json:"id,omitempty"`
	Message []byte `json:"message"`
	Digest  []byte `json:"digest"`
	// Hash names a crypto.Hash as its String method prints it ("SHA-256");
	// empty means none (pure schemes).
	Hash   string `json:"hash,omitempty"`
	Scheme string `json:"scheme"`
	// SaltLength is the PSS salt length: a byte count, 0 for the largest that
	// fits (rsa.PSSSaltLengthAuto) or -1 for the hash's size
	// (rsa.PSSSaltLengthEqualsHash, what TLS 1.3 and X.509 use).
	SaltLength int `json:"salt_length,omitempty"`
	// Context is the Ed25519 (Ed25519ctx, Ed25519ph), Ed448 or ML-DSA
	// context, at most 255 bytes.
	Context []byte `json:"context,omitempty"`
}

// SignResponse is the answer of POST /v1/sign.
type SignResponse struct {
	Signature []byte `json:"signature"`
}

// VerifyRequest is the body of POST /v1/verify: a [SignRequest] and the
// signature to check against the key's public key.
type VerifyRequest struct {
	SignRequest
	Signature []byte `json:"signature"`
}

// VerifyResponse is the answer of POST /v1/verify.
type VerifyResponse struct {
	Valid bool `json:"valid"`
}

// EncryptRequest is the body of POST /v1/encrypt: public-key encryption
// with the key's RSA public key.
type EncryptRequest struct {
	Label     string `json:"label"`
	Plaintext []byte `json:"plaintext"`
	Scheme    string `json:"scheme"`             // "oaep" or "pkcs1v15"
	Hash      string `json:"hash,omitempty"`     // OAEP hash; default "SHA-256"
	MGFHash   string `json:"mgf_hash,omitempty"` // OAEP MGF1 hash; empty: same as Hash
	OAEPLabel []byte `json:"oaep_label,omitempty"`
}

// EncryptResponse is the answer of POST /v1/encrypt.
type EncryptResponse struct {
	Ciphertext []byte `json:"ciphertext"`
}

// DecryptRequest is the body of POST /v1/decrypt.
type DecryptRequest struct {
	Label      string `json:"label"`
	ID         string `json:"id,omitempty"` // the key's hex ID, checked as in SignRequest
	Ciphertext []byte `json:"ciphertext"`
	Scheme     string `json:"scheme"` // "oaep" or "pkcs1v15"
	Hash       string `json:"hash,omitempty"`
	MGFHash    string `json:"mgf_hash,omitempty"`
	OAEPLabel  []byte `json:"oaep_label,omitempty"`
	// SessionKeyLen selects PKCS #1 v1.5 decryption that returns random
	// bytes of this length instead of an error on bad padding; at most the
	// key's modulus size in bytes.
	SessionKeyLen int `json:"session_key_len,omitempty"`
}

// DecryptResponse is the answer of POST /v1/decrypt.
type DecryptResponse struct {
	Plaintext []byte `json:"plaintext"`
}

// DecapsulateRequest is the body of POST /v1/decapsulate.
type DecapsulateRequest struct {
	Label      string `json:"label"`
	ID         string `json:"id,omitempty"` // the key's hex ID, checked as in SignRequest
	Ciphertext []byte `json:"ciphertext"`
}

// DecapsulateResponse is the answer of POST /v1/decapsulate.
type DecapsulateResponse struct {
	SharedKey []byte `json:"shared_key"`
}

// EncapsulateRequest is the body of POST /v1/encapsulate.
type EncapsulateRequest struct {
	Label string `json:"label"`
}

// EncapsulateResponse is the answer of POST /v1/encapsulate: a shared key
// and the ciphertext that carries it to the key's holder.
type EncapsulateResponse struct {
	Ciphertext []byte `json:"ciphertext"`
	SharedKey  []byte `json:"shared_key"`
}

// RandomResponse is the answer of GET /v1/generateRandom/{length}.
type RandomResponse struct {
	Random []byte `json:"random"`
}

// MaxRandomLength bounds GET /v1/generateRandom/{length}.
const MaxRandomLength = 4096

// NewDecryptRequest encodes a parsed decryption request (see
// [backend.ParseDecryptOptions]) for the key labelled label with ID id.
func NewDecryptRequest(label string, id backend.KeyID, req backend.DecryptRequest) DecryptRequest {
	out := DecryptRequest{Label: label, Ciphertext: req.Ciphertext, Scheme: SchemeRSAPKCS1v15, SessionKeyLen: req.SessionKeyLen}
	if len(id) > 0 {
		out.ID = id.String()
	}
	if req.Scheme == backend.SchemeOAEP {
		out.Scheme, out.Hash, out.MGFHash, out.OAEPLabel = SchemeOAEP, HashName(req.Hash), HashName(req.MGFHash), req.Label
	}
	return out
}

// Bounds the server checks on the numbers and lengths of the operation
// bodies, before any work.
const (
	// MaxContextLen bounds SignRequest.Context: RFC 8032 and FIPS 204 cap
	// a context at 255 bytes.
	MaxContextLen = 255
	// MaxSaltLength bounds SignRequest.SaltLength (-1 and 0 have their
	// special meanings): no RSA key this server holds has room for more.
	MaxSaltLength = 1024
)
