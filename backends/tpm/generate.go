package tpm

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
)

// GenerateKey creates a key inside the TPM under the SRK and writes its
// TSS2 key file to dir. The key is non-duplicable (fixedTPM, fixedParent):
// it can be used only by this TPM, and only through the file.
//
// RSA keys have a null scheme, so PKCS #1 v1.5 or PSS (signing) and OAEP or
// PKCS #1 v1.5 (decryption) are chosen per call; spec.Usage picks the
// sign and decrypt attributes. It fails with [backend.ErrKeyExists] for a
// label or ID already in dir, [backend.ErrUnsupported] for an algorithm
// the TPM lacks (see [Backend.Capabilities]), and [backend.ErrInvalidInput]
// for a malformed spec. Label uniqueness is checked within this process;
// two processes generating the same label at once can both succeed.
func (b *Backend) GenerateKey(ctx context.Context, spec backend.KeySpec) (backend.Key, error) {
	const op = "generate key"
	if err := b.checkSpec(ctx, op, spec, backend.OpGenerate); err != nil {
		return nil, err
	}
	tmpl, err := keyTemplate(spec.Algorithm, spec.Usage.Resolve(spec.Algorithm))
	if err != nil {
		return nil, backend.Errorf(op, b.name, spec.Label, err)
	}
	return b.create(ctx, op, spec, func(t transport.TPM) (tpm2.TPM2BPublic, tpm2.TPM2BPrivate, error) {
		rsp, err := tpm2.Create{ParentHandle: b.dev.srk, InPublic: tpm2.New2B(tmpl)}.Execute(t)
		if err != nil {
			return tpm2.TPM2BPublic{}, tpm2.TPM2BPrivate{}, fmt.Errorf("TPM2_Create: %w", err)
		}
		return rsp.OutPublic, rsp.OutPrivate, nil
	})
}

// checkSpec runs the checks GenerateKey and ImportKey share before any
// work: the backend is open, ctx live, spec well formed and its algorithm
// one this TPM offers for op.
func (b *Backend) checkSpec(ctx context.Context, op string, spec backend.KeySpec, what backend.Ops) error {
	if err := b.check(ctx, op, spec.Label); err != nil {
		return err
	}
	if err := spec.Validate(); err != nil {
		return backend.Errorf(op, b.name, spec.Label, err)
	}
	if !b.Capabilities().Supports(spec.Algorithm, what) {
		return backend.Errorf(op, b.name, spec.Label, fmt.Errorf("this TPM cannot %s %s keys: %w", what, spec.Algorithm, backend.ErrUnsupported))
	}
	return nil
}

// create makes a key with makeKey, which runs on the TPM (under the device
// lock, with the SRK loaded) and returns the new key's public and private
// areas, and writes them to a new key file. Label and ID are checked free
// first, under genMu, which also keeps two creations in this process from
// taking the same label.
func (b *Backend) create(ctx context.Context, op string, spec backend.KeySpec, makeKey func(t transport.TPM) (tpm2.TPM2BPublic, tpm2.TPM2BPrivate, error)) (backend.Key, error) {
	fail := func(err error) (backend.Key, error) { return nil, backend.Errorf(op, b.name, spec.Label, err) }
	id := spec.ID
	if len(id) == 0 {
		id = make(backend.KeyID, 16)
		if _, err := rand.Read(id); err != nil {
			return fail(err)
		}
	}

	b.genMu.Lock()
	defer b.genMu.Unlock()
	objs, _, err := b.scan()
	if err != nil {
		return fail(err)
	}
	for _, o := range objs {
		if o.label == spec.Label || o.id.Equal(id) {
			return fail(backend.ErrKeyExists)
		}
	}
	name := keyFileName(id)
	if _, err := os.Lstat(filepath.Join(b.cfg.dir, name)); err == nil {
		// An unreadable file holds this ID; do not shadow it.
		return fail(fmt.Errorf("a file for this ID exists: %w", backend.ErrKeyExists))
	}

	var pub tpm2.TPM2BPublic
	var priv tpm2.TPM2BPrivate
	err = b.dev.do(ctx, func(t transport.TPM) error {
		if b.closed.Load() {
			return backend.ErrClosed
		}
		var err error
		pub, priv, err = makeKey(t)
		return err
	})
	if err != nil {
		return fail(err)
	}
	data, err := encodeKeyFile(spec.Label, pub, priv)
	if err != nil {
		return fail(err)
	}
	if err := writeKeyFile(b.cfg.dir, name, data); err != nil {
		return fail(err)
	}
	obj, err := b.load(name)
	if err != nil {
		return fail(err)
	}
	return &key{b: b, obj: obj}, nil
}

// keyTemplate is the public area of a new key: bound to this TPM and its
// parent, its secret made inside the TPM, usable with an empty auth value.
func keyTemplate(alg backend.Algorithm, usage backend.Usage) (tpm2.TPMTPublic, error) {
	attrs := tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		SignEncrypt:         usage&backend.UsageSign != 0,
		Decrypt:             usage&backend.UsageDecrypt != 0,
	}
	switch alg.Family() {
	case backend.FamilyRSA:
		return rsaPublic(alg, attrs, 0, nil), nil
	case backend.FamilyECDSA:
		return eccPublic(alg, attrs, nil, nil), nil
	}
	return tpm2.TPMTPublic{}, fmt.Errorf("TPMs cannot hold %s keys: %w", alg, backend.ErrUnsupported)
}

// rsaPublic is the public area of an RSA key with a null scheme, so that
// the scheme is chosen per call. exponent 0 means 65537; n is the modulus,
// empty for a key the TPM is to create.
func rsaPublic(alg backend.Algorithm, attrs tpm2.TPMAObject, exponent uint32, n []byte) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgRSA,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull},
			KeyBits:   tpm2.TPMKeyBits(alg.Bits()),
			Exponent:  exponent,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: n}),
	}
}

// eccPublic is the public area of an ECDSA key with a null scheme (the
// hash is chosen per call); x and y are the public point, empty for a key
// the TPM is to create.
func eccPublic(alg backend.Algorithm, attrs tpm2.TPMAObject, x, y []byte) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:             tpm2.TPMAlgECC,
		NameAlg:          tpm2.TPMAlgSHA256,
		ObjectAttributes: attrs,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull},
			CurveID:   curveOf(alg),
			KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: x},
			Y: tpm2.TPM2BECCParameter{Buffer: y},
		}),
	}
}
