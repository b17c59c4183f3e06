//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
)

// oaepMechanism returns CKM_RSA_PKCS_OAEP with its parameters.
func oaepMechanism(h, mgf crypto.Hash, label []byte) []*pkcs11.Mechanism {
	params := pkcs11.NewOAEPParams(hashMechs[h].mech, hashMechs[mgf].mgf, pkcs11.CKZ_DATA_SPECIFIED, label)
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP, params)}
}

// oaepParams is one OAEP parameter combination on one key size.
type oaepParams struct {
	bits      int
	hash, mgf crypto.Hash
	labelled  bool
}

// oaepTestLabel is the label of checkOAEP's test decryptions.
var oaepTestLabel = []byte("cryptoplug OAEP self-test")

// checkOAEP returns nil when the token decrypts OAEP with hash h, MGF1 with
// mgf and (if labelled) a label correctly, and otherwise an error wrapping
// [backend.ErrUnsupported] that says what the token gets wrong. Tokens
// accept OAEP parameters they do not honour: SoftHSM2 2.6 and opencryptoki
// 3.8 take a label and decrypt as if it were empty (so a ciphertext made
// for one purpose would be accepted for another), tpm2-pkcs11 1.9 ignores
// an MGF1 hash that differs from the hash and fails every labelled
// ciphertext. So the first decryption with each combination tries it on k
// with ciphertexts made here: one that must decrypt to what was encrypted
// and, with a label, one made without the label that must not decrypt.
// The answer is kept for the backend's life. A combination the token
// refuses outright fails here with the token's refusal, as the caller's
// decryption would; a self-test that cannot run (lost session, expired
// context) returns its error and is tried again next time.
func (k *key) checkOAEP(ctx context.Context, h, mgf crypto.Hash, labelled bool) error {
	q := &k.b.quirks
	p := oaepParams{bits: k.pub.(*rsa.PublicKey).N.BitLen(), hash: h, mgf: mgf, labelled: labelled}
	if known, err := q.oaepResult(p); known {
		return err
	}
	q.oaepProbe.Lock()
	defer q.oaepProbe.Unlock()
	_, err := k.checkOAEPLocked(ctx, p)
	return err
}

// oaepResult returns what checkOAEP learned about p, if it has.
func (q *quirks) oaepResult(p oaepParams) (known bool, err error) {
	q.oaepMu.RLock()
	defer q.oaepMu.RUnlock()
	err, known = q.oaep[p]
	return known, err
}

// checkOAEPLocked is checkOAEP with oaepProbe held. final reports whether
// err (nil included) is the token's behaviour, now kept.
func (k *key) checkOAEPLocked(ctx context.Context, p oaepParams) (final bool, err error) {
	q := &k.b.quirks
	if known, err := q.oaepResult(p); known {
		return true, err
	}
	if final, err = k.selfTestOAEP(ctx, p); final {
		q.oaepMu.Lock()
		if q.oaep == nil {
			q.oaep = map[oaepParams]error{}
		}
		q.oaep[p] = err
		q.oaepMu.Unlock()
	}
	return final, err
}

// selfTestOAEP runs checkOAEP's test decryptions for p; a labelled
// combination needs its unlabelled one to work first.
func (k *key) selfTestOAEP(ctx context.Context, p oaepParams) (final bool, err error) {
	var label []byte
	combo := fmt.Sprintf("OAEP with %v and MGF1-%v", p.hash, p.mgf)
	if p.labelled {
		unlabelled := p
		unlabelled.labelled = false
		if final, err := k.checkOAEPLocked(ctx, unlabelled); err != nil {
			return final, err
		}
		label = oaepTestLabel
		combo += " and a label"
	}
	got, err := k.testDecryptOAEP(ctx, p.hash, p.mgf, label, label)
	switch {
	case errors.Is(err, errWrongPlaintext):
		return true, fmt.Errorf("the token decrypts %s to a wrong plaintext: %w", combo, backend.ErrUnsupported)
	case isBadCiphertext(err):
		return true, fmt.Errorf("the token fails to decrypt a valid ciphertext made with %s: %w", combo, backend.ErrUnsupported)
	case errors.Is(err, backend.ErrUnsupported):
		return true, err // refused outright
	case err != nil:
		return false, err
	}
	clear(got)
	if !p.labelled {
		return true, nil
	}
	// The same kind of message made without the label must not decrypt
	// under it.
	got, err = k.testDecryptOAEP(ctx, p.hash, p.mgf, nil, label)
	switch {
	case isBadCiphertext(err):
		return true, nil
	case err == nil, errors.Is(err, errWrongPlaintext):
		clear(got)
		return true, fmt.Errorf("the token does not check OAEP labels (it decrypted a ciphertext under a label it was not made with), so it cannot decrypt with one: %w", backend.ErrUnsupported)
	default:
		return false, err
	}
}

var errWrongPlaintext = errors.New("wrong plaintext")

// testDecryptOAEP encrypts a random message here with encLabel and has the
// token decrypt it with decLabel. It returns the plaintext only when it
// is the message (errWrongPlaintext otherwise).
func (k *key) testDecryptOAEP(ctx context.Context, h, mgf crypto.Hash, encLabel, decLabel []byte) ([]byte, error) {
	msg := make([]byte, 16)
	if _, err := rand.Read(msg); err != nil {
		return nil, err
	}
	ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, k.pub.(*rsa.PublicKey), msg, &rsa.OAEPOptions{Hash: h, MGFHash: mgf, Label: encLabel})
	if err != nil {
		return nil, fmt.Errorf("OAEP self-test: %w", err)
	}
	got, err := k.decryptOnToken(ctx, oaepMechanism(h, mgf, decLabel), ct)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(got, msg) {
		clear(got)
		return nil, errWrongPlaintext
	}
	return got, nil
}

// isBadCiphertext reports a C_Decrypt failure that is not a lost session.
func isBadCiphertext(err error) bool {
	var de *decryptionError
	return errors.As(err, &de) && !isLost(err)
}
