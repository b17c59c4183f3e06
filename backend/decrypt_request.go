//lint:file-ignore SA1019 the backend contract requires PKCS #1 v1.5 decryption, deprecated in Go 1.26

package backend

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"fmt"
	"math/big"
)

// DecryptScheme is an RSA decryption scheme.
type DecryptScheme uint8

// The decryption schemes a [DecryptRequest] can carry.
const (
	// SchemeRSAPKCS1v15 is RSAES-PKCS1-v1_5.
	SchemeRSAPKCS1v15 DecryptScheme = iota + 1
	// SchemeOAEP is RSAES-OAEP.
	SchemeOAEP
)

// String returns "PKCS1v15" or "OAEP".
func (s DecryptScheme) String() string {
	switch s {
	case SchemeRSAPKCS1v15:
		return "PKCS1v15"
	case SchemeOAEP:
		return "OAEP"
	}
	return fmt.Sprintf("DecryptScheme(%d)", s)
}

// DecryptRequest is a decryption request with the caller's options parsed
// and checked against the key: what every store works from. Make one with
// [ParseDecryptOptions] (the adapters from [NewDecrypter] do).
type DecryptRequest struct {
	// Scheme is the decryption scheme.
	Scheme DecryptScheme
	// Hash and MGFHash are OAEP's label hash and MGF1 hash, both on the
	// allow-list ([OAEPHashAllowed]); MGFHash is never 0 (a caller's 0
	// means "same as Hash").
	Hash, MGFHash crypto.Hash
	// Label is the OAEP label; it aliases the caller's options.
	Label []byte
	// SessionKeyLen is, for PKCS #1 v1.5, the caller's
	// [rsa.PKCS1v15DecryptOptions.SessionKeyLen]: when it is positive a
	// ciphertext that does not decrypt to exactly that many bytes yields
	// random bytes instead of an error. The adapters from [NewDecrypter]
	// apply that rule themselves, in constant time, so a store only passes
	// it on if it forwards requests elsewhere (a remote server) and
	// otherwise decrypts as for 0. It is at most the key's size minus 11.
	SessionKeyLen int
	// Ciphertext is exactly the key's size in bytes and, read as a
	// big-endian integer, less than the modulus.
	Ciphertext []byte
}

// Options returns the standard options that ask for req's scheme, the
// inverse of [ParseDecryptOptions]: nil or [*rsa.PKCS1v15DecryptOptions] for
// PKCS #1 v1.5, [*rsa.OAEPOptions] for OAEP.
func (req *DecryptRequest) Options() crypto.DecrypterOpts {
	if req.Scheme == SchemeOAEP {
		return &rsa.OAEPOptions{Hash: req.Hash, MGFHash: req.MGFHash, Label: req.Label}
	}
	if req.SessionKeyLen > 0 {
		return &rsa.PKCS1v15DecryptOptions{SessionKeyLen: req.SessionKeyLen}
	}
	return nil
}

// ParseDecryptOptions checks a decryption request for the RSA key pub and
// returns it parsed. opts is nil or [*rsa.PKCS1v15DecryptOptions] for PKCS
// #1 v1.5, [*rsa.OAEPOptions] for OAEP (both hashes on the allow-list, see
// [CheckOAEP]).
//
// A ciphertext longer than the key, or not less than its modulus, fails
// with [rsa.ErrDecryption] as crypto/rsa does; a shorter one is read as the
// integer it encodes (left-padded with zeros, which may allocate). A
// SessionKeyLen larger than the key can hold fails, before any work, with
// an error wrapping both [ErrInvalidInput] and [rsa.ErrDecryption] (what
// crypto/rsa returns for it). Nil or typed nil options of the wrong kind,
// and a negative SessionKeyLen, fail with [ErrInvalidInput].
func ParseDecryptOptions(pub *rsa.PublicKey, ciphertext []byte, opts crypto.DecrypterOpts) (DecryptRequest, error) {
	req := DecryptRequest{Scheme: SchemeRSAPKCS1v15}
	k := pub.Size()
	switch o := opts.(type) {
	case nil:
	case *rsa.PKCS1v15DecryptOptions:
		if o == nil {
			return DecryptRequest{}, fmt.Errorf("nil *rsa.PKCS1v15DecryptOptions: %w", ErrInvalidInput)
		}
		switch {
		case o.SessionKeyLen < 0:
			return DecryptRequest{}, fmt.Errorf("negative SessionKeyLen %d: %w", o.SessionKeyLen, ErrInvalidInput)
		case o.SessionKeyLen > k-11:
			return DecryptRequest{}, fmt.Errorf("SessionKeyLen %d does not fit an RSA-%d key (at most %d): %w: %w",
				o.SessionKeyLen, pub.N.BitLen(), k-11, ErrInvalidInput, rsa.ErrDecryption)
		}
		req.SessionKeyLen = o.SessionKeyLen
	case *rsa.OAEPOptions:
		if o == nil {
			return DecryptRequest{}, fmt.Errorf("nil *rsa.OAEPOptions: %w", ErrInvalidInput)
		}
		mgf, err := CheckOAEP(o)
		if err != nil {
			return DecryptRequest{}, err
		}
		req.Scheme, req.Hash, req.MGFHash, req.Label = SchemeOAEP, o.Hash, mgf, o.Label
	default:
		return DecryptRequest{}, fmt.Errorf("decrypter options %T: want nil, *rsa.PKCS1v15DecryptOptions or *rsa.OAEPOptions: %w", opts, ErrInvalidInput)
	}
	c, err := rsaCiphertext(pub, ciphertext)
	if err != nil {
		return DecryptRequest{}, err
	}
	req.Ciphertext = c
	return req, nil
}

// rsaCiphertext returns c as exactly pub.Size() bytes, or rsa.ErrDecryption
// if it is longer or encodes an integer not below the modulus.
func rsaCiphertext(pub *rsa.PublicKey, c []byte) ([]byte, error) {
	k := pub.Size()
	if len(c) > k {
		return nil, rsa.ErrDecryption
	}
	if len(c) < k {
		padded := make([]byte, k)
		copy(padded[k-len(c):], c)
		c = padded
	}
	// Both are k bytes big-endian, so the byte order is the integer order.
	var n [4096 / 8]byte
	if k > len(n) {
		if pub.N.Cmp(new(big.Int).SetBytes(c)) <= 0 {
			return nil, rsa.ErrDecryption
		}
		return c, nil
	}
	if bytes.Compare(c, pub.N.FillBytes(n[:k])) >= 0 {
		return nil, rsa.ErrDecryption
	}
	return c, nil
}
