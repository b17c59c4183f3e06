//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"encoding/asn1"
	"fmt"
	"io"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/miekg/pkcs11"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Mechanisms without parameters, shared by every call (the library only
// reads them).
var (
	mechECDSA   = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_ECDSA, nil)}
	mechRSAPKCS = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS, nil)}
	mechEdDSA   = []*pkcs11.Mechanism{pkcs11.NewMechanism(ckmEdDSA, nil)}
)

// hashMechs maps a hash to its PKCS #11 digest mechanism and MGF1 type.
var hashMechs = map[crypto.Hash]struct{ mech, mgf uint }{
	crypto.SHA1:     {pkcs11.CKM_SHA_1, pkcs11.CKG_MGF1_SHA1},
	crypto.SHA224:   {pkcs11.CKM_SHA224, pkcs11.CKG_MGF1_SHA224},
	crypto.SHA256:   {pkcs11.CKM_SHA256, pkcs11.CKG_MGF1_SHA256},
	crypto.SHA384:   {pkcs11.CKM_SHA384, pkcs11.CKG_MGF1_SHA384},
	crypto.SHA512:   {pkcs11.CKM_SHA512, pkcs11.CKG_MGF1_SHA512},
	crypto.SHA3_256: {pkcs11.CKM_SHA3_256, 0x7}, // CKG_MGF1_SHA3_256
	crypto.SHA3_384: {pkcs11.CKM_SHA3_384, 0x8}, // CKG_MGF1_SHA3_384
	crypto.SHA3_512: {pkcs11.CKM_SHA3_512, 0x9}, // CKG_MGF1_SHA3_512
}

// digestInfoPrefix holds, per hash, the DER DigestInfo up to the digest
// bytes, for PKCS #1 v1.5 signatures through CKM_RSA_PKCS. A hash without a
// prefix cannot be signed, so a bare digest is never signed by mistake.
var digestInfoPrefix = func() map[crypto.Hash][]byte {
	oids := map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA224:   {2, 16, 840, 1, 101, 3, 4, 2, 4},
		crypto.SHA256:   {2, 16, 840, 1, 101, 3, 4, 2, 1},
		crypto.SHA384:   {2, 16, 840, 1, 101, 3, 4, 2, 2},
		crypto.SHA512:   {2, 16, 840, 1, 101, 3, 4, 2, 3},
		crypto.SHA3_256: {2, 16, 840, 1, 101, 3, 4, 2, 8},
		crypto.SHA3_384: {2, 16, 840, 1, 101, 3, 4, 2, 9},
		crypto.SHA3_512: {2, 16, 840, 1, 101, 3, 4, 2, 10},
	}
	out := make(map[crypto.Hash][]byte, len(oids))
	for h, oid := range oids {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1ObjectIdentifier(oid)
				b.AddASN1NULL()
			})
			b.AddASN1OctetString(make([]byte, h.Size()))
		})
		der := b.BytesOrPanic()
		out[h] = der[:len(der)-h.Size()]
	}
	return out
}()

// sign is the key's store operation for [backend.NewSigner]. rand is
// unused: the token draws PSS salts and ECDSA nonces itself.
func (k *key) sign(ctx context.Context, _ io.Reader, req backend.SignRequest) ([]byte, error) {
	switch req.Scheme {
	case backend.SchemePKCS1v15:
		// CKM_RSA_PKCS signs what it is given, so the DigestInfo is built
		// here; a hash without a prefix is never signed bare.
		prefix, ok := digestInfoPrefix[req.Hash]
		if !ok {
			return nil, fmt.Errorf("no PKCS #1 v1.5 DigestInfo for %v: %w", req.Hash, backend.ErrUnsupported)
		}
		data := make([]byte, 0, len(prefix)+len(req.Input))
		data = append(append(data, prefix...), req.Input...)
		return k.signRaw(ctx, mechRSAPKCS, data)
	case backend.SchemePSS:
		return k.signPSS(ctx, &req)
	case backend.SchemeECDSA:
		raw, err := k.signRaw(ctx, mechECDSA, req.Input)
		if err != nil {
			return nil, err
		}
		der, err := backend.ECDSARawToDER(k.pub.(*ecdsa.PublicKey).Curve, raw)
		if err != nil {
			return nil, fmt.Errorf("token returned a malformed signature: %w", err)
		}
		return der, nil
	case backend.SchemeEd25519, backend.SchemeEd25519ph, backend.SchemeEd448, backend.SchemeEd448ph:
		return k.signEdDSA(ctx, &req)
	}
	return nil, fmt.Errorf("%v signatures: %w", req.Scheme, backend.ErrUnsupported)
}

// signRaw runs C_SignInit and C_Sign on a pooled session. A stale object
// handle is looked up again once.
func (k *key) signRaw(ctx context.Context, mech []*pkcs11.Mechanism, data []byte) ([]byte, error) {
	var sig []byte
	err := k.b.withSession(ctx, func(s *session) error {
		h, err := k.object(s)
		if err != nil {
			return err
		}
		err = k.b.p11.SignInit(s.h, mech, h)
		if isHandleInvalid(err) {
			if h, err = k.refresh(s); err != nil {
				return err
			}
			err = k.b.p11.SignInit(s.h, mech, h)
		}
		if err != nil {
			return classify("C_SignInit", err)
		}
		if sig, err = k.b.p11.Sign(s.h, data); err != nil {
			if c, _ := ckr(err); c == pkcs11.CKR_MECHANISM_INVALID {
				// C_SignInit took this mechanism: the token advertises
				// what it cannot do (tpm2-pkcs11 1.9's PSS). That is
				// the token's defect, not an unsupported request.
				return fmt.Errorf("C_Sign: the token accepted the mechanism in C_SignInit, then refused it: %w", err)
			}
			return classify("C_Sign", err)
		}
		return nil
	})
	if err != nil {
		return nil, err // what fn wrote is not read: an abandoned call may still write it
	}
	return sig, nil
}
