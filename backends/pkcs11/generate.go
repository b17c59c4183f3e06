//go:build cgo

package pkcs11

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
)

// randomIDLen is the length of the CKA_ID given to keys created without one.
const randomIDLen = 16

// GenerateKey creates a key pair on the token. The private key is a token
// object that is CKA_PRIVATE, CKA_SENSITIVE and not CKA_EXTRACTABLE; both
// halves carry spec.Label as CKA_LABEL and the same CKA_ID (spec.ID, or 16
// random bytes). The key may do only what spec.Usage resolves to: CKA_SIGN
// for signing, CKA_DECRYPT for decryption (RSA).
//
// It fails with [backend.ErrKeyExists] when a private key with the same
// label or any object with the same ID exists (checked under a lock, so
// unique among this backend's callers; another process creating the same
// label at the same moment is not detected), [backend.ErrUnsupported] when
// the token cannot generate the algorithm, and [backend.ErrInvalidInput]
// for a malformed spec.
func (b *Backend) GenerateKey(ctx context.Context, spec backend.KeySpec) (backend.Key, error) {
	const op = "generate key"
	if err := b.check(ctx, op, spec.Label); err != nil {
		return nil, err
	}
	fail := func(err error) (backend.Key, error) { return nil, backend.Errorf(op, b.name, spec.Label, err) }
	id, pubT, privT, err := b.newKeyTemplates(spec, backend.OpGenerate)
	if err != nil {
		return fail(err)
	}
	var mech []*pkcs11.Mechanism
	switch spec.Algorithm.Family() {
	case backend.FamilyRSA:
		mech = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)}
		pubT = append(pubT,
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, spec.Algorithm.Bits()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}))
	case backend.FamilyECDSA:
		mech = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_EC_KEY_PAIR_GEN, nil)}
		pubT = append(pubT, pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, ecParams(spec.Algorithm)))
	case backend.FamilyEdDSA:
		mech = []*pkcs11.Mechanism{pkcs11.NewMechanism(ckmECEdwardsKeyPairGen, nil)}
		pubT = append(pubT, pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, ecParams(spec.Algorithm)))
	default:
		return fail(fmt.Errorf("%s: %w", spec.Algorithm, backend.ErrUnsupported))
	}
	k, err := b.createKeyPair(ctx, spec.Label, id, "generated", func(s *session) (pub, priv pkcs11.ObjectHandle, err error) {
		if pub, priv, err = b.p11.GenerateKeyPair(s.h, mech, pubT, privT); err != nil {
			return 0, 0, classify("C_GenerateKeyPair", err)
		}
		return pub, priv, nil
	})
	if err != nil {
		return fail(err)
	}
	return k, nil
}

// newKeyTemplates validates spec for a key the token is to create (need is
// OpGenerate or OpImport) and returns its ID and the attribute templates
// every key pair this package creates starts from.
func (b *Backend) newKeyTemplates(spec backend.KeySpec, need backend.Ops) (id []byte, pubT, privT []*pkcs11.Attribute, err error) {
	if err := spec.Validate(); err != nil {
		return nil, nil, nil, err
	}
	if !b.caps.Supports(spec.Algorithm, need) {
		return nil, nil, nil, fmt.Errorf("token cannot %s %s keys: %w", need, spec.Algorithm, backend.ErrUnsupported)
	}
	if id, err = keyID(spec); err != nil {
		return nil, nil, nil, err
	}
	pubT, privT = templates(spec, id)
	return id, pubT, privT, nil
}

// createKeyPair runs create (C_GenerateKeyPair or C_CreateObject) under the
// creation lock after checking that label and id are free, and reads the
// new pair back as a key; a pair that cannot be read back is destroyed, so
// no half-made key stays on the token. how ("generated", "imported")
// names the origin in errors.
func (b *Backend) createKeyPair(ctx context.Context, label string, id []byte, how string,
	create func(*session) (pub, priv pkcs11.ObjectHandle, err error)) (*key, error) {
	b.createMu.Lock()
	defer b.createMu.Unlock()
	var k *key
	err := b.withSession(ctx, func(s *session) error {
		if err := b.checkUnique(s.h, label, id); err != nil {
			return err
		}
		pub, priv, err := create(s)
		b.mod.Objects.Add(1) // a failed call may have made objects, and handles may be reused
		if err != nil {
			return err
		}
		if k, err = b.loadKey(s, priv); err != nil {
			_ = b.p11.DestroyObject(s.h, priv)
			_ = b.p11.DestroyObject(s.h, pub)
			return fmt.Errorf("reading back the %s key: %w", how, err)
		}
		return nil
	})
	if err != nil {
		return nil, err // what fn wrote is not read: an abandoned call may still write it
	}
	return k, nil
}

// keyID returns spec.ID or a fresh random ID.
func keyID(spec backend.KeySpec) ([]byte, error) {
	if len(spec.ID) > 0 {
		return spec.ID, nil
	}
	id := make([]byte, randomIDLen)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	return id, nil
}

// templates returns the attributes every key this package creates has.
func templates(spec backend.KeySpec, id []byte) (pub, priv []*pkcs11.Attribute) {
	var keyType uint
	switch spec.Algorithm.Family() {
	case backend.FamilyRSA:
		keyType = pkcs11.CKK_RSA
	case backend.FamilyECDSA:
		keyType = pkcs11.CKK_EC
	case backend.FamilyEdDSA:
		keyType = ckkECEdwards
	}
	usage := spec.Usage.Resolve(spec.Algorithm)
	sign := usage&backend.UsageSign != 0
	decrypt := usage&backend.UsageDecrypt != 0
	// Every usage attribute of the private key is set explicitly: token
	// defaults differ (SoftHSM2 makes EC keys decryption keys unless told
	// otherwise). The public key's CKA_VERIFY and CKA_ENCRYPT are left to
	// the token: cryptoplug verifies and encrypts in software, and
	// tpm2-pkcs11 1.9 derives them from the private key's usage (swapped:
	// CKA_VERIFY from decryption, CKA_ENCRYPT from signing) and fails
	// C_GenerateKeyPair with CKR_GENERAL_ERROR when the template disagrees.
	pub = []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, spec.Label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
	priv = []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, keyType),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, spec.Label),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, sign),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, decrypt),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
	}
	return pub, priv
}

// checkUnique fails with ErrKeyExists when a private key already has label
// or any key object already has id. PKCS #11 itself allows duplicates.
func (b *Backend) checkUnique(sh pkcs11.SessionHandle, label string, id []byte) error {
	hs, err := b.findObjects(sh, refTemplate(pkcs11.CKO_PRIVATE_KEY, backend.ByLabel(label)))
	if err != nil {
		return err
	}
	if len(hs) > 0 {
		return fmt.Errorf("a private key labelled %q exists: %w", label, backend.ErrKeyExists)
	}
	for _, class := range []uint{pkcs11.CKO_PRIVATE_KEY, pkcs11.CKO_PUBLIC_KEY} {
		hs, err := b.findObjects(sh, refTemplate(class, backend.ByID(id)))
		if err != nil {
			return err
		}
		if len(hs) > 0 {
			return fmt.Errorf("a key with id %x exists: %w", id, backend.ErrKeyExists)
		}
	}
	return nil
}
