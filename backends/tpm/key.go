package tpm

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/cryptoplug/cryptoplug/backend"
)

// keyObject is one key file as read from dir: what the TPM needs to load
// the key and what cryptoplug reports about it. Everything but deleted is
// immutable.
type keyObject struct {
	id     backend.KeyID
	label  string
	alg    backend.Algorithm
	usage  backend.Usage
	public crypto.PublicKey
	pub    tpm2.TPM2BPublic
	priv   tpm2.TPM2BPrivate
	policy keyPolicy // what the TPM requires to use the key

	path    string
	modTime time.Time // with size, notices a file replaced behind our back
	size    int64

	// legacy: the label came from the TSS2 description, where versions
	// before labelPrefix kept it (see migrateKeyFile).
	legacy bool

	deleted atomic.Bool
}

// key is the [backend.Key] for a keyObject of backend b, carrying the
// auth value its operations present (see [key.WithAuthValue]).
type key struct {
	b    *Backend
	obj  *keyObject
	auth backend.Secret
}

var (
	_ backend.Key          = (*key)(nil)
	_ backend.AuthValueKey = (*key)(nil)
)

// WithAuthValue returns the key carrying auth for its operations (see
// [backend.AuthValueKey]). Keys made without an auth value ignore it. The
// value is sent to the TPM only as an HMAC, in sessions salted to the SRK.
func (k *key) WithAuthValue(auth backend.Secret) backend.Key {
	return &key{b: k.b, obj: k.obj, auth: bytes.Clone(auth)}
}

// authorized fails, before anything reaches the TPM, when the key needs
// an auth value and none was given: the TPM would count the attempt
// toward its dictionary-attack lockout.
func (k *key) authorized() error {
	if !k.obj.policy.authValue {
		return nil
	}
	if len(k.auth) == 0 {
		return fmt.Errorf("the key has an auth value: give it with WithAuthValue (backend.AuthValueKey): %w", backend.ErrAuth)
	}
	if err := checkAuthValue(k.auth); err != nil {
		return fmt.Errorf("%w: %w", err, backend.ErrAuth)
	}
	return nil
}

// checkAuthValue refuses auth values with a zero byte: go-tpm's session
// HMAC (hmacKeyFromAuthValue, v0.9.9) cuts an auth value at its last zero
// byte, not only trailing zeros as the TPM does, so such a value would
// never match and every use would count toward the TPM's lockout.
func checkAuthValue(auth []byte) error {
	if bytes.IndexByte(auth, 0) >= 0 {
		return errors.New("a TPM auth value cannot contain a zero byte here")
	}
	return nil
}

// ID returns the key's identifier, the stem of its file name.
func (k *key) ID() backend.KeyID { return k.obj.id }

// Label returns the key's label: the key file's label line, or its name
// (see readKeyFile).
func (k *key) Label() string { return k.obj.label }

// Algorithm returns the key's algorithm.
func (k *key) Algorithm() backend.Algorithm { return k.obj.alg }

// Public returns *rsa.PublicKey or *ecdsa.PublicKey, the same value on
// every call.
func (k *key) Public() crypto.PublicKey { return k.obj.public }

// Signer returns the key as a [backend.Signer]; it fails with
// [backend.ErrUnsupported] for an RSA key created for decryption only.
func (k *key) Signer() (backend.Signer, error) {
	if k.obj.usage&backend.UsageSign == 0 {
		return nil, k.b.errorf("signer", k.obj, fmt.Errorf("key was not created for signing: %w", backend.ErrUnsupported))
	}
	return backend.NewSigner(k.storeKey(), k.sign), nil
}

// Decrypter returns the key as a [backend.Decrypter]; it fails with
// [backend.ErrUnsupported] for ECDSA keys and RSA keys created for signing
// only.
func (k *key) Decrypter() (backend.Decrypter, error) {
	if k.obj.usage&backend.UsageDecrypt == 0 {
		return nil, k.b.errorf("decrypter", k.obj, fmt.Errorf("key was not created for decryption: %w", backend.ErrUnsupported))
	}
	return backend.NewDecrypter(k.storeKey(), k.decrypt), nil
}

// storeKey describes the key to the adapters in package backend. The
// closed and deleted checks are repeated under the TPM lock (withKey).
func (k *key) storeKey() backend.StoreKey {
	return backend.StoreKey{
		Backend:   k.b.name,
		Key:       keyName(k.obj),
		Algorithm: k.obj.alg,
		Public:    k.obj.public,
		Timeout:   backend.DefaultTimeout,
		Check:     k.usable,
	}
}

// usable fails after Close, after the key was deleted, and when it needs
// an auth value it was not given.
func (k *key) usable() error {
	if k.b.closed.Load() {
		return backend.ErrClosed
	}
	if k.obj.deleted.Load() {
		return fmt.Errorf("key was deleted: %w", backend.ErrKeyNotFound)
	}
	return k.authorized()
}

// Decapsulator always fails with [backend.ErrUnsupported]: TPMs have no
// ML-KEM.
func (k *key) Decapsulator() (backend.Decapsulator, error) {
	return nil, k.b.errorf("decapsulator", k.obj, fmt.Errorf("TPM keys do not decapsulate: %w", backend.ErrUnsupported))
}

// keyName names a key in errors: its label, or its hex ID.
func keyName(obj *keyObject) string {
	if obj == nil {
		return ""
	}
	if obj.label != "" {
		return obj.label
	}
	return obj.id.String()
}

// imported reports whether the key was made outside the TPM: its public
// area lacks sensitiveDataOrigin, which TPM2_Create always sets for our
// keys and an imported key cannot have.
func (k *keyObject) imported() bool {
	pub, err := k.pub.Contents()
	return err == nil && !pub.ObjectAttributes.SensitiveDataOrigin
}
