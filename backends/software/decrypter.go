//lint:file-ignore SA1019 the backend contract requires PKCS #1 v1.5 decryption, deprecated in Go 1.26

package software

import (
	"context"
	"crypto"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"fmt"
	"io"

	// OAEP's allowed label and MGF1 hashes.
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"

	"github.com/cryptoplug/cryptoplug/backend"
)

const opDecrypt = "decrypt"

var _ backend.Decrypter = (*rsaDecrypter)(nil)

// rsaDecrypter decrypts RSA PKCS #1 v1.5 and OAEP ciphertexts. Go 1.26
// deprecates PKCS #1 v1.5 decryption (its error oracle is dangerous); the
// backend contract still requires it, so the software backend offers it,
// reducing every failure to rsa.ErrDecryption as crypto/rsa does.
type rsaDecrypter struct {
	k    *key
	priv *rsa.PrivateKey
}

// Public returns the *rsa.PublicKey.
func (d *rsaDecrypter) Public() crypto.PublicKey { return d.k.pub }

// Decrypt decrypts like (*rsa.PrivateKey).Decrypt. opts is nil or
// *rsa.PKCS1v15DecryptOptions for PKCS #1 v1.5 (with SessionKeyLen > 0 it
// returns a random key of that length instead of an error when the padding
// is bad, as crypto/rsa does, drawing it from rand, or crypto/rand when rand
// is nil), or *rsa.OAEPOptions, checked with [backend.CheckOAEP], for OAEP
// with its MGF1 hash and label. A ciphertext that does not decrypt fails with
// an error wrapping [rsa.ErrDecryption] and nothing else. Other options fail
// with [backend.ErrInvalidInput].
func (d *rsaDecrypter) Decrypt(rand io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	if err := d.k.enter(opDecrypt); err != nil {
		return nil, err
	}
	defer d.k.leave()
	var (
		plaintext []byte
		err       error
	)
	switch o := opts.(type) {
	case nil:
		plaintext, err = rsa.DecryptPKCS1v15(nil, d.priv, ciphertext)
	case *rsa.PKCS1v15DecryptOptions:
		if o == nil {
			return nil, d.k.fail(opDecrypt, fmt.Errorf("nil *rsa.PKCS1v15DecryptOptions: %w", backend.ErrInvalidInput))
		}
		if o.SessionKeyLen <= 0 {
			plaintext, err = rsa.DecryptPKCS1v15(nil, d.priv, ciphertext)
			break
		}
		// The random key must be chosen before decrypting, so that a bad
		// padding is indistinguishable from a good one.
		if rand == nil {
			rand = cryptorand.Reader
		}
		plaintext = make([]byte, o.SessionKeyLen)
		if _, rerr := io.ReadFull(rand, plaintext); rerr != nil {
			return nil, d.k.fail(opDecrypt, fmt.Errorf("reading random session key: %w", rerr))
		}
		err = rsa.DecryptPKCS1v15SessionKey(nil, d.priv, ciphertext, plaintext)
	case *rsa.OAEPOptions:
		if o == nil {
			return nil, d.k.fail(opDecrypt, fmt.Errorf("nil *rsa.OAEPOptions: %w", backend.ErrInvalidInput))
		}
		if _, cerr := backend.CheckOAEP(o); cerr != nil {
			return nil, d.k.fail(opDecrypt, cerr)
		}
		plaintext, err = d.priv.Decrypt(rand, ciphertext, o)
	default:
		return nil, d.k.fail(opDecrypt, fmt.Errorf("%T is not an RSA decryption option: %w", opts, backend.ErrInvalidInput))
	}
	if err != nil {
		// Whatever went wrong, the caller learns only that decryption failed.
		return nil, d.k.fail(opDecrypt, rsa.ErrDecryption)
	}
	return plaintext, nil
}

// DecryptContext is Decrypt after a check of ctx.
func (d *rsaDecrypter) DecryptContext(ctx context.Context, rand io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	if err := d.k.ctxErr(ctx, opDecrypt); err != nil {
		return nil, err
	}
	return d.Decrypt(rand, ciphertext, opts)
}
