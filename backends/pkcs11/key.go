//go:build cgo

package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// key is a private key object on the token.
type key struct {
	b     *Backend
	id    backend.KeyID
	label string
	alg   backend.Algorithm
	pub   crypto.PublicKey
	usage backend.Usage // from CKA_SIGN and CKA_DECRYPT
	obj   atomic.Pointer[objectRef]
}

// objectRef is a key's private key object handle, the session
// generations it was found in and the module's object count when it was
// read. A handle is trusted only in sessions of the same generations and
// while the count has not moved: after the token lost its sessions, after
// an outage (a module reset, a daemon restarted, a token re-inserted), or
// after an object was created or destroyed through the module (see
// module.Module.Objects: opencryptoki and tpm2-pkcs11 give a destroyed
// object's handle to the next one made), a handle number may name another
// object, and a stale one could sign with another key without any error.
// So the key finds its object again first (see key.refresh). Objects made
// or destroyed by other processes are not seen.
type objectRef struct {
	h           pkcs11.ObjectHandle
	gen, modGen uint64
	epoch       uint64
}

// object returns the key's object handle for use in s, finding the object
// again when s belongs to a newer generation than the handle or objects
// were created or destroyed through the module since it was read. Three
// atomic loads on the hot path.
func (k *key) object(s *session) (pkcs11.ObjectHandle, error) {
	if o := k.obj.Load(); o.gen == s.gen && o.modGen == s.modGen && o.epoch == k.b.mod.Objects.Load() {
		return o.h, nil
	}
	return k.refresh(s)
}

var _ backend.Key = (*key)(nil)

func (k *key) ID() backend.KeyID            { return k.id }
func (k *key) Label() string                { return k.label }
func (k *key) Algorithm() backend.Algorithm { return k.alg }
func (k *key) Public() crypto.PublicKey     { return k.pub }

func (k *key) name() string {
	if k.label != "" {
		return k.label
	}
	return k.id.String()
}

// Signer returns the key as a [backend.Signer] ([backend.MessageSigner]
// for EdDSA keys), or an error wrapping [backend.ErrUnsupported] when the
// key's CKA_SIGN is false.
func (k *key) Signer() (backend.Signer, error) {
	if k.usage&backend.UsageSign == 0 || !k.alg.Signs() {
		return nil, backend.Errorf("signer", k.b.name, k.name(), fmt.Errorf("key was not created for signing (CKA_SIGN is false): %w", backend.ErrUnsupported))
	}
	return backend.NewSigner(k.storeKey(), k.sign), nil
}

// Decrypter returns the key as a [backend.Decrypter], or an error wrapping
// [backend.ErrUnsupported] unless it is an RSA key with CKA_DECRYPT.
func (k *key) Decrypter() (backend.Decrypter, error) {
	if k.alg.Family() != backend.FamilyRSA || k.usage&backend.UsageDecrypt == 0 {
		return nil, backend.Errorf("decrypter", k.b.name, k.name(), fmt.Errorf("%s key was not created for decryption (CKA_DECRYPT is false): %w", k.alg, backend.ErrUnsupported))
	}
	return backend.NewDecrypter(k.storeKey(), k.decrypt), nil
}

// storeKey describes the key to the adapters in package backend: methods
// without a context wait at most the backend's timeout.
func (k *key) storeKey() backend.StoreKey {
	return backend.StoreKey{
		Backend:   k.b.name,
		Key:       k.name(),
		Algorithm: k.alg,
		Public:    k.pub,
		Timeout:   k.b.cfg.Timeout,
		Check:     k.b.usable,
	}
}

func (k *key) Decapsulator() (backend.Decapsulator, error) {
	return nil, backend.Errorf("decapsulator", k.b.name, k.name(), fmt.Errorf("%s keys do not decapsulate: %w", k.alg, backend.ErrUnsupported))
}

// errSkip marks a private key object of a type or size cryptoplug does not
// handle (DSA, RSA-1024, secp256k1, …); Keys leaves such objects out.
var errSkip = errors.New("not a cryptoplug key")

// objectName describes an object for errors.
func objectName(label string, id []byte, h pkcs11.ObjectHandle) string {
	return fmt.Sprintf("object %q (id %x, handle %d)", label, id, h)
}

func corrupt(obj, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", obj, fmt.Sprintf(format, args...), backend.ErrCorrupt)
}

// readFailed reports a failed attribute read or search on obj: a lost
// session or stale handle passes through (to be retried), anything else
// means the object does not describe a usable key.
func readFailed(obj, what string, err error) error {
	if isLost(err) || isHandleInvalid(err) {
		return fmt.Errorf("%s: %s: %w", obj, what, err)
	}
	return corrupt(obj, "%s: %v", what, err)
}

// attrs reads attributes of one object; a missing attribute fails the call.
func attrs(p11 *pkcs11.Ctx, sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, types ...uint) ([][]byte, error) {
	tmpl := make([]*pkcs11.Attribute, len(types))
	for i, t := range types {
		tmpl[i] = pkcs11.NewAttribute(t, nil)
	}
	got, err := p11.GetAttributeValue(sh, h, tmpl)
	if err != nil {
		return nil, err
	}
	out := make([][]byte, len(types))
	for i, a := range got {
		out[i] = a.Value
	}
	return out, nil
}

func ulong(b []byte) (uint, bool) {
	if len(b) != 8 && len(b) != 4 {
		return 0, false
	}
	var v uint
	for i := len(b) - 1; i >= 0; i-- { // CK_ULONG in host (little-endian) order
		v = v<<8 | uint(b[i])
	}
	return v, true
}

func boolAttr(b []byte) bool { return len(b) == 1 && b[0] != 0 }

// loadKey builds a key from the private key object h.
func (b *Backend) loadKey(s *session, h pkcs11.ObjectHandle) (*key, error) {
	sh := s.h
	epoch := b.mod.Objects.Load() // before the attributes are read from h
	v, err := attrs(b.p11, sh, h, pkcs11.CKA_KEY_TYPE, pkcs11.CKA_ID, pkcs11.CKA_LABEL, pkcs11.CKA_SIGN, pkcs11.CKA_DECRYPT)
	if err != nil {
		return nil, fmt.Errorf("read %s: C_GetAttributeValue: %w", objectName("", nil, h), err)
	}
	kt, ok := ulong(v[0])
	k := &key{b: b, id: backend.KeyID(v[1]), label: string(v[2])}
	obj := objectName(k.label, k.id, h)
	if !ok {
		return nil, corrupt(obj, "CKA_KEY_TYPE is %d bytes", len(v[0]))
	}
	if boolAttr(v[3]) {
		k.usage |= backend.UsageSign
	}
	if boolAttr(v[4]) {
		k.usage |= backend.UsageDecrypt
	}
	switch kt {
	case pkcs11.CKK_RSA:
		err = k.loadRSA(sh, h, obj)
	case pkcs11.CKK_EC:
		err = k.loadEC(sh, h, obj)
	case ckkECEdwards:
		err = k.loadEdwards(sh, h, obj)
	default:
		return nil, fmt.Errorf("%s: key type %#x: %w", obj, kt, errSkip)
	}
	if err != nil {
		return nil, err
	}
	k.obj.Store(&objectRef{h: h, gen: s.gen, modGen: s.modGen, epoch: epoch})
	return k, nil
}

func (k *key) loadRSA(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, obj string) error {
	v, err := attrs(k.b.p11, sh, h, pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT)
	if err != nil {
		// Some tokens keep the public parts only on the public object.
		if isLost(err) {
			return readFailed(obj, "CKA_MODULUS", err)
		}
		ph, perr := k.b.findPublic(sh, k.id, k.label)
		if perr != nil {
			return readFailed(obj, "no CKA_MODULUS/CKA_PUBLIC_EXPONENT, and the public key object", perr)
		}
		if v, err = attrs(k.b.p11, sh, ph, pkcs11.CKA_MODULUS, pkcs11.CKA_PUBLIC_EXPONENT); err != nil {
			return readFailed(obj, "public key object", err)
		}
	}
	n := new(big.Int).SetBytes(v[0])
	e := new(big.Int).SetBytes(v[1])
	if n.Sign() <= 0 || n.Bit(0) == 0 || !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 || e.Bit(0) == 0 {
		return corrupt(obj, "RSA modulus or public exponent is not valid")
	}
	switch n.BitLen() {
	case 2048:
		k.alg = backend.RSA2048
	case 3072:
		k.alg = backend.RSA3072
	case 4096:
		k.alg = backend.RSA4096
	default:
		return fmt.Errorf("%s: RSA-%d: %w", obj, n.BitLen(), errSkip)
	}
	k.pub = &rsa.PublicKey{N: n, E: int(e.Int64())}
	return nil
}

// Named curve OIDs for CKA_EC_PARAMS.
var (
	oidP256    = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384    = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	oidP521    = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
	oidEd25519 = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidEd448   = asn1.ObjectIdentifier{1, 3, 101, 113}
)

// ecParams returns the DER CKA_EC_PARAMS (a named curve OID) for a.
func ecParams(a backend.Algorithm) []byte {
	oid := map[backend.Algorithm]asn1.ObjectIdentifier{
		backend.ECDSAP256: oidP256, backend.ECDSAP384: oidP384, backend.ECDSAP521: oidP521,
		backend.Ed25519: oidEd25519, backend.Ed448: oidEd448,
	}[a]
	der, err := asn1.Marshal(oid)
	if err != nil {
		panic(err)
	}
	return der
}

// parseECParams maps CKA_EC_PARAMS to an algorithm: a named curve OID, or
// the PrintableString curve names older OpenSC versions write for Edwards
// curves. ok is false for anything unparseable; errSkip for other curves.
func parseECParams(der []byte) (backend.Algorithm, error) {
	in := cryptobyte.String(der)
	var oid asn1.ObjectIdentifier
	var name cryptobyte.String
	switch {
	case in.PeekASN1Tag(cbasn1.OBJECT_IDENTIFIER):
		if !in.ReadASN1ObjectIdentifier(&oid) || !in.Empty() {
			return "", errors.New("malformed CKA_EC_PARAMS")
		}
	case in.PeekASN1Tag(cbasn1.PrintableString):
		if !in.ReadASN1(&name, cbasn1.PrintableString) || !in.Empty() {
			return "", errors.New("malformed CKA_EC_PARAMS")
		}
		switch string(name) {
		case "edwards25519", "ed25519", "Ed25519":
			return backend.Ed25519, nil
		case "edwards448", "ed448", "Ed448":
			return backend.Ed448, nil
		}
		return "", fmt.Errorf("curve %q: %w", string(name), errSkip)
	default:
		return "", errors.New("CKA_EC_PARAMS is neither a curve OID nor a curve name")
	}
	switch {
	case oid.Equal(oidP256):
		return backend.ECDSAP256, nil
	case oid.Equal(oidP384):
		return backend.ECDSAP384, nil
	case oid.Equal(oidP521):
		return backend.ECDSAP521, nil
	case oid.Equal(oidEd25519):
		return backend.Ed25519, nil
	case oid.Equal(oidEd448):
		return backend.Ed448, nil
	}
	return "", fmt.Errorf("curve %v: %w", oid, errSkip)
}

// ecPoint unwraps CKA_EC_POINT: a DER OCTET STRING as PKCS #11 requires,
// or the bare point some tokens return. size is the bare point's length.
func ecPoint(v []byte, size int) ([]byte, bool) {
	if len(v) == size {
		return v, true
	}
	in := cryptobyte.String(v)
	var p cryptobyte.String
	if in.ReadASN1(&p, cbasn1.OCTET_STRING) && in.Empty() && len(p) == size {
		return p, true
	}
	return nil, false
}

// malformedLength explains a CKA_EC_POINT that is an OCTET STRING of n
// bytes whose length is not DER: a single length byte of n ≥ 128, where
// DER needs 0x81 n (tpm2-pkcs11 1.9 writes P-521 points so). Such a key is
// refused rather than guessed at; the explanation says whose error it is.
func malformedLength(v []byte, n int) string {
	if n < 0x80 || len(v) != 2+n || v[0] != byte(cbasn1.OCTET_STRING) || int(v[1]) != n {
		return ""
	}
	return fmt.Sprintf(" (the token wrote an OCTET STRING with the invalid DER length byte %#02x for %d bytes, which DER encodes as 81 %02x: it stored a malformed public key)", v[1], n, n)
}

func (k *key) readParamsAndPoint(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, obj string) (backend.Algorithm, []byte, error) {
	v, err := attrs(k.b.p11, sh, h, pkcs11.CKA_EC_PARAMS)
	if err != nil {
		return "", nil, readFailed(obj, "CKA_EC_PARAMS", err)
	}
	alg, err := parseECParams(v[0])
	if errors.Is(err, errSkip) {
		return "", nil, fmt.Errorf("%s: %w", obj, err)
	}
	if err != nil {
		return "", nil, corrupt(obj, "%v", err)
	}
	ph, err := k.b.findPublic(sh, k.id, k.label)
	if err != nil {
		return "", nil, readFailed(obj, "public key object", err)
	}
	pv, err := attrs(k.b.p11, sh, ph, pkcs11.CKA_EC_POINT)
	if err != nil {
		return "", nil, readFailed(obj, "public key object's CKA_EC_POINT", err)
	}
	return alg, pv[0], nil
}

func (k *key) loadEC(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, obj string) error {
	alg, point, err := k.readParamsAndPoint(sh, h, obj)
	if err != nil {
		return err
	}
	if alg.Family() != backend.FamilyECDSA {
		return corrupt(obj, "CKK_EC key with %s parameters", alg)
	}
	curve := alg.Curve()
	size := (curve.Params().BitSize + 7) / 8
	raw, ok := ecPoint(point, 1+2*size)
	if !ok {
		return corrupt(obj, "CKA_EC_POINT is not an uncompressed %s point%s", alg, malformedLength(point, 1+2*size))
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
	if err != nil {
		return corrupt(obj, "CKA_EC_POINT: %v", err)
	}
	k.alg, k.pub = alg, pub
	return nil
}

func (k *key) loadEdwards(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, obj string) error {
	alg, point, err := k.readParamsAndPoint(sh, h, obj)
	if err != nil {
		return err
	}
	switch alg {
	case backend.Ed25519:
		raw, ok := ecPoint(point, ed25519.PublicKeySize)
		if !ok {
			return corrupt(obj, "CKA_EC_POINT is not an Ed25519 public key")
		}
		k.pub = ed25519.PublicKey(bytes.Clone(raw))
	case backend.Ed448:
		raw, ok := ecPoint(point, ed448.PublicKeySize)
		if !ok {
			return corrupt(obj, "CKA_EC_POINT is not an Ed448 public key")
		}
		k.pub = ed448.PublicKey(bytes.Clone(raw))
	default:
		return corrupt(obj, "CKK_EC_EDWARDS key with %s parameters", alg)
	}
	k.alg = alg
	return nil
}
