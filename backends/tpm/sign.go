package tpm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"io"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
)

// sign is the key's store operation for [backend.NewSigner]; rand is not
// used: the TPM draws its own randomness.
//
// ECDSA signatures are DER. A digest longer than the curve is truncated to
// it as FIPS 186 prescribes, so any allowed hash works with any curve and
// the signature verifies with [ecdsa.VerifyASN1] over the whole digest.
//
// RSA: the hash must be one the TPM implements, else
// [backend.ErrUnsupported] (SHA-224 and SHA-3 usually are not). PSS with the
// hash's length as salt is checked after signing and fails with
// [backend.ErrUnsupported] if the TPM used another salt length; other
// explicit salt lengths fail with [backend.ErrUnsupported] at once;
// [rsa.PSSSaltLengthAuto] accepts the TPM's choice.
func (k *key) sign(ctx context.Context, _ io.Reader, req backend.SignRequest) ([]byte, error) {
	switch pub := k.obj.public.(type) {
	case *ecdsa.PublicKey:
		return k.signECDSA(ctx, pub, req.Input)
	case *rsa.PublicKey:
		if req.Scheme == backend.SchemePSS {
			return k.signPSS(ctx, pub, &req)
		}
		return k.signPKCS1v15(ctx, req.Input, req.Hash)
	default:
		return nil, fmt.Errorf("unexpected public key %T: %w", pub, backend.ErrUnsupported)
	}
}

// tpmSign runs TPM2_Sign with an explicit scheme (the key's is null). A
// key without auth value or policy signs in the empty password session,
// others in the session [device.sessionFor] makes.
func (k *key) tpmSign(ctx context.Context, digest []byte, scheme, hash tpm2.TPMAlgID) (*tpm2.TPMTSignature, error) {
	var sig *tpm2.TPMTSignature
	err := k.b.withKey(ctx, k.obj, func(t transport.TPM, h tpm2.AuthHandle) error {
		if !k.obj.policy.none() {
			h.Auth = k.b.dev.sessionFor(k.obj.policy, k.auth, encryptNone)
		}
		rsp, err := tpm2.Sign{
			KeyHandle:  h,
			Digest:     tpm2.TPM2BDigest{Buffer: digest},
			InScheme:   tpm2.TPMTSigScheme{Scheme: scheme, Details: tpm2.NewTPMUSigScheme(scheme, &tpm2.TPMSSchemeHash{HashAlg: hash})},
			Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
		}.Execute(t)
		if err != nil {
			return err
		}
		sig = &rsp.Signature
		return nil
	})
	if err != nil {
		// sig is not read: a command abandoned at ctx's end may still
		// write it (see device.run).
		return nil, policyErr(err)
	}
	return sig, nil
}

// signECDSA signs e, the digest reduced to the curve as FIPS 186-5 and SEC
// 1 do: truncated to the order's length when longer. The TPM does not hash
// for ECDSA, the scheme's hash only tells it the digest size, so e is sent
// left-padded with zeros (which keeps its value) to the size of the
// smallest hash the TPM implements that holds it without exceeding the
// order, and the TPM never truncates further.
func (k *key) signECDSA(ctx context.Context, pub *ecdsa.PublicKey, digest []byte) ([]byte, error) {
	params := pub.Curve.Params()
	orderBytes := (params.N.BitLen() + 7) / 8
	e := digest
	if len(e) > orderBytes {
		e = e[:orderBytes] // P-256 and P-384 orders are whole bytes
	}
	var label crypto.Hash
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		if h.Size() >= len(e) && h.Size()*8 <= params.N.BitLen() && k.b.dev.caps.hasHash(h) {
			label = h
			break
		}
	}
	if label == 0 {
		return nil, fmt.Errorf("no hash in this TPM fits a %d-byte digest on %s: %w", len(e), params.Name, backend.ErrUnsupported)
	}
	if len(e) < label.Size() {
		padded := make([]byte, label.Size())
		copy(padded[label.Size()-len(e):], e)
		e = padded
	}
	sig, err := k.tpmSign(ctx, e, tpm2.TPMAlgECDSA, hashAlg(label))
	if err != nil {
		return nil, err
	}
	ecc, err := sig.Signature.ECDSA()
	if err != nil {
		return nil, fmt.Errorf("TPM returned a %v signature for ECDSA: %w", sig.SigAlg, err)
	}
	size := (params.BitSize + 7) / 8
	if len(ecc.SignatureR.Buffer) > size || len(ecc.SignatureS.Buffer) > size {
		return nil, fmt.Errorf("TPM returned an oversized ECDSA signature")
	}
	raw := make([]byte, 2*size)
	copy(raw[size-len(ecc.SignatureR.Buffer):size], ecc.SignatureR.Buffer)
	copy(raw[2*size-len(ecc.SignatureS.Buffer):], ecc.SignatureS.Buffer)
	return backend.ECDSARawToDER(pub.Curve, raw)
}

// rsaHash returns the TPM's ID for h, failing with ErrUnsupported when the
// TPM does not implement it (its DigestInfo or PSS encoding needs it).
func (k *key) rsaHash(h crypto.Hash) (tpm2.TPMAlgID, error) {
	if !k.b.dev.caps.hasHash(h) {
		return 0, fmt.Errorf("this TPM does not implement %v: %w", h, backend.ErrUnsupported)
	}
	return hashAlg(h), nil
}

func (k *key) signPKCS1v15(ctx context.Context, digest []byte, h crypto.Hash) ([]byte, error) {
	if !k.b.dev.caps.algs[tpm2.TPMAlgRSASSA] {
		return nil, fmt.Errorf("this TPM does not do PKCS #1 v1.5 signatures: %w", backend.ErrUnsupported)
	}
	alg, err := k.rsaHash(h)
	if err != nil {
		return nil, err
	}
	sig, err := k.tpmSign(ctx, digest, tpm2.TPMAlgRSASSA, alg)
	if err != nil {
		return nil, err
	}
	r, err := sig.Signature.RSASSA()
	if err != nil {
		return nil, fmt.Errorf("TPM returned a %v signature for RSASSA: %w", sig.SigAlg, err)
	}
	return r.Sig.Buffer, nil
}

// signPSS signs with the TPM's PSS, whose salt length the caller cannot
// choose: the TCG spec lets a TPM use the hash size (what TLS 1.3 and X.509
// need, and what emulators do) or the largest salt that fits. So the
// signature is verified with the salt length asked for, which costs far
// less than the TPM operation and keeps a signature verifiers would reject
// from ever leaving.
func (k *key) signPSS(ctx context.Context, pub *rsa.PublicKey, req *backend.SignRequest) ([]byte, error) {
	h, digest := req.Hash, req.Input
	verifySalt := rsa.PSSSaltLengthAuto
	switch {
	case req.SaltAuto:
	case req.SaltLength == h.Size():
		verifySalt = rsa.PSSSaltLengthEqualsHash
	default:
		return nil, fmt.Errorf("TPMs choose the PSS salt length; ask for PSSSaltLengthEqualsHash or PSSSaltLengthAuto, not %d: %w", req.SaltLength, backend.ErrUnsupported)
	}
	if !k.b.dev.caps.algs[tpm2.TPMAlgRSAPSS] {
		return nil, fmt.Errorf("this TPM does not do PSS: %w", backend.ErrUnsupported)
	}
	alg, err := k.rsaHash(h)
	if err != nil {
		return nil, err
	}
	sig, err := k.tpmSign(ctx, digest, tpm2.TPMAlgRSAPSS, alg)
	if err != nil {
		return nil, err
	}
	r, err := sig.Signature.RSAPSS()
	if err != nil {
		return nil, fmt.Errorf("TPM returned a %v signature for RSAPSS: %w", sig.SigAlg, err)
	}
	if err := rsa.VerifyPSS(pub, h, digest, r.Sig.Buffer, &rsa.PSSOptions{SaltLength: verifySalt}); err != nil {
		if verifySalt == rsa.PSSSaltLengthEqualsHash {
			return nil, fmt.Errorf("this TPM's PSS salt is not the hash length: %w", backend.ErrUnsupported)
		}
		return nil, fmt.Errorf("TPM produced a PSS signature that does not verify: %w", err)
	}
	return r.Sig.Buffer, nil
}
