package tpm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"fmt"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/cryptoplug/cryptoplug/backend"
)

var _ backend.Importer = (*Backend)(nil)

// ImportKey brings an existing RSA or ECDSA private key into the TPM. The
// key is wrapped here for the storage root key as a duplication blob (the
// TPM specification's outer wrapper: a seed encrypted to the SRK's public
// key by ECDH, from which an AES-128-CFB key and an HMAC key are derived)
// and given to TPM2_Import, which re-encrypts it for this TPM; the key
// file then holds that blob, as for a generated key. The private key never
// crosses the bus in the clear, and the SRK it is wrapped for is the one
// the key directory pinned (see [ErrSRKMismatch]). No inner wrapper is
// added: it would be keyed by a secret sent over the same bus, protected
// by a session salted to the same SRK, and so add no protection.
//
// priv is *rsa.PrivateKey (two primes) or *ecdsa.PrivateKey and must match
// spec.Algorithm, else [backend.ErrInvalidInput]. The TPM requires
// imported keys to have fixedTPM and fixedParent clear, and the key is
// marked as made outside the TPM (sensitiveDataOrigin clear): attestation
// reports it as imported, never as a key born in the TPM. It is otherwise
// used like a generated key. Algorithms the TPM cannot hold fail with
// [backend.ErrUnsupported], a label or ID already in dir with
// [backend.ErrKeyExists].
func (b *Backend) ImportKey(ctx context.Context, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
	const op = "import key"
	policy, err := b.checkSpec(ctx, op, &spec, backend.OpImport)
	if err != nil {
		return nil, err
	}
	var authValue []byte
	if policy != nil {
		authValue = policy.AuthValue
	}
	pub, sens, err := importAreas(spec.Algorithm, tpm2.TPMAObject{}, priv, authValue)
	if err != nil {
		return nil, backend.Errorf(op, b.name, spec.Label, err)
	}
	defer clear(sens)
	usage := spec.Usage.Resolve(spec.Algorithm)
	return b.create(ctx, op, spec, func(t transport.TPM) (createdKey, error) {
		kp, err := b.dev.keyPolicy(t, policy)
		if err != nil {
			return createdKey{}, err
		}
		pub, err := withUseAttributes(pub, usage, kp)
		if err != nil {
			return createdKey{}, err
		}
		name, err := tpm2.ObjectName(&pub)
		if err != nil {
			return createdKey{}, err
		}
		// Wrapped inside the lock: the SRK is the device's current one,
		// re-derived (and checked against the pin) after a reconnect.
		kem, err := tpm2.ImportEncapsulationKey(&b.dev.srkPub)
		if err != nil {
			return createdKey{}, fmt.Errorf("storage root key: %w", err)
		}
		dup, seed, err := tpm2.CreateDuplicate(rand.Reader, kem, name.Buffer, sens)
		if err != nil {
			return createdKey{}, fmt.Errorf("wrap the key for the storage root key: %w", err)
		}
		rsp, err := tpm2.Import{
			ParentHandle: b.dev.srk,
			ObjectPublic: tpm2.New2B(pub),
			Duplicate:    tpm2.TPM2BPrivate{Buffer: dup},
			InSymSeed:    tpm2.TPM2BEncryptedSecret{Buffer: seed},
			Symmetric:    tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
		}.Execute(t)
		if exponent := pubExponent(pub); exponent != 0 && isRC(err, tpm2.TPMRCValue) {
			// TPMs must support 65537 only (Part 2, TPMS_RSA_PARMS); the
			// reference implementation refuses 3, for one.
			return createdKey{}, fmt.Errorf("this TPM does not take the RSA exponent %d (65537 is the one every TPM must): %w: %w", exponent, backend.ErrUnsupported, err)
		}
		if isTPMErr(err) && !isLostObjectErr(err) && !isRetryWarning(err) {
			return createdKey{}, fmt.Errorf("TPM2_Import: the TPM refuses the key: %w: %w", backend.ErrInvalidInput, err)
		}
		if err != nil {
			return createdKey{}, fmt.Errorf("TPM2_Import: %w", err)
		}
		return createdKey{pub: tpm2.New2B(pub), priv: rsp.OutPrivate, policy: kp}, nil
	})
}

// importAreas returns the public area and the marshalled TPMT_SENSITIVE of
// priv, with auth value authValue: for RSA the first prime (the TPM
// recomputes the rest from it and the modulus), for ECDSA the private
// scalar. The caller clears the sensitive bytes when done.
func importAreas(alg backend.Algorithm, attrs tpm2.TPMAObject, priv crypto.PrivateKey, authValue []byte) (tpm2.TPMTPublic, []byte, error) {
	mismatch := fmt.Errorf("private key of type %T does not match %s: %w", priv, alg, backend.ErrInvalidInput)
	switch alg.Family() {
	case backend.FamilyRSA:
		k, ok := priv.(*rsa.PrivateKey)
		if !ok || k.N.BitLen() != alg.Bits() {
			return tpm2.TPMTPublic{}, nil, mismatch
		}
		if len(k.Primes) != 2 {
			return tpm2.TPMTPublic{}, nil, fmt.Errorf("multi-prime RSA keys: %w", backend.ErrUnsupported)
		}
		if err := k.Validate(); err != nil {
			return tpm2.TPMTPublic{}, nil, fmt.Errorf("RSA key: %v: %w", err, backend.ErrInvalidInput)
		}
		if k.E < 3 || k.E > 1<<32-1 {
			return tpm2.TPMTPublic{}, nil, fmt.Errorf("RSA exponent %d does not fit a TPM key: %w", k.E, backend.ErrUnsupported)
		}
		exp := uint32(k.E)
		if exp == 65537 {
			exp = 0 // the TPM's way of saying the default exponent
		}
		// The TPM takes one prime and recomputes the other from the
		// modulus; the reference implementation requires both to be
		// exactly half the modulus' size (as every key RSA key generators
		// make is).
		half := alg.Bits() / 2
		if k.Primes[0].BitLen() != half || k.Primes[1].BitLen() != half {
			return tpm2.TPMTPublic{}, nil, fmt.Errorf("a TPM holds only RSA keys whose primes are each half the modulus (%d and %d bits here): %w",
				k.Primes[0].BitLen(), k.Primes[1].BitLen(), backend.ErrUnsupported)
		}
		prime := k.Primes[0].FillBytes(make([]byte, half/8))
		defer clear(prime)
		sens := tpm2.Marshal(tpm2.TPMTSensitive{
			SensitiveType: tpm2.TPMAlgRSA,
			AuthValue:     tpm2.TPM2BAuth{Buffer: authValue},
			Sensitive:     tpm2.NewTPMUSensitiveComposite(tpm2.TPMAlgRSA, &tpm2.TPM2BPrivateKeyRSA{Buffer: prime}),
		})
		return rsaPublic(alg, attrs, exp, k.N.FillBytes(make([]byte, alg.Bits()/8))), sens, nil
	case backend.FamilyECDSA:
		k, ok := priv.(*ecdsa.PrivateKey)
		if !ok || k.Curve != alg.Curve() {
			return tpm2.TPMTPublic{}, nil, mismatch
		}
		d, err := k.Bytes()
		if err != nil {
			return tpm2.TPMTPublic{}, nil, fmt.Errorf("ECDSA key: %v: %w", err, backend.ErrInvalidInput)
		}
		// d may share memory with the caller's key (crypto/ecdsa caches
		// its encoding): it must not be cleared here.
		point, err := k.PublicKey.Bytes() // 0x04 || X || Y
		if err != nil {
			return tpm2.TPMTPublic{}, nil, fmt.Errorf("ECDSA key: %v: %w", err, backend.ErrInvalidInput)
		}
		size := (len(point) - 1) / 2
		sens := tpm2.Marshal(tpm2.TPMTSensitive{
			SensitiveType: tpm2.TPMAlgECC,
			AuthValue:     tpm2.TPM2BAuth{Buffer: authValue},
			Sensitive:     tpm2.NewTPMUSensitiveComposite(tpm2.TPMAlgECC, &tpm2.TPM2BECCParameter{Buffer: d}),
		})
		return eccPublic(alg, attrs, point[1:1+size], point[1+size:]), sens, nil
	}
	return tpm2.TPMTPublic{}, nil, fmt.Errorf("importing %s keys into a TPM: %w", alg, backend.ErrUnsupported)
}

// pubExponent returns an RSA public area's exponent field (0 meaning
// 65537), or 0 for other key types.
func pubExponent(pub tpm2.TPMTPublic) uint32 {
	if pub.Type != tpm2.TPMAlgRSA {
		return 0
	}
	parms, err := pub.Parameters.RSADetail()
	if err != nil {
		return 0
	}
	return parms.Exponent
}
