package remote

import (
	"crypto"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/wire"
)

// Key is a handle to a key on the server. It holds the label, ID, algorithm
// and public key the server reported; each operation is one request naming
// both the label and the ID, so a handle never reaches a key that was
// deleted and recreated under the same label. It is safe for concurrent use.
type Key struct {
	b     *Backend
	label string
	id    backend.KeyID
	alg   backend.Algorithm
	pub   crypto.PublicKey
	usage backend.Usage
}

// ID returns the key's ID.
func (k *Key) ID() backend.KeyID { return k.id }

// Label returns the key's label.
func (k *Key) Label() string { return k.label }

// Algorithm returns the key's algorithm.
func (k *Key) Algorithm() backend.Algorithm { return k.alg }

// Public returns the public key the server reported.
func (k *Key) Public() crypto.PublicKey { return k.pub }

func (k *Key) unsupported(op string) error {
	return backend.Errorf(op, Scheme, k.label, fmt.Errorf("%w: a %s key created for %v", backend.ErrUnsupported, k.alg, wire.UsageNames(k.usage)))
}

// Signer returns the key as a backend.Signer, and a backend.MessageSigner
// for pure schemes.
func (k *Key) Signer() (backend.Signer, error) {
	if k.usage&backend.UsageSign == 0 || !k.alg.Signs() {
		return nil, k.unsupported("signer")
	}
	return backend.NewSigner(k.storeKey(), k.sign), nil
}

// Decrypter returns the key as a backend.Decrypter (RSA keys created for
// decryption).
func (k *Key) Decrypter() (backend.Decrypter, error) {
	if k.usage&backend.UsageDecrypt == 0 || !k.alg.Decrypts() {
		return nil, k.unsupported("decrypter")
	}
	return backend.NewDecrypter(k.storeKey(), k.decrypt), nil
}

// Decapsulator returns the key as a backend.Decapsulator (ML-KEM keys).
func (k *Key) Decapsulator() (backend.Decapsulator, error) {
	if k.usage&backend.UsageDecapsulate == 0 || !k.alg.Decapsulates() {
		return nil, k.unsupported("decapsulator")
	}
	if _, ok := k.pub.(crypto.Encapsulator); !ok {
		return nil, k.unsupported("decapsulator")
	}
	return backend.NewDecapsulator(k.storeKey(), k.decapsulate), nil
}

// storeKey describes the key to the adapters in package backend: methods
// without a context are bounded by the URI's timeout.
func (k *Key) storeKey() backend.StoreKey {
	return backend.StoreKey{
		Backend:   Scheme,
		Key:       k.label,
		Algorithm: k.alg,
		Public:    k.pub,
		Timeout:   k.b.timeout,
		Check:     k.b.usable,
	}
}

var (
	_ backend.Backend  = (*Backend)(nil)
	_ backend.Importer = (*Backend)(nil)
	_ backend.Key      = (*Key)(nil)
)
