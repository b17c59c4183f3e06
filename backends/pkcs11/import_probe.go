//go:build cgo

package pkcs11

import (
	"crypto"
	"fmt"
	"sync"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
	"github.com/miekg/pkcs11"
)

// probeImport keeps OpImport in caps only for the key families whose
// private keys the token lets C_CreateObject make: PKCS #11 cannot say in
// advance, and tokens differ (tpm2-pkcs11 refuses every private key with
// CKR_ATTRIBUTE_VALUE_INVALID). For each family with an algorithm claiming
// import, it creates a private key object of the smallest such algorithm
// as a session object — never stored on the token — and destroys it at
// once. Without a PIN no private object can be made, so nothing is
// claimed. A probe that finds the session lost fails with that error.
func (b *Backend) probeImport(s *session, caps backend.Capabilities) error {
	for _, fam := range []backend.Family{backend.FamilyRSA, backend.FamilyECDSA, backend.FamilyEdDSA} {
		var algs []backend.Algorithm
		for _, a := range backend.Algorithms() { // smallest first
			if a.Family() == fam && caps.Supports(a, backend.OpImport) {
				algs = append(algs, a)
			}
		}
		if len(algs) == 0 {
			continue
		}
		ok := false
		if b.pool.pin != nil {
			var err error
			if ok, err = b.createsPrivateKey(s, algs[0]); err != nil {
				return err
			}
		}
		if !ok {
			for _, a := range algs {
				caps[a] &^= backend.OpImport
			}
		}
	}
	return nil
}

// createsPrivateKey reports whether the token creates a session private key
// object of algorithm a from key material.
func (b *Backend) createsPrivateKey(s *session, a backend.Algorithm) (bool, error) {
	priv, err := probeKey(a)
	if err != nil {
		return false, err
	}
	_, privT := templates(backend.KeySpec{Algorithm: a, Label: "cryptoplug import probe"}, []byte("cryptoplug import probe"))
	for i, attr := range privT {
		if attr.Type == pkcs11.CKA_TOKEN {
			privT[i] = pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false)
		}
	}
	_, material, err := keyMaterial(a, priv)
	if err != nil {
		return false, err
	}
	h, err := b.p11.CreateObject(s.h, append(privT, material...))
	if err != nil {
		if isLost(err) {
			return false, fmt.Errorf("probing key import: C_CreateObject: %w", err)
		}
		return false, nil
	}
	defer b.mod.Objects.Add(1) // the probe's handle may have been a deleted key's
	if err := b.p11.DestroyObject(s.h, h); err != nil {
		// A session object goes with the session anyway.
		return false, fmt.Errorf("probing key import: C_DestroyObject: %w", err)
	}
	return true, nil
}

// probeKeys are the throwaway keys probeImport gives tokens, made once per
// process (an RSA key takes a while).
var probeKeys struct {
	sync.Mutex
	m map[backend.Algorithm]crypto.PrivateKey
}

func probeKey(a backend.Algorithm) (crypto.PrivateKey, error) {
	probeKeys.Lock()
	defer probeKeys.Unlock()
	if k, ok := probeKeys.m[a]; ok {
		return k, nil
	}
	k, err := privkey.Generate(a)
	if err != nil {
		return nil, fmt.Errorf("probing key import: %w", err)
	}
	if probeKeys.m == nil {
		probeKeys.m = map[backend.Algorithm]crypto.PrivateKey{}
	}
	probeKeys.m[a] = k
	return k, nil
}
