package tpm

import (
	"bytes"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
)

// srkTemplate is the TCG "H-2" ECC P-256 storage root key template that
// TSS2 key files with parent 0x40000001 (TPM_RH_OWNER) are created under,
// as tpm2-openssl, openssl_tpm2_engine and go-tpm-keyfiles derive it. It is
// go-tpm's ECCSRKTemplate with the unique field empty rather than 32 zero
// bytes: the unique field seeds the key derivation, so the two templates
// give different keys, and only the empty one lets other tools load our
// files (see TestKeyFileLoadsWithKeyfiles).
var srkTemplate = func() tpm2.TPMTPublic {
	t := tpm2.ECCSRKTemplate
	t.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{})
	return t
}()

// createSRK derives the storage root key in the owner hierarchy. The TPM
// derives it from the hierarchy's seed and the template, so it is the same
// key every time: nothing is made persistent, and a restarted TPM yields
// it again. It returns the loaded key and its public area, which sessions
// are salted to and imports are wrapped for (see [checkSRKPin] for why
// that public area can be trusted). A refused ownerAuth fails with
// [backend.ErrAuth].
func createSRK(t transport.TPM, ownerAuth []byte) (tpm2.AuthHandle, tpm2.TPMTPublic, error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(ownerAuth)},
		InPublic:      tpm2.New2B(srkTemplate),
	}.Execute(t)
	if err != nil {
		if isAuthErr(err) {
			return tpm2.AuthHandle{}, tpm2.TPMTPublic{}, fmt.Errorf("create storage root key: owner hierarchy auth refused (pin-source): %w: %w", backend.ErrAuth, err)
		}
		return tpm2.AuthHandle{}, tpm2.TPMTPublic{}, fmt.Errorf("create storage root key: %w", err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		flush(t, rsp.ObjectHandle)
		return tpm2.AuthHandle{}, tpm2.TPMTPublic{}, fmt.Errorf("create storage root key: unreadable public area: %w", err)
	}
	// The name is recomputed from the public area rather than taken from
	// the response, so that the pinned name and the key sessions are
	// salted to cannot disagree.
	name, err := tpm2.ObjectName(pub)
	if err != nil || !bytes.Equal(name.Buffer, rsp.Name.Buffer) {
		flush(t, rsp.ObjectHandle)
		return tpm2.AuthHandle{}, tpm2.TPMTPublic{}, fmt.Errorf("create storage root key: the TPM's name for it does not match its public area")
	}
	return tpm2.AuthHandle{Handle: rsp.ObjectHandle, Name: *name, Auth: tpm2.PasswordAuth(nil)}, *pub, nil
}

// isAuthErr reports whether the TPM refused an authorization value.
func isAuthErr(err error) bool {
	return isRC(err, tpm2.TPMRCBadAuth) || isRC(err, tpm2.TPMRCAuthFail) || isRC(err, tpm2.TPMRCLockout)
}

// loaded returns k's handle, loading k under the SRK if it is not in the
// TPM, and evicting the least recently used key when the transient slots
// are full. The caller holds the device lock.
func (d *device) loaded(t transport.TPM, k *keyObject) (tpm2.AuthHandle, error) {
	if h, ok := d.lru.get(k); ok {
		return h, nil
	}
	for {
		if d.lru.full() {
			if old, ok := d.lru.evictOldest(); ok {
				flush(t, old.Handle)
			}
		}
		rsp, err := tpm2.Load{ParentHandle: d.srk, InPrivate: k.priv, InPublic: k.pub}.Execute(t)
		if isRC(err, tpm2.TPMRCObjectMemory) && d.lru.len() > 0 {
			// Someone else holds slots we counted on: make more room.
			if old, ok := d.lru.evictOldest(); ok {
				flush(t, old.Handle)
			}
			continue
		}
		if err != nil {
			if isTPMErr(err) && !isLostObjectErr(err) && !isRetryWarning(err) && !isRC(err, tpm2.TPMRCObjectMemory) {
				return tpm2.AuthHandle{}, fmt.Errorf("load key file %s: the TPM refuses it (made by another TPM, or damaged): %w: %w", k.path, backend.ErrCorrupt, err)
			}
			return tpm2.AuthHandle{}, fmt.Errorf("load key: %w", err)
		}
		h := tpm2.AuthHandle{Handle: rsp.ObjectHandle, Name: rsp.Name, Auth: tpm2.PasswordAuth(nil)}
		d.lru.add(k, h)
		return h, nil
	}
}

// unload flushes k from the TPM if it is loaded. The caller holds the
// device lock.
func (d *device) unload(k *keyObject) {
	if h, ok := d.lru.remove(k); ok && !d.stale {
		flush(d.tpm, h.Handle)
	}
}
