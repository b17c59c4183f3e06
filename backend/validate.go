package backend

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	_ "crypto/sha3" // SHA-3 is on the allow-list, so it must be linked
	"fmt"

	"github.com/cloudflare/circl/sign/ed448"
)

// nilOpts reports whether opts is nil or a typed nil of one of the option
// types signers accept, whose HashFunc method would panic or whose fields
// cannot be read.
func nilOpts(opts crypto.SignerOpts) bool {
	switch o := opts.(type) {
	case nil:
		return true
	case *rsa.PSSOptions:
		return o == nil
	case *ed25519.Options:
		return o == nil
	case *ed448.SignerOptions:
		return o == nil
	case *MLDSAOptions:
		return o == nil
	}
	return false
}

// signatureHashes is the allow-list of hashes a digest may be made with for
// RSA and ECDSA signatures. SHA-1 and MD5 are out: their collisions make
// signatures over them forgeable. SHA-3 is in for the standard library's
// sake; a store that cannot do it reports ErrUnsupported.
var signatureHashes = map[crypto.Hash]bool{
	crypto.SHA224:   true,
	crypto.SHA256:   true,
	crypto.SHA384:   true,
	crypto.SHA512:   true,
	crypto.SHA3_256: true,
	crypto.SHA3_384: true,
	crypto.SHA3_512: true,
}

// oaepHashes is the allow-list for OAEP's label hash and MGF1 hash. SHA-1
// stays: OAEP does not rely on collision resistance, and many HSMs offer
// nothing else.
var oaepHashes = map[crypto.Hash]bool{
	crypto.SHA1:   true,
	crypto.SHA224: true,
	crypto.SHA256: true,
	crypto.SHA384: true,
	crypto.SHA512: true,
}

// SignatureHashAllowed reports whether h may be used to make a digest for an
// RSA or ECDSA signature.
func SignatureHashAllowed(h crypto.Hash) bool { return signatureHashes[h] }

// OAEPHashAllowed reports whether h may be used as OAEP's hash or MGF1 hash.
func OAEPHashAllowed(h crypto.Hash) bool { return oaepHashes[h] }

// CheckDigest validates a pre-hashed signing request for an RSA or ECDSA key:
// opts.HashFunc() must be on the allow-list ([ErrUnsupported] otherwise;
// zero, "sign the raw bytes", is [ErrInvalidInput]) and len(digest) must equal
// its size ([ErrInvalidInput]). Unlike crypto/ecdsa, which truncates any
// digest, every backend checks the length, so a caller's mistake fails the
// same way on every store.
func CheckDigest(digest []byte, opts crypto.SignerOpts) error {
	if nilOpts(opts) {
		return fmt.Errorf("nil signer options; pass a crypto.Hash: %w", ErrInvalidInput)
	}
	h, err := hashFunc(opts)
	if err != nil {
		return err
	}
	return checkDigest(digest, h)
}

func checkDigest(digest []byte, h crypto.Hash) error {
	if h == 0 {
		return fmt.Errorf("signing without a hash is not allowed for this key: %w", ErrInvalidInput)
	}
	if !signatureHashes[h] {
		return fmt.Errorf("hash %v is not allowed for signatures: %w", h, ErrUnsupported)
	}
	if len(digest) != h.Size() {
		return fmt.Errorf("digest is %d bytes, %v needs %d: %w", len(digest), h, h.Size(), ErrInvalidInput)
	}
	return nil
}

// PSSSaltLength validates PSS options for a key with public key pub and
// returns the salt length to sign with:
//
//   - [rsa.PSSSaltLengthEqualsHash]: the hash's size, what TLS 1.3 and X.509
//     require;
//   - [rsa.PSSSaltLengthAuto] (or 0): the largest salt that fits, as
//     crypto/rsa signs; a store with a fixed salt length may use its own,
//     since verifiers given Auto accept any;
//   - n > 0: exactly n, which must fit.
//
// Other values, nil options and salts that do not fit fail with
// [ErrInvalidInput].
// CheckDigest must also pass for the digest.
func PSSSaltLength(pub *rsa.PublicKey, opts *rsa.PSSOptions) (int, error) {
	if opts == nil {
		return 0, fmt.Errorf("nil PSS options: %w", ErrInvalidInput)
	}
	h := opts.HashFunc()
	maxSalt := PSSMaxSaltLength(pub, h)
	if maxSalt < 0 {
		return 0, fmt.Errorf("RSA-%d key is too small for PSS with %v: %w", pub.N.BitLen(), h, ErrInvalidInput)
	}
	switch s := opts.SaltLength; {
	case s == rsa.PSSSaltLengthEqualsHash:
		if h.Size() > maxSalt {
			return 0, fmt.Errorf("salt of %d bytes does not fit RSA-%d: %w", h.Size(), pub.N.BitLen(), ErrInvalidInput)
		}
		return h.Size(), nil
	case s == rsa.PSSSaltLengthAuto:
		return maxSalt, nil
	case s > 0 && s <= maxSalt:
		return s, nil
	default:
		return 0, fmt.Errorf("PSS salt length %d is out of range (0 to %d, or a PSSSaltLength constant): %w", s, maxSalt, ErrInvalidInput)
	}
}

// PSSMaxSaltLength returns the largest PSS salt for pub and hash h, or a
// negative number when even an empty salt does not fit.
func PSSMaxSaltLength(pub *rsa.PublicKey, h crypto.Hash) int {
	emLen := (pub.N.BitLen() - 1 + 7) / 8
	return emLen - h.Size() - 2
}

// CheckOAEP validates OAEP options: both the hash and the MGF1 hash (zero
// meaning "same as Hash", as crypto/rsa treats it) must be on the allow-list.
// It returns the effective MGF1 hash. Errors wrap [ErrUnsupported].
func CheckOAEP(opts *rsa.OAEPOptions) (mgf crypto.Hash, err error) {
	if opts == nil {
		return 0, fmt.Errorf("nil OAEP options: %w", ErrInvalidInput)
	}
	if !oaepHashes[opts.Hash] {
		return 0, fmt.Errorf("OAEP hash %v is not allowed: %w", opts.Hash, ErrUnsupported)
	}
	mgf = opts.MGFHash
	if mgf == 0 {
		mgf = opts.Hash
	}
	if !oaepHashes[mgf] {
		return 0, fmt.Errorf("OAEP MGF1 hash %v is not allowed: %w", mgf, ErrUnsupported)
	}
	return mgf, nil
}
