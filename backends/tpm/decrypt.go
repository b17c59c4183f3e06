//lint:file-ignore SA1019 the backend contract requires PKCS #1 v1.5 decryption, deprecated in Go 1.26
package tpm

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
)

// decrypter is a key's [backend.Decrypter].
type decrypter struct{ k *key }

var _ backend.Decrypter = (*decrypter)(nil)

// Public returns the key's *rsa.PublicKey.
func (d *decrypter) Public() crypto.PublicKey { return d.k.obj.public }

// Decrypt decrypts like [decrypter.DecryptContext], bounded by
// [backend.DefaultTimeout].
func (d *decrypter) Decrypt(rand io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), backend.DefaultTimeout)
	defer cancel()
	return d.DecryptContext(ctx, rand, ciphertext, opts)
}

// DecryptContext decrypts ciphertext with TPM2_RSA_Decrypt; rand is not
// used. opts is nil or [*rsa.PKCS1v15DecryptOptions] for PKCS #1 v1.5
// (TPM_ALG_RSAES), [*rsa.OAEPOptions] for OAEP (TPM_ALG_OAEP).
//
// A ciphertext that does not decrypt fails with [rsa.ErrDecryption] and
// nothing more, except that PKCS #1 v1.5 with SessionKeyLen > 0 returns
// that many random bytes and no error, as crypto/rsa does. OAEP needs a
// hash the TPM implements and an MGF1 hash equal to it (a TPM has no
// separate MGF hash), and a label that is empty or ends in a zero byte
// (the TPM spec's rule); anything else fails with
// [backend.ErrUnsupported] (a label not ending in zero also wraps
// [rsa.ErrDecryption]: nothing decrypts with it on a TPM).
func (d *decrypter) DecryptContext(ctx context.Context, _ io.Reader, ciphertext []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	const op = "decrypt"
	b, obj := d.k.b, d.k.obj
	if err := b.check(ctx, op, keyName(obj)); err != nil {
		return nil, err
	}
	pub := obj.public.(*rsa.PublicKey)
	caps := b.dev.caps
	var scheme tpm2.TPMTRSADecrypt
	var label []byte
	sessionKeyLen := 0
	switch o := opts.(type) {
	case nil:
		scheme.Scheme = tpm2.TPMAlgRSAES
	case *rsa.PKCS1v15DecryptOptions:
		scheme.Scheme = tpm2.TPMAlgRSAES
		if o != nil {
			sessionKeyLen = o.SessionKeyLen
		}
	case *rsa.OAEPOptions:
		mgf, err := backend.CheckOAEP(o)
		if err != nil {
			return nil, b.errorf(op, obj, err)
		}
		if mgf != o.Hash {
			return nil, b.errorf(op, obj, fmt.Errorf("a TPM's OAEP uses the OAEP hash for MGF1 too, not %v: %w", mgf, backend.ErrUnsupported))
		}
		if !caps.hasHash(o.Hash) {
			return nil, b.errorf(op, obj, fmt.Errorf("this TPM does not implement %v: %w", o.Hash, backend.ErrUnsupported))
		}
		if len(o.Label) > 0 && o.Label[len(o.Label)-1] != 0 {
			// TPM2_RSA_Decrypt answers TPM_RC_VALUE for such a label.
			// No ciphertext decrypts with such a label here, so this is
			// both a decryption failure and a limit of the store.
			return nil, b.errorf(op, obj, fmt.Errorf("a TPM takes an OAEP label only if it ends in a zero byte: %w: %w", backend.ErrUnsupported, rsa.ErrDecryption))
		}
		scheme.Scheme = tpm2.TPMAlgOAEP
		scheme.Details = tpm2.NewTPMUAsymScheme(tpm2.TPMAlgOAEP, &tpm2.TPMSEncSchemeOAEP{HashAlg: hashAlg(o.Hash)})
		label = o.Label
	default:
		return nil, b.errorf(op, obj, fmt.Errorf("decrypter options %T: want nil, *rsa.PKCS1v15DecryptOptions or *rsa.OAEPOptions: %w", opts, backend.ErrInvalidInput))
	}
	if !caps.algs[scheme.Scheme] {
		return nil, b.errorf(op, obj, fmt.Errorf("this TPM does not implement %v: %w", scheme.Scheme, backend.ErrUnsupported))
	}
	if scheme.Scheme == tpm2.TPMAlgRSAES {
		scheme.Details = tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSAES, &tpm2.TPMSEncSchemeRSAES{})
	}

	// As crypto/rsa: a ciphertext longer than the modulus or not below it
	// is an error even where bad padding is not.
	k := pub.Size()
	if len(ciphertext) > k || new(big.Int).SetBytes(ciphertext).Cmp(pub.N) >= 0 {
		return nil, b.errorf(op, obj, rsa.ErrDecryption)
	}
	// DecryptPKCS1v15SessionKey documents an error for a ciphertext of the
	// wrong length (its code lets a short one through; we keep the
	// documented rule).
	if sessionKeyLen > 0 && (k-(sessionKeyLen+11) < 0 || len(ciphertext) != k) {
		return nil, b.errorf(op, obj, rsa.ErrDecryption)
	}
	c := make([]byte, k)
	copy(c[k-len(ciphertext):], ciphertext)

	var plain []byte
	err := b.withKey(ctx, obj, func(t transport.TPM, h tpm2.AuthHandle) error {
		cmd := tpm2.RSADecrypt{KeyHandle: h, CipherText: tpm2.TPM2BPublicKeyRSA{Buffer: c}, InScheme: scheme}
		if len(label) > 0 {
			cmd.Label = tpm2.TPM2BData{Buffer: label}
		}
		rsp, err := cmd.Execute(t)
		if isRC(err, tpm2.TPMRCFailure) && stillWorking(t) {
			// libtpms (swtpm) reports bad PKCS #1 v1.5 and OAEP padding as
			// TPM_RC_FAILURE; a TPM truly in failure mode would have
			// refused the probe too.
			return tpm2.TPMRCValue
		}
		if err != nil {
			return err
		}
		plain = rsp.Message.Buffer
		return nil
	})
	// The TPM answers TPM_RC_VALUE (bad padding, wrong label) or
	// TPM_RC_SIZE for a ciphertext that does not decrypt.
	refused := (isRC(err, tpm2.TPMRCValue) || isRC(err, tpm2.TPMRCSize)) && !errors.Is(err, backend.ErrCorrupt)
	if err == nil && scheme.Scheme == tpm2.TPMAlgRSAES && len(plain) > k-11 {
		// The reference TPM accepts a padding string shorter than the 8
		// bytes PKCS #1 requires; crypto/rsa does not, and neither do we.
		refused, plain = true, nil
	}
	if sessionKeyLen > 0 && (refused || err == nil && len(plain) != sessionKeyLen) {
		// The stdlib rule: a session key that does not decrypt is replaced
		// by random bytes, so a padding oracle learns nothing from errors.
		key := make([]byte, sessionKeyLen)
		if _, err := rand.Read(key); err != nil {
			return nil, b.errorf(op, obj, err)
		}
		return key, nil
	}
	switch {
	case refused:
		return nil, b.errorf(op, obj, rsa.ErrDecryption)
	case err != nil:
		return nil, b.errorf(op, obj, err)
	}
	return plain, nil
}

// stillWorking reports whether the TPM answers a trivial command.
func stillWorking(t transport.TPM) bool {
	_, err := tpm2.GetCapability{Capability: tpm2.TPMCapTPMProperties, Property: uint32(tpm2.TPMPTManufacturer), PropertyCount: 1}.Execute(t)
	return err == nil
}
