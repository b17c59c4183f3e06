package backend

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
)

// DecryptFunc is a store's RSA decryption: it decrypts req.Ciphertext with
// the key under req's scheme. A ciphertext that does not decrypt (bad
// padding, wrong label) must give an error wrapping [rsa.ErrDecryption];
// the adapter replaces every such error by one and the same error, so no
// detail of the failure reaches the caller (unless it also wraps
// [ErrUnsupported]: a refusal of the parameters, whatever the ciphertext). req.SessionKeyLen is applied by
// the adapter; a store decrypts as for plain PKCS #1 v1.5 (or forwards it).
type DecryptFunc func(ctx context.Context, req DecryptRequest) ([]byte, error)

// NewDecrypter returns a [Decrypter] for the RSA key k describes that
// decrypts through decrypt. The methods parse the caller's options with
// [ParseDecryptOptions] and apply PKCS #1 v1.5's SessionKeyLen rule as
// crypto/rsa does: the random replacement key is read from rand before the
// store is called, and chosen over the store's answer in constant time when
// that answer is a failure or has another length. Every error is an [*Error]
// for op "decrypt"; every decryption failure is the same error, wrapping
// [rsa.ErrDecryption]. k.Public must be an *rsa.PublicKey.
func NewDecrypter(k StoreKey, decrypt DecryptFunc) Decrypter {
	return &decrypter{k: k, decrypt: decrypt}
}

type decrypter struct {
	k       StoreKey
	decrypt DecryptFunc
}

// Public returns the key's *rsa.PublicKey.
func (d *decrypter) Public() crypto.PublicKey { return d.k.Public }

// Decrypt is DecryptContext bounded by the store's timeout.
func (d *decrypter) Decrypt(rand io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	ctx, cancel := d.k.opContext()
	defer cancel()
	return d.DecryptContext(ctx, rand, ciphertext, opts)
}

// DecryptContext decrypts ciphertext as opts ask.
func (d *decrypter) DecryptContext(ctx context.Context, rand io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) (plain []byte, err error) {
	const op = "decrypt"
	if err := d.k.begin(ctx); err != nil {
		return nil, d.k.fail(op, err)
	}
	pub, ok := d.k.Public.(*rsa.PublicKey)
	if !ok {
		return nil, d.k.fail(op, fmt.Errorf("%s key has no RSA public key: %w", d.k.Algorithm, ErrUnsupported))
	}
	req, err := ParseDecryptOptions(pub, ciphertext, opts)
	if err != nil {
		if errors.Is(err, ErrInvalidInput) {
			return nil, d.k.fail(op, err)
		}
		return nil, d.failDecryption(op, err)
	}
	var random []byte
	if req.SessionKeyLen > 0 {
		// Drawn before the store answers, so that its answer changes
		// nothing but the final constant-time choice.
		random = make([]byte, req.SessionKeyLen)
		if _, err := io.ReadFull(randOrDefault(rand), random); err != nil {
			return nil, d.k.fail(op, fmt.Errorf("reading the random session key: %w", err))
		}
	}
	defer d.k.recoverPanic(op, &err)
	plain, err = d.decrypt(ctx, req)
	if err != nil && !errors.Is(err, rsa.ErrDecryption) {
		return nil, d.k.fail(op, err)
	}
	if random != nil {
		return chooseSessionKey(random, plain, err == nil), nil
	}
	if err != nil {
		return nil, d.failDecryption(op, err)
	}
	return plain, nil
}

// failDecryption is the one error every decryption failure gives, whatever
// the store said about it. A store's refusal of the parameters themselves
// ([ErrUnsupported], such as a label the store cannot take) does not depend
// on the ciphertext and is kept.
func (d *decrypter) failDecryption(op string, err error) error {
	if !errors.Is(err, rsa.ErrDecryption) || errors.Is(err, ErrUnsupported) {
		return d.k.fail(op, err)
	}
	return d.k.fail(op, rsa.ErrDecryption)
}

// chooseSessionKey returns plain copied over random when ok and plain has
// random's length, and random otherwise, choosing in constant time as
// rsa.DecryptPKCS1v15SessionKey does. plain is wiped.
func chooseSessionKey(random, plain []byte, ok bool) []byte {
	valid := subtle.ConstantTimeEq(int32(len(plain)), int32(len(random))) & bit(ok)
	buf := make([]byte, len(random))
	copy(buf, plain)
	subtle.ConstantTimeCopy(valid, random, buf)
	clear(buf)
	clear(plain)
	return random
}

// bit is 1 for true and 0 for false, without a branch the compiler keeps.
func bit(b bool) int {
	var i int
	if b {
		i = 1
	}
	return i
}
