package tpm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"

	keyfile "github.com/foxboron/go-tpm-keyfiles"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
)

// ErrLockout means the TPM is in dictionary-attack lockout: after too many
// wrong auth values it refuses every key that has one (and is not noDA),
// even with the right value, until its recovery time has passed or the
// lockout hierarchy resets it (TPM2_DictionaryAttackLockReset). Errors
// wrap it together with [backend.ErrAuth].
var ErrLockout = errors.New("TPM is in dictionary-attack lockout")

// keyPolicy is what the TPM requires to use a key, as its key file
// records it: an auth value (the file's emptyAuth is false), a PCR binding
// (a TPM2_PolicyPCR entry in the file's policy), or both.
//
// A key with a PCR binding has userWithAuth clear and an authPolicy of
// PolicyPCR (then PolicyAuthValue when it also has an auth value): only a
// policy session that ran those commands can use it, so the TPM, not this
// code, enforces the binding. adminWithPolicy stays clear, so
// TPM2_Certify (an admin-role command) needs only the auth value.
type keyPolicy struct {
	authValue bool
	pcrs      *pcrBinding
}

// pcrBinding is a TPM2_PolicyPCR: the PCRs selected and the SHA-256 (the
// keys' nameAlg, so the policy session's hash) of their expected values.
type pcrBinding struct {
	sel    tpm2.TPMLPCRSelection
	digest []byte
}

// none reports whether the key needs nothing but an empty password.
func (p keyPolicy) none() bool { return !p.authValue && p.pcrs == nil }

// authPolicy is the key's authPolicy digest; nil for a key without PCR
// binding (its auth value, if any, is checked by the TPM directly).
func (p keyPolicy) authPolicy() ([]byte, error) {
	if p.pcrs == nil {
		return nil, nil
	}
	calc, err := tpm2.NewPolicyCalculator(tpm2.TPMAlgSHA256)
	if err != nil {
		return nil, err
	}
	if err := (tpm2.PolicyPCR{PcrDigest: tpm2.TPM2BDigest{Buffer: p.pcrs.digest}, Pcrs: p.pcrs.sel}).Update(calc); err != nil {
		return nil, err
	}
	if p.authValue {
		if err := (tpm2.PolicyAuthValue{}).Update(calc); err != nil {
			return nil, err
		}
	}
	return calc.Hash().Digest, nil
}

// fileEntries encodes the policy for the TSS2 key file's policy field
// (draft-bottomley-tpm2-keys), as openssl_tpm2_engine writes it: a
// PolicyPCR entry whose CommandPolicy is the TPML_PCR_SELECTION followed
// by the bare PCR digest, then, for a key that also has an auth value, a
// PolicyAuthValue entry with an empty CommandPolicy. A key without PCR
// binding has no policy entries: its auth value is announced by emptyAuth
// alone.
func (p keyPolicy) fileEntries() []*keyfile.TPMPolicy {
	if p.pcrs == nil {
		return nil
	}
	out := []*keyfile.TPMPolicy{{
		CommandCode:   int(tpm2.TPMCCPolicyPCR),
		CommandPolicy: append(tpm2.Marshal(p.pcrs.sel), p.pcrs.digest...),
	}}
	if p.authValue {
		out = append(out, &keyfile.TPMPolicy{CommandCode: int(tpm2.TPMCCPolicyAuthValue)})
	}
	return out
}

// fileOptions are the key file options that record the policy: emptyAuth
// false for a key with an auth value, and the policy entries.
func (p keyPolicy) fileOptions() []keyfile.TPMKeyOption {
	var opts []keyfile.TPMKeyOption
	if p.authValue {
		opts = append(opts, func(k *keyfile.TPMKey) { k.EmptyAuth = false })
	}
	if entries := p.fileEntries(); len(entries) > 0 {
		opts = append(opts, keyfile.WithPolicy(entries))
	}
	return opts
}

// parseFilePolicy reads a key file's policy back. Only the shapes
// fileEntries writes are understood; a key needing any other policy
// command (PolicySigned, PolicyAuthorize, …) fails with
// [backend.ErrUnsupported].
func parseFilePolicy(entries []*keyfile.TPMPolicy, emptyAuth bool) (keyPolicy, error) {
	p := keyPolicy{authValue: !emptyAuth}
	var sawAuthValue bool
	for i, e := range entries {
		switch {
		case e.CommandCode == int(tpm2.TPMCCPolicyPCR) && i == 0:
			sel, err := tpm2.Unmarshal[tpm2.TPMLPCRSelection](e.CommandPolicy)
			// go-tpm reads past a short buffer as zeros: the selection
			// must marshal back to exactly the bytes it came from.
			var n int
			if err == nil {
				n = len(tpm2.Marshal(*sel))
			}
			if err != nil || n > len(e.CommandPolicy) || !bytes.Equal(tpm2.Marshal(*sel), e.CommandPolicy[:n]) {
				return keyPolicy{}, fmt.Errorf("unreadable PolicyPCR entry: %w", backend.ErrCorrupt)
			}
			digest := e.CommandPolicy[n:]
			if len(digest) != sha256.Size {
				return keyPolicy{}, fmt.Errorf("PolicyPCR entry's digest is %d bytes, not SHA-256's: %w", len(digest), backend.ErrUnsupported)
			}
			p.pcrs = &pcrBinding{sel: *sel, digest: slices.Clone(digest)}
		case e.CommandCode == int(tpm2.TPMCCPolicyAuthValue) && i == 1 && len(e.CommandPolicy) == 0:
			sawAuthValue = true
		default:
			return keyPolicy{}, fmt.Errorf("the key's policy uses TPM command %#x, which cryptoplug does not run: %w", e.CommandCode, backend.ErrUnsupported)
		}
	}
	if sawAuthValue != (p.pcrs != nil && p.authValue) {
		return keyPolicy{}, fmt.Errorf("the key file's policy and emptyAuth disagree: %w", backend.ErrUnsupported)
	}
	return p, nil
}

// newKeyPolicy makes the policy of a key about to be created from what
// the caller asked for, reading the PCRs' current values when spec gives
// none. The caller holds the device lock.
func newKeyPolicy(t transport.TPM, caps tpmCaps, spec *backend.KeyPolicy) (keyPolicy, error) {
	p := keyPolicy{authValue: len(spec.AuthValue) > 0}
	if spec.PCRs == nil {
		return p, nil
	}
	bank := hashAlg(spec.PCRs.BankHash())
	if !caps.algs[bank] {
		return keyPolicy{}, fmt.Errorf("this TPM has no %v PCR bank: %w", spec.PCRs.BankHash(), backend.ErrUnsupported)
	}
	indexes := slices.Sorted(slices.Values(spec.PCRs.Indexes))
	values := map[int][]byte{}
	if spec.PCRs.Values != nil {
		for i, idx := range spec.PCRs.Indexes {
			values[idx] = spec.PCRs.Values[i]
		}
	} else {
		var err error
		if values, err = readPCRs(t, bank, indexes); err != nil {
			return keyPolicy{}, err
		}
	}
	// The TPM hashes the selected PCRs in index order.
	h := sha256.New()
	for _, idx := range indexes {
		h.Write(values[idx])
	}
	return keyPolicy{authValue: p.authValue, pcrs: &pcrBinding{sel: pcrSelection(bank, indexes), digest: h.Sum(nil)}}, nil
}

// pcrSelection selects indexes in one bank.
func pcrSelection(bank tpm2.TPMAlgID, indexes []int) tpm2.TPMLPCRSelection {
	bitmap := make([]byte, (backend.MaxPCRIndex+1)/8)
	for _, i := range indexes {
		bitmap[i/8] |= 1 << (i % 8)
	}
	return tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{Hash: bank, PCRSelect: bitmap}}}
}

// readPCRs reads the current values of indexes in bank. The TPM returns
// at most eight per TPM2_PCR_Read and says which it returned.
func readPCRs(t transport.TPM, bank tpm2.TPMAlgID, indexes []int) (map[int][]byte, error) {
	out := map[int][]byte{}
	for len(out) < len(indexes) {
		var want []int
		for _, i := range indexes {
			if _, ok := out[i]; !ok {
				want = append(want, i)
			}
		}
		rsp, err := tpm2.PCRRead{PCRSelectionIn: pcrSelection(bank, want)}.Execute(t)
		if err != nil {
			return nil, fmt.Errorf("TPM2_PCR_Read: %w", err)
		}
		var got []int
		for _, s := range rsp.PCRSelectionOut.PCRSelections {
			if s.Hash != bank {
				continue
			}
			for i := range len(s.PCRSelect) * 8 {
				if s.PCRSelect[i/8]&(1<<(i%8)) != 0 {
					got = append(got, i)
				}
			}
		}
		if len(got) == 0 || len(got) != len(rsp.PCRValues.Digests) {
			return nil, fmt.Errorf("the TPM returned no values for PCRs %v of its %v bank (is the bank active?): %w", want, bank, backend.ErrUnsupported)
		}
		for n, i := range got {
			out[i] = rsp.PCRValues.Digests[n].Buffer
		}
	}
	return out, nil
}

// sessionFor returns the session that authorizes a user-role command
// (sign, decrypt) on a key with policy p and auth value auth, encrypting
// the parameter enc says:
//
//   - no policy and no encryption: the empty password, the fast path;
//   - an auth value, or encryption: a one-use HMAC session salted to the
//     SRK, which proves the auth value without sending it;
//   - a PCR binding: a one-use policy session, salted the same way, that
//     runs TPM2_PolicyPCR (and TPM2_PolicyAuthValue) before the command.
//
// The caller holds the device lock.
func (d *device) sessionFor(p keyPolicy, auth []byte, enc sessionEncryption) tpm2.Session {
	if !p.authValue {
		auth = nil // a value given to a key without one is ignored
	}
	switch {
	case p.pcrs != nil:
		return d.policySession(p, auth, enc)
	case p.authValue || enc != encryptNone:
		return d.saltedSession(enc, auth)
	}
	return tpm2.PasswordAuth(nil)
}

// adminSessionFor authorizes an admin-role command (TPM2_Certify) on a key
// with policy p: its auth value, since adminWithPolicy is clear.
func (d *device) adminSessionFor(p keyPolicy, auth []byte) tpm2.Session {
	if p.authValue {
		return d.saltedSession(encryptNone, auth)
	}
	return tpm2.PasswordAuth(nil)
}

// policySession is a one-use policy session salted to the SRK that runs
// p's policy. A PolicyPCR the TPM refuses (the PCRs changed) fails with
// [backend.ErrPolicy]; the session is then flushed here, since go-tpm
// leaves a session whose policy callback failed loaded.
func (d *device) policySession(p keyPolicy, auth []byte, enc sessionEncryption) tpm2.Session {
	opts := []tpm2.AuthOption{tpm2.Salted(d.srk.Handle, d.srkPub), tpm2.Auth(auth)}
	switch enc {
	case encryptCommand:
		opts = append(opts, tpm2.AESEncryption(128, tpm2.EncryptIn))
	case encryptResponse:
		opts = append(opts, tpm2.AESEncryption(128, tpm2.EncryptOut))
	}
	return tpm2.Policy(tpm2.TPMAlgSHA256, 16, func(t transport.TPM, session tpm2.TPMISHPolicy, _ tpm2.TPM2BNonce) error {
		_, err := tpm2.PolicyPCR{PolicySession: session, PcrDigest: tpm2.TPM2BDigest{Buffer: p.pcrs.digest}, Pcrs: p.pcrs.sel}.Execute(t)
		if err == nil && p.authValue {
			_, err = tpm2.PolicyAuthValue{PolicySession: session}.Execute(t)
		}
		if err != nil {
			flush(t, session)
			if isRC(err, tpm2.TPMRCValue) {
				return fmt.Errorf("the PCRs the key is bound to do not hold the values it was bound to: %w: %w", backend.ErrPolicy, err)
			}
			return err
		}
		return nil
	}, opts...)
}

// policyErr classifies the TPM's refusal of a key it was asked to use:
// a wrong auth value ([backend.ErrAuth]), dictionary-attack lockout
// ([ErrLockout] and [backend.ErrAuth]) or an unmet policy
// ([backend.ErrPolicy]). Other errors pass unchanged.
func policyErr(err error) error {
	switch {
	case err == nil || errors.Is(err, backend.ErrPolicy):
		return err
	case isRC(err, tpm2.TPMRCLockout):
		return fmt.Errorf("%w: %w: %w", ErrLockout, backend.ErrAuth, err)
	case isRC(err, tpm2.TPMRCAuthFail) || isRC(err, tpm2.TPMRCBadAuth):
		return fmt.Errorf("the TPM refused the key's auth value: %w: %w", backend.ErrAuth, err)
	case isRC(err, tpm2.TPMRCPolicyFail):
		return fmt.Errorf("the key's policy is not satisfied: %w: %w", backend.ErrPolicy, err)
	}
	return err
}

// sameSelection reports whether two PCR selections are equal.
func sameSelection(a, b tpm2.TPMLPCRSelection) bool {
	return bytes.Equal(tpm2.Marshal(a), tpm2.Marshal(b))
}
