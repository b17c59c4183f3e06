//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
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

// sign runs C_SignInit and C_Sign on a pooled session. A stale object
// handle is looked up again once.
func (k *key) sign(ctx context.Context, mech []*pkcs11.Mechanism, data []byte) ([]byte, error) {
	var sig []byte
	err := k.b.withSession(ctx, func(s *session) error {
		h := pkcs11.ObjectHandle(k.handle.Load())
		err := k.b.p11.SignInit(s.h, mech, h)
		if isHandleInvalid(err) {
			if h, err = k.refresh(s.h); err != nil {
				return err
			}
			err = k.b.p11.SignInit(s.h, mech, h)
		}
		if err != nil {
			return classify("C_SignInit", err)
		}
		if sig, err = k.b.p11.Sign(s.h, data); err != nil {
			return classify("C_Sign", err)
		}
		return nil
	})
	return sig, err
}

// rsaSigner signs with an RSA key: PKCS #1 v1.5 for a crypto.Hash, PSS for
// *rsa.PSSOptions.
type rsaSigner struct{ k *key }

var _ backend.Signer = (*rsaSigner)(nil)

func (s *rsaSigner) Public() crypto.PublicKey { return s.k.pub }

// Sign is SignContext bounded by the backend's timeout.
func (s *rsaSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.sign(useTimeout, digest, opts)
}

// SignContext signs digest with PKCS #1 v1.5 (opts a crypto.Hash) or PSS
// (opts *rsa.PSSOptions) after validating it with [backend.CheckDigest] and
// [backend.PSSSaltLength]. The DigestInfo for PKCS #1 v1.5 is built here.
// rand is unused: the token draws PSS salts itself.
func (s *rsaSigner) SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	return s.sign(ctx, digest, opts)
}

func (s *rsaSigner) sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	const op = "sign"
	k := s.k
	if err := k.b.checkOpen(ctx, op, k.name()); err != nil {
		return nil, err
	}
	if err := backend.CheckDigest(digest, opts); err != nil {
		return nil, backend.Errorf(op, k.b.name, k.name(), err)
	}
	h := opts.HashFunc()
	var (
		mech []*pkcs11.Mechanism
		data []byte
	)
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		salt, err := backend.PSSSaltLength(k.pub.(*rsa.PublicKey), pss)
		if err != nil {
			return nil, backend.Errorf(op, k.b.name, k.name(), err)
		}
		hm := hashMechs[h]
		mech = []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_PSS, pkcs11.NewPSSParams(hm.mech, hm.mgf, uint(salt)))}
		data = digest
	} else {
		prefix, ok := digestInfoPrefix[h]
		if !ok {
			return nil, backend.Errorf(op, k.b.name, k.name(), fmt.Errorf("no PKCS #1 v1.5 DigestInfo for %v: %w", h, backend.ErrUnsupported))
		}
		mech = mechRSAPKCS
		data = make([]byte, 0, len(prefix)+len(digest))
		data = append(append(data, prefix...), digest...)
	}
	sig, err := k.sign(ctx, mech, data)
	if err != nil {
		return nil, backend.Errorf(op, k.b.name, k.name(), err)
	}
	return sig, nil
}

// ecdsaSigner signs digests with an ECDSA key and returns ASN.1 DER.
type ecdsaSigner struct{ k *key }

var _ backend.Signer = (*ecdsaSigner)(nil)

func (s *ecdsaSigner) Public() crypto.PublicKey { return s.k.pub }

// Sign is SignContext bounded by the backend's timeout.
func (s *ecdsaSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.sign(useTimeout, digest, opts)
}

// SignContext signs digest (validated by [backend.CheckDigest]) with
// CKM_ECDSA and converts the token's r||s to ASN.1 DER. rand is unused.
func (s *ecdsaSigner) SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	return s.sign(ctx, digest, opts)
}

func (s *ecdsaSigner) sign(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	const op = "sign"
	k := s.k
	if err := k.b.checkOpen(ctx, op, k.name()); err != nil {
		return nil, err
	}
	if err := backend.CheckDigest(digest, opts); err != nil {
		return nil, backend.Errorf(op, k.b.name, k.name(), err)
	}
	raw, err := k.sign(ctx, mechECDSA, digest)
	if err != nil {
		return nil, backend.Errorf(op, k.b.name, k.name(), err)
	}
	der, err := backend.ECDSARawToDER(k.pub.(*ecdsa.PublicKey).Curve, raw)
	if err != nil {
		return nil, backend.Errorf(op, k.b.name, k.name(), fmt.Errorf("token returned a malformed signature: %w", err))
	}
	return der, nil
}
