package backend

import (
	"context"
	"crypto"
	"io"
	"time"
)

// DefaultTimeout bounds an operation that can block (a call to a token, a
// TPM or a server) when it is started through a method without a context —
// the [crypto.Signer], [crypto.Decrypter] and [crypto.Decapsulator] methods —
// and the backend was not configured with its own timeout. Operations that
// cannot block, such as the software backend's, apply no timeout.
const DefaultTimeout = 30 * time.Second

// Backend is a store of private keys. Implementations are safe for
// concurrent use by multiple goroutines.
//
// Every method fails with an error wrapping [ErrClosed] after [Backend.Close],
// and with the context's error (wrapped) when ctx is done before the work
// starts.
type Backend interface {
	// Info describes the backend. It never fails, also after Close.
	Info() Info

	// Capabilities reports, per algorithm, what this backend can do. The map
	// is the caller's to keep. It never fails, also after Close.
	Capabilities() Capabilities

	// GenerateKey creates a new key from spec inside the store. It fails
	// with [ErrKeyExists] if a key with the same label or ID exists, with
	// [ErrUnsupported] if the backend cannot generate spec.Algorithm, and
	// with [ErrInvalidInput] for a malformed spec.
	GenerateKey(ctx context.Context, spec KeySpec) (Key, error)

	// Key finds one key by ID or by label (see [KeyRef]). It fails with
	// [ErrKeyNotFound] when nothing matches.
	Key(ctx context.Context, ref KeyRef) (Key, error)

	// Keys lists every key this backend can use, in no particular order.
	// When some stored entries cannot be read back (a damaged file, an
	// object with unusable attributes), Keys returns the usable keys
	// together with a non-nil error wrapping [ErrCorrupt] that names each
	// bad entry; the returned keys are valid either way. Any other error
	// comes with a nil slice.
	Keys(ctx context.Context) ([]Key, error)

	// DeleteKey destroys the key that ref names. It fails with
	// [ErrKeyNotFound] when nothing matches. Key values obtained earlier for
	// a deleted key fail their operations with an error.
	DeleteKey(ctx context.Context, ref KeyRef) error

	// Close releases the backend's resources. It is idempotent: the first
	// call returns any error from releasing them, later calls return nil.
	// Operations in flight may complete or fail with [ErrClosed].
	Close() error
}

// Importer is implemented by backends that can import an existing private
// key. It is a separate interface because many HSMs and TPMs refuse imports
// or allow them only under policy.
type Importer interface {
	// ImportKey stores priv under spec's label and ID and returns the new
	// key. priv is one of *rsa.PrivateKey, *ecdsa.PrivateKey,
	// ed25519.PrivateKey, ed448.PrivateKey (circl), *mldsa44/65/87.PrivateKey
	// (circl), *mlkem.DecapsulationKey768 or *mlkem.DecapsulationKey1024; its
	// type and size must match spec.Algorithm, else [ErrInvalidInput]. A
	// backend that cannot import that algorithm fails with [ErrUnsupported];
	// a duplicate label fails with [ErrKeyExists].
	ImportKey(ctx context.Context, spec KeySpec, priv crypto.PrivateKey) (Key, error)
}

// Info describes a backend instance.
type Info struct {
	Name         string `json:"name"`                   // the backend's registered scheme: "software", "pkcs11", "tpm", …
	Kind         string `json:"kind"`                   // what holds the keys: "memory", "directory", "hsm", "tpm", "remote"
	URI          string `json:"uri"`                    // the URI it was opened with, secrets removed
	Manufacturer string `json:"manufacturer,omitempty"` // token or TPM manufacturer, where known
	Model        string `json:"model,omitempty"`        // token model or TPM vendor string, where known
	Firmware     string `json:"firmware,omitempty"`     // firmware version, where known
	// Persistent reports whether keys outlive Close: opening the same URI
	// again finds them. False for the in-memory software store.
	Persistent bool `json:"persistent"`
}

// KeySpec describes a key to generate or import.
type KeySpec struct {
	// Algorithm is required.
	Algorithm Algorithm
	// Label is the key's human name, unique within the backend. Required;
	// 1 to 255 bytes of UTF-8 without control characters.
	Label string
	// ID is the key's identifier, unique within the backend. Optional: the
	// backend picks a random one when it is empty. At most 64 bytes.
	ID KeyID
	// Usage restricts what the key may do. Zero means the natural use of
	// the algorithm: sign for signature algorithms, decrypt for RSA only
	// when asked (RSA keys sign by default), decapsulate for ML-KEM.
	Usage Usage
	// Policy, when not nil, binds every use of the key to conditions the
	// store itself enforces: a per-key auth value, the platform's state
	// (see [KeyPolicy]). Only backends that document it accept a policy;
	// [KeySpec.Validate] refuses one with [ErrUnsupported], so a backend
	// that knows nothing of policies refuses it without code of its own.
	Policy *KeyPolicy
}

// Usage is the set of operations a key is created for. Stores such as PKCS #11
// and TPMs enforce it; HSM practice keeps signing keys and decryption keys
// apart, so ask for both only when a protocol needs it.
type Usage uint8

// Key usages.
const (
	UsageSign Usage = 1 << iota
	UsageDecrypt
	UsageDecapsulate
)

// Resolve returns the usage a key of algorithm a gets when u is zero, and u
// otherwise.
func (u Usage) Resolve(a Algorithm) Usage {
	if u != 0 {
		return u
	}
	switch {
	case a.Decapsulates():
		return UsageDecapsulate
	case a.Signs():
		return UsageSign
	}
	return 0
}

// Key is a handle to a private key inside a [Backend]. The private key
// itself stays in the store: a Key offers only the standard library's
// operation interfaces. Implementations are safe for concurrent use.
//
// The accessor methods return [ErrUnsupported] (wrapped) when the key's
// algorithm or usage does not offer that interface. The returned values are
// cheap to obtain and may be kept; each of their operations checks that the
// backend is still open.
type Key interface {
	// ID returns the key's identifier. The caller must not modify it.
	ID() KeyID
	// Label returns the key's label.
	Label() string
	// Algorithm returns the key's algorithm.
	Algorithm() Algorithm
	// Public returns the public key: *rsa.PublicKey, *ecdsa.PublicKey,
	// ed25519.PublicKey, ed448.PublicKey (circl), *mldsaNN.PublicKey (circl),
	// *mlkem.EncapsulationKey768 or *mlkem.EncapsulationKey1024. The same
	// value is returned on every call.
	Public() crypto.PublicKey

	// Signer returns the key as a [Signer]. For Ed25519, Ed448 and ML-DSA
	// keys the result also implements [MessageSigner].
	Signer() (Signer, error)
	// Decrypter returns the key as a [Decrypter] (RSA keys created for
	// decryption).
	Decrypter() (Decrypter, error)
	// Decapsulator returns the key as a [Decapsulator] (ML-KEM keys).
	Decapsulator() (Decapsulator, error)
}

// Signer is a [crypto.Signer] whose operation can also be bounded by a
// context. Sign uses the backend's default timeout.
//
// Sign and SignContext validate their input like the standard library: the
// digest length must equal opts.HashFunc().Size() (see [CheckDigest]), PSS
// options must fit the key (see [PSSSaltLength]); violations fail with
// [ErrInvalidInput]. A hash or scheme the store cannot do fails with
// [ErrUnsupported]. ECDSA signatures are ASN.1 DER, as crypto/ecdsa produces.
type Signer interface {
	crypto.Signer
	SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

// MessageSigner is a [Signer] for pure signature schemes (Ed25519, Ed448,
// ML-DSA) that sign the whole message. Its Sign method accepts exactly what
// the standard library's (or circl's) key accepts: for Ed25519, opts with
// hash 0 signs the "digest" argument as the message, and SHA-512 selects
// Ed25519ph over a 64-byte digest; for Ed448 and ML-DSA only hash 0 is
// accepted, and anything else fails with [ErrInvalidInput].
//
// A nil rand means crypto/rand for every operation that needs randomness.
type MessageSigner interface {
	Signer
	crypto.MessageSigner
	SignMessageContext(ctx context.Context, rand io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error)
}

// Decrypter is a [crypto.Decrypter] whose operation can also be bounded by
// a context. opts is nil or *rsa.PKCS1v15DecryptOptions for PKCS #1 v1.5,
// and *rsa.OAEPOptions for OAEP. A ciphertext that fails to decrypt gives
// [rsa.ErrDecryption] (possibly wrapped), revealing nothing more.
type Decrypter interface {
	crypto.Decrypter
	DecryptContext(ctx context.Context, rand io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error)
}

// Decapsulator is a [crypto.Decapsulator] whose operation can also be
// bounded by a context. A malformed ciphertext of the right length yields
// the implicit-rejection shared key, as the standard library does; a
// ciphertext of the wrong length fails with [ErrInvalidInput].
type Decapsulator interface {
	crypto.Decapsulator
	DecapsulateContext(ctx context.Context, ciphertext []byte) ([]byte, error)
}
