//lint:file-ignore SA1019 the backend contract requires PKCS #1 v1.5 decryption, deprecated in Go 1.26
//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
)

// rsaDecrypter decrypts with an RSA key created for decryption.
type rsaDecrypter struct{ k *key }

var _ backend.Decrypter = (*rsaDecrypter)(nil)

func (d *rsaDecrypter) Public() crypto.PublicKey { return d.k.pub }

// Decrypt is DecryptContext bounded by the backend's timeout.
func (d *rsaDecrypter) Decrypt(rand io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return d.decrypt(useTimeout, rand, ciphertext, opts)
}

// DecryptContext decrypts with OAEP (opts *rsa.OAEPOptions: Hash, MGFHash
// and Label are all passed to the token, which may refuse them with
// [backend.ErrUnsupported]) or PKCS #1 v1.5 (opts nil or
// *rsa.PKCS1v15DecryptOptions). A ciphertext that does not decrypt fails
// with [rsa.ErrDecryption]. With SessionKeyLen > 0, PKCS #1 v1.5 behaves as
// crypto/rsa: on any padding or length failure it returns SessionKeyLen
// random bytes from rand and no error, choosing between them without a
// branch on the outcome.
func (d *rsaDecrypter) DecryptContext(ctx context.Context, rand io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	return d.decrypt(ctx, rand, ciphertext, opts)
}

func (d *rsaDecrypter) decrypt(ctx context.Context, rnd io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	const op = "decrypt"
	k := d.k
	if err := k.b.checkOpen(ctx, op, k.name()); err != nil {
		return nil, err
	}
	fail := func(err error) ([]byte, error) { return nil, backend.Errorf(op, k.b.name, k.name(), err) }
	pub := k.pub.(*rsa.PublicKey)
	var (
		mech          []*pkcs11.Mechanism
		sessionKeyLen int
		ignoredLabel  bool // see quirks.oaepIgnoresLabel
	)
	switch o := opts.(type) {
	case nil:
		mech = mechRSAPKCS
	case *rsa.PKCS1v15DecryptOptions:
		mech = mechRSAPKCS
		sessionKeyLen = o.SessionKeyLen
		if sessionKeyLen < 0 {
			return fail(fmt.Errorf("negative SessionKeyLen: %w", backend.ErrInvalidInput))
		}
	case *rsa.OAEPOptions:
		mgf, err := backend.CheckOAEP(o)
		if err != nil {
			return fail(err)
		}
		label := o.Label
		if len(label) > 0 && k.b.quirks.oaepIgnoresLabel {
			// The token decrypts as if the label were empty. A ciphertext
			// it accepts so was made with the empty label, not this one:
			// a decryption error, which the caller could learn anyway by
			// decrypting without a label. One it refuses may be a valid
			// ciphertext for this label, which this token cannot check.
			ignoredLabel = true
			label = nil
		}
		params := pkcs11.NewOAEPParams(hashMechs[o.Hash].mech, hashMechs[mgf].mgf, pkcs11.CKZ_DATA_SPECIFIED, label)
		mech = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP, params)}
	default:
		return fail(fmt.Errorf("decrypter options %T: want nil, *rsa.OAEPOptions or *rsa.PKCS1v15DecryptOptions: %w", opts, backend.ErrInvalidInput))
	}

	var random []byte
	if sessionKeyLen > 0 {
		if rnd == nil {
			rnd = rand.Reader
		}
		random = make([]byte, sessionKeyLen)
		if _, err := io.ReadFull(rnd, random); err != nil {
			return fail(fmt.Errorf("reading random session key: %w", err))
		}
	}
	if sessionKeyLen > 0 && sessionKeyLen > pub.Size()-11 {
		return fail(rsa.ErrDecryption) // as crypto/rsa: the key cannot fit
	}
	switch {
	case len(ciphertext) > pub.Size():
		return fail(rsa.ErrDecryption)
	case len(ciphertext) < pub.Size():
		// crypto/rsa reads the ciphertext as an integer; PKCS #11 wants
		// exactly the modulus size.
		padded := make([]byte, pub.Size())
		copy(padded[pub.Size()-len(ciphertext):], ciphertext)
		ciphertext = padded
	}

	var plain []byte
	err := k.b.withSession(ctx, func(s *session) error {
		h := pkcs11.ObjectHandle(k.handle.Load())
		err := k.b.p11.DecryptInit(s.h, mech, h)
		if isHandleInvalid(err) {
			if h, err = k.refresh(s.h); err != nil {
				return err
			}
			err = k.b.p11.DecryptInit(s.h, mech, h)
		}
		if err != nil {
			return classify("C_DecryptInit", err)
		}
		plain, err = k.b.p11.Decrypt(s.h, ciphertext)
		if err != nil {
			return &decryptionError{err}
		}
		return nil
	})
	var de *decryptionError
	badCiphertext := errors.As(err, &de) && !isSessionLost(err)
	switch {
	case ignoredLabel && err == nil:
		clear(plain)
		return fail(rsa.ErrDecryption)
	case ignoredLabel && badCiphertext:
		return fail(fmt.Errorf("this token ignores OAEP labels, so it cannot decrypt a ciphertext made with one: %w", backend.ErrUnsupported))
	case badCiphertext && sessionKeyLen > 0:
		return random, nil
	case badCiphertext:
		return fail(rsa.ErrDecryption) // the token's reason is not revealed
	case err != nil:
		return fail(err)
	}
	if sessionKeyLen > 0 {
		// As crypto/rsa: keep the random key unless the plaintext has the
		// expected length, selected in constant time.
		ok := subtle.ConstantTimeEq(int32(len(plain)), int32(sessionKeyLen))
		if len(plain) == sessionKeyLen {
			subtle.ConstantTimeCopy(ok, random, plain)
		}
		return random, nil
	}
	return plain, nil
}

// decryptionError is a failed C_Decrypt that is not a lost session: the
// ciphertext did not decrypt.
type decryptionError struct{ err error }

func (e *decryptionError) Error() string { return "C_Decrypt: " + e.err.Error() }

// Unwrap exposes the return code only when the session was lost, so that
// withSession retries those and everything else stays a padding failure.
func (e *decryptionError) Unwrap() error {
	if isSessionLost(e.err) {
		return e.err
	}
	return nil
}
