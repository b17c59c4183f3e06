//go:build cgo

package bench

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/pkcs11"

	"github.com/cryptoplug/cryptoplug/backend"
	cppkcs11 "github.com/cryptoplug/cryptoplug/backends/pkcs11"
)

// pkcs11Baselines compares the PKCS #11 backend with the floor any PKCS #11
// library can reach, raw miekg/pkcs11 calls ("baseline"), and with
// crypto11, the library Go programs most often use for the same job.
//
// The raw baseline opens its own sessions on the same token, as many as the
// backend's pool (max-sessions), logs in, and finds the backend's key by
// its CKA_ID. An operation takes an idle session from a channel, calls
// C_SignInit and C_Sign (or C_DecryptInit and C_Decrypt) on the key's
// handle, and puts the session back: nothing else. Its ECDSA output is the
// token's raw r||s, converted to DER only by the check.
type pkcs11Baselines struct {
	cfg *cppkcs11.Config

	p11      *pkcs11.Ctx
	slot     uint
	sessions chan pkcs11.SessionHandle // idle raw sessions
	opened   []pkcs11.SessionHandle
	rawErr   error // why there is no raw baseline

	c11 *crypto11Peer
}

// openPKCS11Baselines prepares crypto11 (which must initialise the module
// before the backend does) and the raw sessions.
func openPKCS11Baselines(ctx context.Context, uri string) (Baselines, error) {
	cfg, err := cppkcs11.ParseConfig(uri)
	if err != nil {
		return nil, err
	}
	pin, hasPIN, err := cfg.PIN()
	if err != nil {
		return nil, err
	}
	if !hasPIN {
		pin = nil
	}
	bl := &pkcs11Baselines{cfg: cfg}
	bl.c11 = openCrypto11(cfg, pin)
	bl.rawErr = bl.openRaw(pin)
	return bl, nil
}

// openRaw loads the module (tolerating one that crypto11 or the backend
// already initialised), finds the token and opens cfg.MaxSessions
// logged-in sessions.
func (bl *pkcs11Baselines) openRaw(pin backend.Secret) error {
	bl.p11 = pkcs11.New(bl.cfg.ModulePath)
	if bl.p11 == nil {
		return fmt.Errorf("raw PKCS #11: cannot load %s", bl.cfg.ModulePath)
	}
	if err := bl.p11.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		return fmt.Errorf("raw PKCS #11: C_Initialize: %w", err)
	}
	slot, err := findSlot(bl.p11, bl.cfg)
	if err != nil {
		return fmt.Errorf("raw PKCS #11: %w", err)
	}
	bl.slot = slot
	bl.sessions = make(chan pkcs11.SessionHandle, bl.cfg.MaxSessions)
	for range bl.cfg.MaxSessions {
		sh, err := bl.p11.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			return fmt.Errorf("raw PKCS #11: C_OpenSession: %w", err)
		}
		bl.opened = append(bl.opened, sh)
		bl.sessions <- sh
		if pin != nil {
			// Login state belongs to the token, not the session.
			err := bl.p11.Login(sh, pkcs11.CKU_USER, string(pin))
			if err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
				return fmt.Errorf("raw PKCS #11: C_Login: %w", err)
			}
		}
	}
	return nil
}

// findSlot returns the slot of the one token cfg selects.
func findSlot(p11 *pkcs11.Ctx, cfg *cppkcs11.Config) (uint, error) {
	slots, err := p11.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("C_GetSlotList: %w", err)
	}
	var found []uint
	for _, s := range slots {
		ti, err := p11.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if cfg.HasSlotID && s != cfg.SlotID ||
			cfg.Token != "" && strings.TrimRight(ti.Label, " ") != cfg.Token ||
			cfg.Serial != "" && strings.TrimRight(ti.SerialNumber, " ") != cfg.Serial {
			continue
		}
		found = append(found, s)
	}
	if len(found) != 1 {
		return 0, fmt.Errorf("%d tokens match %s", len(found), cfg.TokenName())
	}
	return found[0], nil
}

// Close closes the raw sessions (never finalising the module, which the
// backend or crypto11 may still use) and crypto11's context.
func (bl *pkcs11Baselines) Close() error {
	if bl.p11 != nil {
		for _, sh := range bl.opened {
			_ = bl.p11.CloseSession(sh)
		}
		bl.p11.Destroy()
	}
	return bl.c11.close()
}

// Impls returns the raw baseline and crypto11 for w.
func (bl *pkcs11Baselines) Impls(ctx context.Context, be backend.Backend, w *Workload) ([]Impl, error) {
	var (
		impls []Impl
		errs  []error
	)
	if raw, err := bl.rawImpl(w); err != nil {
		errs = append(errs, err)
	} else {
		impls = append(impls, raw)
	}
	if peer, err := bl.c11.impl(w); err != nil {
		errs = append(errs, err)
	} else {
		impls = append(impls, peer)
	}
	return impls, errors.Join(errs...)
}

// CKM_EDDSA from PKCS #11 3.0, which miekg/pkcs11 does not name.
const ckmEdDSA = 0x1057

// rawImpl is C_SignInit + C_Sign (or C_DecryptInit + C_Decrypt) on the
// backend's key through a pre-opened session.
func (bl *pkcs11Baselines) rawImpl(w *Workload) (Impl, error) {
	if bl.rawErr != nil {
		return Impl{}, bl.rawErr
	}
	if w.Key == nil {
		return Impl{}, fmt.Errorf("raw PKCS #11: no baseline for %s", w)
	}
	h, err := bl.findPrivateKey(w.Key.ID())
	if err != nil {
		return Impl{}, err
	}
	p11 := bl.p11
	im := Impl{Name: "baseline"}
	switch w.Op {
	case Sign:
		mech, data, check, err := rawSignature(w)
		if err != nil {
			return Impl{}, err
		}
		im.Op = func(int) ([]byte, error) {
			sh := <-bl.sessions
			defer func() { bl.sessions <- sh }()
			if err := p11.SignInit(sh, mech, h); err != nil {
				return nil, fmt.Errorf("C_SignInit: %w", err)
			}
			return p11.Sign(sh, data)
		}
		im.Check = check
	case Decrypt:
		o := w.DecrypterOpts
		hm, mgf, ok := oaepMechs(o.Hash)
		if !ok || len(o.Label) > 0 {
			return Impl{}, fmt.Errorf("raw PKCS #11: no OAEP mechanism for %v", o.Hash)
		}
		mech := []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_OAEP, pkcs11.NewOAEPParams(hm, mgf, pkcs11.CKZ_DATA_SPECIFIED, nil))}
		ct, want, err := w.Ciphertext(w.Key.Public())
		if err != nil {
			return Impl{}, err
		}
		im.Op = func(int) ([]byte, error) {
			sh := <-bl.sessions
			defer func() { bl.sessions <- sh }()
			if err := p11.DecryptInit(sh, mech, h); err != nil {
				return nil, fmt.Errorf("C_DecryptInit: %w", err)
			}
			return p11.Decrypt(sh, ct)
		}
		im.Check = checkEqual(want)
	default:
		return Impl{}, fmt.Errorf("raw PKCS #11: no baseline for %s", w)
	}
	return im, nil
}

// rawSignature returns the mechanism and data C_Sign takes for w, and a
// check of the token's output.
func rawSignature(w *Workload) ([]*pkcs11.Mechanism, []byte, func([]byte) error, error) {
	pub := w.Key.Public()
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		check := func(raw []byte) error {
			der, err := backend.ECDSARawToDER(pub.Curve, raw)
			if err != nil {
				return err
			}
			return w.Verify(pub, der)
		}
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}, w.Message, check, nil
	default:
		check := func(sig []byte) error { return w.Verify(pub, sig) }
		switch w.Algorithm.Family() {
		case backend.FamilyRSA:
			prefix, ok := digestInfoPrefix[w.SignerOpts.HashFunc()]
			if !ok {
				return nil, nil, nil, fmt.Errorf("raw PKCS #11: no DigestInfo for %v", w.SignerOpts.HashFunc())
			}
			data := append(append([]byte(nil), prefix...), w.Message...)
			return []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}, data, check, nil
		case backend.FamilyEdDSA:
			return []*pkcs11.Mechanism{pkcs11.NewMechanism(ckmEdDSA, nil)}, w.Message, check, nil
		}
	}
	return nil, nil, nil, fmt.Errorf("raw PKCS #11: no signature mechanism for %s", w.Algorithm)
}

// digestInfoPrefix is the DER DigestInfo before the digest, per hash, for
// PKCS #1 v1.5 signatures through CKM_RSA_PKCS (RFC 8017, section 9.2).
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// oaepMechs returns the PKCS #11 hash mechanism and MGF1 type for h.
func oaepMechs(h crypto.Hash) (hash, mgf uint, ok bool) {
	switch h {
	case crypto.SHA1:
		return pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1, true
	case crypto.SHA256:
		return pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256, true
	case crypto.SHA384:
		return pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384, true
	case crypto.SHA512:
		return pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512, true
	}
	return 0, 0, false
}

// findPrivateKey returns the handle of the private key object with CKA_ID
// id, which must be the only one.
func (bl *pkcs11Baselines) findPrivateKey(id []byte) (pkcs11.ObjectHandle, error) {
	sh := <-bl.sessions
	defer func() { bl.sessions <- sh }()
	tmpl := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
	}
	if err := bl.p11.FindObjectsInit(sh, tmpl); err != nil {
		return 0, fmt.Errorf("raw PKCS #11: C_FindObjectsInit: %w", err)
	}
	hs, _, err := bl.p11.FindObjects(sh, 2)
	_ = bl.p11.FindObjectsFinal(sh)
	if err != nil {
		return 0, fmt.Errorf("raw PKCS #11: C_FindObjects: %w", err)
	}
	if len(hs) != 1 {
		return 0, fmt.Errorf("raw PKCS #11: %d private keys with CKA_ID %x", len(hs), id)
	}
	return hs[0], nil
}
