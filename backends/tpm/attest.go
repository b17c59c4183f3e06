package tpm

import (
	"context"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/tpm/tpmattest"
)

var _ backend.Attester = (*key)(nil)

// Attest proves that the key is in this TPM, as evidence in the
// "tpm2-certify" format that package tpmattest verifies: the EK
// certificate from the TPM's NV memory, the EK's and an attestation key's
// public areas, and a TPM2_Certify of the key by the AK with req.Nonce as
// qualifying data. With req.Challenge (a tpmattest challenge made from an
// earlier attestation) the TPM also opens the challenge's credential with
// TPM2_ActivateCredential, which succeeds only in the TPM that holds the
// EK and the AK the credential names, and the evidence carries its secret.
//
// The AK is a restricted ECDSA P-256 signing key derived in the
// endorsement hierarchy from a fixed template: the same key every time,
// nothing made persistent. The endorsement hierarchy's auth must be empty.
// A TPM without an EK certificate still attests, and verifiers refuse it
// (tpmattest.ErrUntrustedEK).
//
// Errors: [backend.ErrInvalidInput] for a request AttestRequest.Validate
// refuses, an unreadable challenge, or a challenge made for another TPM or
// AK (the TPM refuses to open it; the error wraps its response code too);
// [backend.ErrUnsupported] when the TPM lacks the commands. It is safe for concurrent use; it flushes the other keys
// loaded in the TPM to make room for the AK and EK (they reload on
// demand).
func (k *key) Attest(ctx context.Context, req backend.AttestRequest) (*backend.Attestation, error) {
	const op = "attest"
	fail := func(err error) (*backend.Attestation, error) { return nil, k.b.errorf(op, k.obj, err) }
	if err := k.b.check(ctx, op, keyName(k.obj)); err != nil {
		return nil, err
	}
	if err := k.authorized(); err != nil {
		return fail(err)
	}
	if err := req.Validate(); err != nil {
		return fail(err)
	}
	var ch *tpmattest.ChallengeBlob
	if len(req.Challenge) > 0 {
		var err error
		if ch, err = tpmattest.ParseChallenge(req.Challenge); err != nil {
			return fail(fmt.Errorf("%w: %w", err, backend.ErrInvalidInput))
		}
	}
	caps := k.b.dev.caps
	for _, cc := range []tpm2.TPMCC{tpm2.TPMCCCertify, tpm2.TPMCCCreatePrimary, tpm2.TPMCCActivateCredential, tpm2.TPMCCPolicySecret} {
		if !caps.commands[cc] {
			return fail(fmt.Errorf("this TPM does not implement command %#x: %w", uint32(cc), backend.ErrUnsupported))
		}
	}
	keyPub, err := k.obj.pub.Contents()
	if err != nil {
		return fail(fmt.Errorf("key file's public area: %w", backend.ErrCorrupt))
	}
	ev := tpmattest.Evidence{KeyPublic: tpm2.Marshal(*keyPub)}
	err = k.b.withKey(ctx, k.obj, func(t transport.TPM, h tpm2.AuthHandle) error {
		h.Auth = k.b.dev.adminSessionFor(k.obj.policy, k.auth)
		return k.b.dev.attest(t, k.obj, h, req.Nonce, ch, &ev)
	})
	err = policyErr(err)
	if err != nil {
		return fail(err)
	}
	data, err := ev.Marshal()
	if err != nil {
		return fail(err)
	}
	return &backend.Attestation{Format: tpmattest.Format, Evidence: data}, nil
}

// attest fills ev for the loaded key h: endorsement identity, AK,
// certification and, with a challenge, the activated credential. It keeps
// at most three transient objects loaded (SRK, AK and the key or the EK),
// the minimum every TPM has. The caller holds the device lock.
func (d *device) attest(t transport.TPM, obj *keyObject, h tpm2.AuthHandle, nonce []byte, ch *tpmattest.ChallengeBlob, ev *tpmattest.Evidence) error {
	// Other keys make way for the AK.
	for d.lru.len() > 1 {
		if old, ok := d.lru.evictOldest(); ok {
			flush(t, old.Handle)
		}
	}
	if d.ek == nil {
		ek, err := readEndorsement(t, d.ownerAuth)
		if err != nil {
			return err
		}
		d.ek = ek
	}
	ev.EKCertificate = d.ek.cert
	ev.EKPublic = tpm2.Marshal(d.ek.pub)

	ak, akPub, err := createAK(t)
	if err != nil {
		return err
	}
	defer flush(t, ak.Handle)
	ev.AKPublic = tpm2.Marshal(akPub)
	rsp, err := tpm2.Certify{
		ObjectHandle:   h,
		SignHandle:     ak,
		QualifyingData: tpm2.TPM2BData{Buffer: nonce},
		InScheme:       tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgNull},
	}.Execute(t)
	if err != nil {
		return fmt.Errorf("TPM2_Certify: %w", err)
	}
	ev.CertifyInfo = rsp.CertifyInfo.Bytes()
	ev.Signature = tpm2.Marshal(rsp.Signature)
	if ch == nil {
		return nil
	}

	// The key makes way for the EK, if that must be derived.
	d.unload(obj)
	ekh, transient, err := loadEK(t, d.ek.kind)
	if err != nil {
		return err
	}
	if transient {
		defer flush(t, ekh.Handle)
	}
	act, err := tpm2.ActivateCredential{
		ActivateHandle: ak,
		KeyHandle:      tpm2.AuthHandle{Handle: ekh.Handle, Name: ekh.Name, Auth: ekSession()},
		CredentialBlob: tpm2.TPM2BIDObject{Buffer: ch.Credential},
		Secret:         tpm2.TPM2BEncryptedSecret{Buffer: ch.Secret},
	}.Execute(t)
	if isTPMErr(err) && !isLostObjectErr(err) && !isRetryWarning(err) && !isAuthErr(err) {
		return fmt.Errorf("TPM2_ActivateCredential: the challenge was not made for this TPM's endorsement and attestation keys: %w: %w", backend.ErrInvalidInput, err)
	}
	if err != nil {
		return fmt.Errorf("TPM2_ActivateCredential: %w", err)
	}
	ev.Activation = act.CertInfo.Buffer
	return nil
}
