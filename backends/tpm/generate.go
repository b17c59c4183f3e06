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
	if err := b.check(ctx, op, spec.Label); err != nil {
		return nil, err
	}
	if err := spec.Validate(); err != nil {
		return nil, backend.Errorf(op, b.name, spec.Label, err)
	}
	if !b.Capabilities().Supports(spec.Algorithm, backend.OpGenerate) {
		return nil, backend.Errorf(op, b.name, spec.Label, fmt.Errorf("this TPM cannot create %s keys: %w", spec.Algorithm, backend.ErrUnsupported))
	}
	tmpl, err := keyTemplate(spec.Algorithm, spec.Usage.Resolve(spec.Algorithm))
	if err != nil {
		return nil, backend.Errorf(op, b.name, spec.Label, err)
	}
	id := spec.ID
	if len(id) == 0 {
		id = make(backend.KeyID, 16)
		if _, err := rand.Read(id); err != nil {
			return nil, backend.Errorf(op, b.name, spec.Label, err)
		}
	}

	b.genMu.Lock()
	defer b.genMu.Unlock()
	objs, _, err := b.scan()
	if err != nil {
		return nil, backend.Errorf(op, b.name, spec.Label, err)
	}
	for _, o := range objs {
		if o.label == spec.Label || o.id.Equal(id) {
			return nil, backend.Errorf(op, b.name, spec.Label, backend.ErrKeyExists)
		}
	}
	name := keyFileName(id)
	if _, err := os.Lstat(filepath.Join(b.cfg.dir, name)); err == nil {
		// An unreadable file holds this ID; do not shadow it.
		return nil, backend.Errorf(op, b.name, spec.Label, fmt.Errorf("a file for this ID exists: %w", backend.ErrKeyExists))
	}

	var rsp *tpm2.CreateResponse
	err = b.dev.do(ctx, func(t transport.TPM) error {
		if b.closed.Load() {
			return backend.ErrClosed
		}
		var err error
		rsp, err = tpm2.Create{ParentHandle: b.dev.srk, InPublic: tpm2.New2B(tmpl)}.Execute(t)
		return err
	})
	if err != nil {
		return nil, backend.Errorf(op, b.name, spec.Label, fmt.Errorf("TPM2_Create: %w", err))
	}
	data, err := encodeKeyFile(spec.Label, rsp.OutPublic, rsp.OutPrivate)
	if err != nil {
		return nil, backend.Errorf(op, b.name, spec.Label, err)
	}
	if err := writeKeyFile(b.cfg.dir, name, data); err != nil {
		return nil, backend.Errorf(op, b.name, spec.Label, err)
	}
	obj, err := b.load(name)
	if err != nil {
		return nil, backend.Errorf(op, b.name, spec.Label, err)
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
		return tpm2.TPMTPublic{
			Type:             tpm2.TPMAlgRSA,
			NameAlg:          tpm2.TPMAlgSHA256,
			ObjectAttributes: attrs,
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
				Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
				Scheme:    tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull},
				KeyBits:   tpm2.TPMKeyBits(alg.Bits()),
			}),
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{}),
		}, nil
	case backend.FamilyECDSA:
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
			Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
		}, nil
	}
	return tpm2.TPMTPublic{}, fmt.Errorf("TPMs cannot hold %s keys: %w", alg, backend.ErrUnsupported)
}
