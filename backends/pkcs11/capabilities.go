//go:build cgo

package pkcs11

import (
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
)

// EdDSA constants from PKCS #11 3.0, which miekg/pkcs11 v1.1.2 predates.
const (
	ckkECEdwards             = 0x40
	ckmECEdwardsKeyPairGen   = 0x1055
	ckmEdDSA                 = 0x1057
	ckfGenerateKeyPair       = pkcs11.CKF_GENERATE_KEY_PAIR
	ckfSign                  = pkcs11.CKF_SIGN
	ckfDecrypt               = pkcs11.CKF_DECRYPT
	ecKeySizesInBytesCeiling = 66 // tokens reporting EC sizes below this count bytes
)

// readCapabilities derives per-algorithm operations from the token's
// mechanism list: generation needs the key-pair mechanism with
// CKF_GENERATE_KEY_PAIR and a key size range that covers the algorithm;
// signing needs the raw signature mechanism with CKF_SIGN; decryption
// needs CKM_RSA_PKCS or CKM_RSA_PKCS_OAEP with CKF_DECRYPT. Import is
// possible wherever a key can be used, as far as mechanisms tell; PKCS #11
// cannot say whether C_CreateObject of a private key is allowed, so Open
// then keeps it only where the token proves it (see probeImport).
func readCapabilities(p11 *pkcs11.Ctx, slot uint) (backend.Capabilities, map[uint]pkcs11.MechanismInfo, error) {
	list, err := p11.GetMechanismList(slot)
	if err != nil {
		return nil, nil, fmt.Errorf("C_GetMechanismList: %w", err)
	}
	mechs := make(map[uint]pkcs11.MechanismInfo, len(list))
	for _, m := range list {
		mi, err := p11.GetMechanismInfo(slot, []*pkcs11.Mechanism{m})
		if err != nil {
			continue
		}
		mechs[m.Mechanism] = mi
	}
	return capabilitiesFrom(mechs), mechs, nil
}

// capabilitiesFrom applies the rules of readCapabilities to a mechanism
// table.
func capabilitiesFrom(mechs map[uint]pkcs11.MechanismInfo) backend.Capabilities {
	has := func(mech, flag uint) (pkcs11.MechanismInfo, bool) {
		mi, ok := mechs[mech]
		return mi, ok && mi.Flags&flag == flag
	}
	covers := func(mi pkcs11.MechanismInfo, bits int, bytesPossible bool) bool {
		lo, hi := mi.MinKeySize, mi.MaxKeySize
		if bytesPossible && hi != 0 && hi < ecKeySizesInBytesCeiling {
			lo, hi = lo*8, hi*8
		}
		return (lo == 0 && hi == 0) || uint(bits) >= lo && uint(bits) <= hi
	}
	caps := backend.Capabilities{}
	add := func(a backend.Algorithm, ops backend.Ops) {
		if ops != 0 {
			caps[a] |= ops
		}
	}
	for _, a := range []backend.Algorithm{backend.RSA2048, backend.RSA3072, backend.RSA4096} {
		var ops backend.Ops
		if mi, ok := has(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, ckfGenerateKeyPair); ok && covers(mi, a.Bits(), false) {
			ops |= backend.OpGenerate
		}
		if mi, ok := has(pkcs11.CKM_RSA_PKCS, ckfSign); ok && covers(mi, a.Bits(), false) {
			ops |= backend.OpSign | backend.OpImport
		}
		for _, m := range []uint{pkcs11.CKM_RSA_PKCS, pkcs11.CKM_RSA_PKCS_OAEP} {
			if mi, ok := has(m, ckfDecrypt); ok && covers(mi, a.Bits(), false) {
				ops |= backend.OpDecrypt | backend.OpImport
			}
		}
		add(a, ops)
	}
	for _, a := range []backend.Algorithm{backend.ECDSAP256, backend.ECDSAP384, backend.ECDSAP521} {
		var ops backend.Ops
		if mi, ok := has(pkcs11.CKM_EC_KEY_PAIR_GEN, ckfGenerateKeyPair); ok && covers(mi, a.Bits(), true) {
			ops |= backend.OpGenerate
		}
		if mi, ok := has(pkcs11.CKM_ECDSA, ckfSign); ok && covers(mi, a.Bits(), true) {
			ops |= backend.OpSign | backend.OpImport
		}
		add(a, ops)
	}
	for _, e := range []struct {
		a    backend.Algorithm
		bits int
	}{{backend.Ed25519, 255}, {backend.Ed448, 448}} {
		var ops backend.Ops
		coversEd := func(mi pkcs11.MechanismInfo) bool {
			// Tokens disagree on 255 or 256 (448 or 456) bits.
			return covers(mi, e.bits, true) || covers(mi, e.bits+1, true) || covers(mi, e.bits+8, true)
		}
		if mi, ok := has(ckmECEdwardsKeyPairGen, ckfGenerateKeyPair); ok && coversEd(mi) {
			ops |= backend.OpGenerate
		}
		if mi, ok := has(ckmEdDSA, ckfSign); ok && coversEd(mi) {
			ops |= backend.OpSign | backend.OpImport
		}
		add(e.a, ops)
	}
	for a, ops := range caps {
		// A key that can be neither used nor generated is not supported.
		if !ops.Has(backend.OpSign) && !ops.Has(backend.OpDecrypt) {
			delete(caps, a)
		}
	}
	return caps
}
