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
	policy, err := b.checkSpec(ctx, op, &spec, backend.OpGenerate)
	if err != nil {
		return nil, err
	}
	usage := spec.Usage.Resolve(spec.Algorithm)
	return b.create(ctx, op, spec, func(t transport.TPM) (createdKey, error) {
		kp, err := b.dev.keyPolicy(t, policy)
		if err != nil {
			return createdKey{}, err
		}
		tmpl, err := keyTemplate(spec.Algorithm, usage, kp)
		if err != nil {
			return createdKey{}, err
		}
		parent := b.dev.srk
		cmd := tpm2.Create{InPublic: tpm2.New2B(tmpl)}
		if kp.authValue {
			// The auth value travels encrypted (see session.go).
			parent.Auth = b.dev.saltedSession(encryptCommand, nil)
			cmd.InSensitive = tpm2.TPM2BSensitiveCreate{Sensitive: &tpm2.TPMSSensitiveCreate{
				UserAuth: tpm2.TPM2BAuth{Buffer: policy.AuthValue},
			}}
		}
		cmd.ParentHandle = parent
		rsp, err := cmd.Execute(t)
		if err != nil {
			return createdKey{}, fmt.Errorf("TPM2_Create: %w", err)
		}
		return createdKey{pub: rsp.OutPublic, priv: rsp.OutPrivate, policy: kp}, nil
	})
}

// createdKey is what the TPM returned for a new key, and its policy.
type createdKey struct {
	pub    tpm2.TPM2BPublic
	priv   tpm2.TPM2BPrivate
	policy keyPolicy
}

// keyPolicy turns the caller's policy (nil for none) into the key's,
// reading PCRs if needed. The caller holds the device lock.
func (d *device) keyPolicy(t transport.TPM, p *backend.KeyPolicy) (keyPolicy, error) {
	if p == nil {
		return keyPolicy{}, nil
	}
	return newKeyPolicy(t, d.caps, p)
}

// checkSpec runs the checks GenerateKey and ImportKey share before any
// work: the backend is open, ctx live, spec well formed and its algorithm
// one this TPM offers for op. It returns spec's policy (a copy, validated)
// and leaves spec without it.
func (b *Backend) checkSpec(ctx context.Context, op string, spec *backend.KeySpec, what backend.Ops) (*backend.KeyPolicy, error) {
	if err := b.check(ctx, op, spec.Label); err != nil {
		return nil, err
	}
	policy := spec.Policy.Clone()
	spec.Policy = nil
	if err := spec.Validate(); err != nil {
		return nil, backend.Errorf(op, b.name, spec.Label, err)
	}
	if policy != nil {
		if err := policy.Validate(); err != nil {
			return nil, backend.Errorf(op, b.name, spec.Label, err)
		}
		if err := checkAuthValue(policy.AuthValue); err != nil {
			return nil, backend.Errorf(op, b.name, spec.Label, fmt.Errorf("%w: %w", err, backend.ErrInvalidInput))
		}
	}
	if !b.Capabilities().Supports(spec.Algorithm, what) {
		return nil, backend.Errorf(op, b.name, spec.Label, fmt.Errorf("this TPM cannot %s %s keys: %w", what, spec.Algorithm, backend.ErrUnsupported))
	}
	return policy, nil
}

// create makes a key with makeKey, which runs on the TPM (under the device
// lock, with the SRK loaded) and returns the new key's public and private
// areas and its policy, and writes them to a new key file. Label and ID are checked free
// first, under genMu, which also keeps two creations in this process from
// taking the same label.
func (b *Backend) create(ctx context.Context, op string, spec backend.KeySpec, makeKey func(t transport.TPM) (createdKey, error)) (backend.Key, error) {
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

	var made createdKey
	err = b.dev.do(ctx, func(t transport.TPM) error {
		if b.closed.Load() {
			return backend.ErrClosed
		}
		var err error
		made, err = makeKey(t)
		return err
	})
	if err != nil {
		return fail(err)
	}
	data, err := encodeKeyFile(spec.Label, made.pub, made.priv, made.policy.fileOptions()...)
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
// parent, its secret made inside the TPM, usable as policy p says.
func keyTemplate(alg backend.Algorithm, usage backend.Usage, p keyPolicy) (tpm2.TPMTPublic, error) {
	attrs := tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
	}
	var pub tpm2.TPMTPublic
	switch alg.Family() {
	case backend.FamilyRSA:
		pub = rsaPublic(alg, attrs, 0, nil)
	case backend.FamilyECDSA:
		pub = eccPublic(alg, attrs, nil, nil)
	default:
		return tpm2.TPMTPublic{}, fmt.Errorf("TPMs cannot hold %s keys: %w", alg, backend.ErrUnsupported)
	}
	return withUseAttributes(pub, usage, p)
}

// withUseAttributes sets what pub may do (usage) and how it is authorized
// (p): the auth value alone (userWithAuth), or only a policy session
// satisfying its authPolicy.
//
// Only keys with an auth value are under the TPM's dictionary-attack
// protection (noDA clear). A key with an empty one has nothing to guess,
// and in lockout the TPM refuses every DA-protected key, empty auth or
// not: guesses at one key's auth value would take all the others down.
func withUseAttributes(pub tpm2.TPMTPublic, usage backend.Usage, p keyPolicy) (tpm2.TPMTPublic, error) {
	a := &pub.ObjectAttributes
	a.SignEncrypt = usage&backend.UsageSign != 0
	a.Decrypt = usage&backend.UsageDecrypt != 0
	a.UserWithAuth = p.pcrs == nil
	a.NoDA = !p.authValue
	digest, err := p.authPolicy()
	if err != nil {
		return tpm2.TPMTPublic{}, err
	}
	pub.AuthPolicy = tpm2.TPM2BDigest{Buffer: digest}
	return pub, nil
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
