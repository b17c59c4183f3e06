//lint:file-ignore SA1019 the backend contract requires PKCS #1 v1.5 decryption, deprecated in Go 1.26
package tpm

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
)

// decrypt is the key's store operation for [backend.NewDecrypter]:
// TPM2_RSA_Decrypt with TPM_ALG_RSAES (PKCS #1 v1.5) or TPM_ALG_OAEP, in a
// session salted to the SRK that returns the plaintext encrypted. The
// adapter has checked the options and the ciphertext's size and applies
// SessionKeyLen's rule.
//
// OAEP needs a hash the TPM implements and an MGF1 hash equal to it (a TPM
// has no separate MGF hash), and a label that is empty or ends in a zero
// byte (the TPM spec's rule) and fits a TPM2B_DATA (66 bytes on a TPM with
// SHA-512); anything else fails with
// [backend.ErrUnsupported] (a label not ending in zero also wraps
// [rsa.ErrDecryption]: nothing decrypts with it on a TPM).
func (k *key) decrypt(ctx context.Context, req backend.DecryptRequest) ([]byte, error) {
	caps := k.b.dev.caps
	var scheme tpm2.TPMTRSADecrypt
	switch req.Scheme {
	case backend.SchemeOAEP:
		if req.MGFHash != req.Hash {
			return nil, fmt.Errorf("a TPM's OAEP uses the OAEP hash for MGF1 too, not %v: %w", req.MGFHash, backend.ErrUnsupported)
		}
		if !caps.hasHash(req.Hash) {
			return nil, fmt.Errorf("this TPM does not implement %v: %w", req.Hash, backend.ErrUnsupported)
		}
		if max := caps.maxDataSize(); len(req.Label) > max {
			// The label travels as a TPM2B_DATA, no larger than the TPM's
			// largest digest and its algorithm ID.
			return nil, fmt.Errorf("a TPM takes OAEP labels of at most %d bytes, not %d: %w", max, len(req.Label), backend.ErrUnsupported)
		}
		if len(req.Label) > 0 && req.Label[len(req.Label)-1] != 0 {
			// TPM2_RSA_Decrypt answers TPM_RC_VALUE for such a label.
			// No ciphertext decrypts with such a label here, so this is
			// both a decryption failure and a limit of the store.
			return nil, fmt.Errorf("a TPM takes an OAEP label only if it ends in a zero byte: %w: %w", backend.ErrUnsupported, rsa.ErrDecryption)
		}
		scheme.Scheme = tpm2.TPMAlgOAEP
		scheme.Details = tpm2.NewTPMUAsymScheme(tpm2.TPMAlgOAEP, &tpm2.TPMSEncSchemeOAEP{HashAlg: hashAlg(req.Hash)})
	default:
		scheme.Scheme = tpm2.TPMAlgRSAES
		scheme.Details = tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSAES, &tpm2.TPMSEncSchemeRSAES{})
	}
	if !caps.algs[scheme.Scheme] {
		return nil, fmt.Errorf("this TPM does not implement %v: %w", scheme.Scheme, backend.ErrUnsupported)
	}

	var plain []byte
	err := k.b.withKey(ctx, k.obj, func(t transport.TPM, h tpm2.AuthHandle) error {
		// The plaintext comes back encrypted (see session.go).
		shared := k.obj.policy.none()
		if shared {
			s, err := k.b.dev.decryptSession(t)
			if err != nil {
				return err
			}
			h.Auth = s
		} else {
			h.Auth = k.b.dev.sessionFor(k.obj.policy, k.auth, encryptResponse)
		}
		cmd := tpm2.RSADecrypt{KeyHandle: h, CipherText: tpm2.TPM2BPublicKeyRSA{Buffer: req.Ciphertext}, InScheme: scheme}
		if len(req.Label) > 0 {
			cmd.Label = tpm2.TPM2BData{Buffer: req.Label}
		}
		rsp, err := cmd.Execute(t)
		if err != nil && shared {
			k.b.dev.dropDecryptSession()
		}
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
	err = policyErr(err)
	if (isRC(err, tpm2.TPMRCValue) || isRC(err, tpm2.TPMRCSize)) && !errors.Is(err, backend.ErrCorrupt) && !errors.Is(err, backend.ErrPolicy) {
		return nil, rsa.ErrDecryption
	}
	if err != nil {
		return nil, err
	}
	if scheme.Scheme == tpm2.TPMAlgRSAES && len(plain) > len(req.Ciphertext)-11 {
		// The reference TPM accepts a padding string shorter than the 8
		// bytes PKCS #1 requires; crypto/rsa does not, and neither do we.
		clear(plain)
		return nil, rsa.ErrDecryption
	}
	return plain, nil
}

// stillWorking reports whether the TPM answers a trivial command.
func stillWorking(t transport.TPM) bool {
	_, err := tpm2.GetCapability{Capability: tpm2.TPMCapTPMProperties, Property: uint32(tpm2.TPMPTManufacturer), PropertyCount: 1}.Execute(t)
	return err == nil
}
