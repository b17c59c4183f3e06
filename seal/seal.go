package seal

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hpke"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors; see the package documentation for which operation
// returns which.
var (
	// ErrUnsupportedKey: the recipient key is not an ML-KEM-768/1024 or RSA
	// (at least 2048 bits) key, or not of the kind the blob needs.
	ErrUnsupportedKey = errors.New("seal: unsupported recipient key")
	// ErrWrongKey: the blob was sealed to another recipient key.
	ErrWrongKey = errors.New("seal: sealed to another key")
	// ErrCorrupt: the blob is malformed, truncated or was tampered with.
	ErrCorrupt = errors.New("seal: blob corrupt or tampered with")
	// ErrTooLarge: the plaintext is over MaxPlaintextLen or the blob over
	// MaxLen.
	ErrTooLarge = errors.New("seal: too large")
	// ErrTruncated: the blob (or its armor) ends before its framing says it
	// should: a partial write or copy. Errors wrapping it also wrap
	// [ErrCorrupt], so callers that predate it still refuse the blob.
	ErrTruncated = errors.New("seal: blob truncated")
	// ErrUnknownFormat: the blob is framed as a sealed blob but of a format
	// version or scheme this code does not know (sealed by a newer
	// cryptoplug). Errors wrapping it also wrap [ErrCorrupt].
	ErrUnknownFormat = errors.New("seal: unknown format version or scheme")
)

const (
	// MaxPlaintextLen bounds what Seal encrypts.
	MaxPlaintextLen = 32 << 10
	// MaxLen bounds a blob: the largest plaintext with the largest header,
	// wrapped key (RSA-16384) and authentication tag fit well below it.
	MaxLen = MaxPlaintextLen + 4096

	magic        = "CPB1"
	magicFamily  = "CPB" // followed by the format version's digit
	schemeHPKE   = 1
	schemeRSA    = 2
	schemeRSADev = 3
	headerLen    = len(magic) + 1 + sha256.Size
	gcmNonceLen  = 12
	gcmTagLen    = 16
	dataKeyLen   = 32

	hpkeMLKEM1024 = 0x0042 // HPKE's KEM ID for ML-KEM-1024
)

// Seal encrypts plaintext (at most [MaxPlaintextLen] bytes) to recipient,
// an *mlkem.EncapsulationKey768 or *mlkem.EncapsulationKey1024 (any
// crypto.Encapsulator HPKE accepts as ML-KEM) or an *rsa.PublicKey of at
// least 2048 bits. Encryption is randomised: sealing the same plaintext twice
// gives different blobs. Errors wrap [ErrUnsupportedKey] or [ErrTooLarge].
//
// RSA blobs use OAEP with SHA-256 and the header as label (scheme 2), which
// software keys decrypt but TPMs and some PKCS #11 tokens do not; seal to
// such a key with [SealWith] and [Options.OAEPHash].
func Seal(recipient crypto.PublicKey, plaintext []byte) ([]byte, error) {
	return SealWith(recipient, plaintext, Options{})
}

// Options choose among the schemes for a recipient key. The zero value is
// what [Seal] does.
type Options struct {
	// OAEPHash, when not zero, seals to an RSA key with scheme 3: OAEP with
	// this hash for both the digest and MGF1, and an empty label — what a
	// TPM (which takes only labels ending in a zero byte) and a PKCS #11
	// token (SoftHSM2 ignores labels and does OAEP only with SHA-1) can
	// decrypt. It is crypto.SHA1, SHA256, SHA384 or SHA512; anything else
	// fails with [ErrUnsupportedKey]. It is ignored for ML-KEM keys.
	OAEPHash crypto.Hash
}

// SealWith is [Seal] with a choice of scheme (see [Options]). Errors wrap
// [ErrUnsupportedKey] or [ErrTooLarge].
func SealWith(recipient crypto.PublicKey, plaintext []byte, opts Options) ([]byte, error) {
	if len(plaintext) > MaxPlaintextLen {
		return nil, fmt.Errorf("%w: plaintext of %d bytes, at most %d", ErrTooLarge, len(plaintext), MaxPlaintextLen)
	}
	id, err := KeyID(recipient)
	if err != nil {
		return nil, err
	}
	switch pub := recipient.(type) {
	case crypto.Encapsulator:
		pk, err := hpke.NewMLKEMPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnsupportedKey, err)
		}
		info := binary.BigEndian.AppendUint16(header(schemeHPKE, id), pk.KEM().ID())
		sealed, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), info, plaintext)
		if err != nil {
			return nil, fmt.Errorf("%w: hpke: %w", ErrUnsupportedKey, err)
		}
		return append(info, sealed...), nil
	case *rsa.PublicKey:
		if opts.OAEPHash != 0 {
			return sealRSADevice(pub, id, opts.OAEPHash, plaintext)
		}
		h := header(schemeRSA, id)
		var dek [dataKeyLen]byte
		rand.Read(dek[:])
		defer clear(dek[:])
		wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, dek[:], h)
		if err != nil {
			return nil, fmt.Errorf("%w: rsa-oaep: %w", ErrUnsupportedKey, err)
		}
		var nonce [gcmNonceLen]byte
		rand.Read(nonce[:])
		out := bytes.Clone(h)
		out = binary.BigEndian.AppendUint16(out, uint16(len(wrapped)))
		out = append(out, wrapped...)
		out = append(out, nonce[:]...)
		return newGCM(dek[:]).Seal(out, nonce[:], plaintext, h), nil
	}
	panic("unreachable: KeyID accepted an unsupported key")
}

// Open decrypts a blob made by [Seal] or [SealWith]. recipient holds the
// private key: a crypto.Decapsulator whose Encapsulator is an ML-KEM-768 or
// -1024 key for HPKE blobs, or a crypto.Decrypter whose public key is an
// *rsa.PublicKey for RSA blobs (*mlkem.DecapsulationKey768 and
// *rsa.PrivateKey are both). The blob must name recipient's [KeyID]
// ([ErrWrongKey] otherwise) and be intact ([ErrCorrupt] otherwise, also
// wrapping [ErrTruncated] or [ErrUnknownFormat] where that is what is
// wrong). It does not modify blob; the caller should clear the plaintext
// after use.
func Open(recipient any, blob []byte) ([]byte, error) {
	scheme, id, err := parse(blob)
	if err != nil {
		return nil, err
	}
	switch scheme {
	case schemeHPKE:
		return openHPKE(recipient, id, blob)
	case schemeRSA:
		return openRSA(recipient, id, blob)
	case schemeRSADev:
		return openRSADevice(recipient, id, blob)
	}
	panic("unreachable: parse accepted an unknown scheme")
}

func openHPKE(recipient any, id, blob []byte) ([]byte, error) {
	rest := blob[headerLen:]
	dk, ok := recipient.(crypto.Decapsulator)
	if !ok {
		return nil, fmt.Errorf("%w: an ML-KEM blob needs a crypto.Decapsulator", ErrUnsupportedKey)
	}
	if err := matchKey(dk.Encapsulator(), id); err != nil {
		return nil, err
	}
	rec := &recordingDecapsulator{Decapsulator: dk}
	priv, err := hpke.NewMLKEMPrivateKey(rec)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupportedKey, err)
	}
	if len(rest) < 2 || binary.BigEndian.Uint16(rest) != priv.KEM().ID() {
		return nil, fmt.Errorf("%w: KEM does not match the key", ErrCorrupt)
	}
	// The KEM's encapsulation and the AEAD tag are the least a blob holds.
	if len(rest) < 2+encLen(priv.KEM().ID())+gcmTagLen {
		return nil, truncated()
	}
	pt, err := hpke.Open(priv, hpke.HKDFSHA256(), hpke.AES256GCM(), blob[:headerLen+2], rest[2:])
	switch {
	case rec.err != nil:
		return nil, fmt.Errorf("seal: open: the recipient key failed: %w", rec.err)
	case err != nil:
		return nil, ErrCorrupt
	}
	return pt, nil
}

func openRSA(recipient any, id, blob []byte) ([]byte, error) {
	h, rest := blob[:headerLen], blob[headerLen:]
	dec, ok := recipient.(crypto.Decrypter)
	if !ok {
		return nil, fmt.Errorf("%w: an RSA blob needs a crypto.Decrypter", ErrUnsupportedKey)
	}
	if err := matchKey(dec.Public(), id); err != nil {
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if len(rest) < n+gcmNonceLen+gcmTagLen {
		return nil, truncated()
	}
	dek, err := decryptDataKey(dec, rest[:n], &rsa.OAEPOptions{Hash: crypto.SHA256, Label: h})
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	rest = rest[n:]
	pt, err := newGCM(dek).Open(nil, rest[:gcmNonceLen], rest[gcmNonceLen:], h)
	if err != nil {
		return nil, ErrCorrupt
	}
	return pt, nil
}

// decryptDataKey unwraps a blob's AES key: a ciphertext that does not
// decrypt is a corrupt blob; any other failure is the key's own and is
// reported as such.
func decryptDataKey(dec crypto.Decrypter, wrapped []byte, opts *rsa.OAEPOptions) ([]byte, error) {
	dek, err := dec.Decrypt(rand.Reader, wrapped, opts)
	switch {
	case errors.Is(err, rsa.ErrDecryption):
		return nil, ErrCorrupt
	case err != nil:
		return nil, fmt.Errorf("seal: open: the recipient key failed: %w", err)
	case len(dek) != dataKeyLen:
		clear(dek)
		return nil, ErrCorrupt
	}
	return dek, nil
}

// recordingDecapsulator remembers an error of the key's own Decapsulate,
// which hpke.Open would otherwise blur into a failed decryption. ML-KEM
// never fails on a well-sized ciphertext (implicit rejection), and HPKE
// always passes one, so any error here is the key's, not the blob's.
type recordingDecapsulator struct {
	crypto.Decapsulator
	err error
}

func (r *recordingDecapsulator) Decapsulate(ct []byte) ([]byte, error) {
	k, err := r.Decapsulator.Decapsulate(ct)
	if err != nil {
		r.err = err
	}
	return k, err
}

// KeyID returns the 32-byte identifier a blob sealed to recipient carries
// in its header: the SHA-256 of an ML-KEM encapsulation key's bytes, or of an
// RSA public key's PKIX DER. It fails with [ErrUnsupportedKey] for any key
// [Seal] does not accept.
func KeyID(recipient crypto.PublicKey) ([]byte, error) {
	switch k := recipient.(type) {
	case crypto.Encapsulator:
		if _, err := hpke.NewMLKEMPublicKey(k); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnsupportedKey, err)
		}
		id := sha256.Sum256(k.Bytes())
		return id[:], nil
	case *rsa.PublicKey:
		if k == nil || k.N == nil || k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("%w: RSA key shorter than 2048 bits", ErrUnsupportedKey)
		}
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnsupportedKey, err)
		}
		id := sha256.Sum256(der)
		return id[:], nil
	}
	return nil, fmt.Errorf("%w: want an ML-KEM encapsulation key or *rsa.PublicKey, not %T", ErrUnsupportedKey, recipient)
}

// SealedTo checks a blob's framing (magic, scheme, length) without any key
// and returns the [KeyID] of the recipient it names. It is what a store of
// blobs it cannot open checks on upload. Errors wrap [ErrCorrupt] or
// [ErrTooLarge]. The returned slice aliases blob.
func SealedTo(blob []byte) ([]byte, error) {
	_, id, err := parse(blob)
	return id, err
}

func matchKey(pub crypto.PublicKey, want []byte) error {
	got, err := KeyID(pub)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return ErrWrongKey
	}
	return nil
}

func header(scheme byte, keyID []byte) []byte {
	h := make([]byte, 0, headerLen+2)
	h = append(h, magic...)
	h = append(h, scheme)
	return append(h, keyID...)
}

func parse(blob []byte) (scheme byte, keyID []byte, err error) {
	if len(blob) > MaxLen {
		return 0, nil, fmt.Errorf("%w: blob of %d bytes, at most %d", ErrTooLarge, len(blob), MaxLen)
	}
	switch {
	case len(blob) >= len(magic) && string(blob[:len(magic)]) != magic && string(blob[:len(magicFamily)]) == magicFamily:
		return 0, nil, unknownFormat("format version " + strconv.Quote(string(blob[:len(magic)])))
	case len(blob) < len(magic) || string(blob[:len(magic)]) != magic:
		return 0, nil, fmt.Errorf("%w: not a sealed blob", ErrCorrupt)
	case len(blob) < headerLen+2:
		return 0, nil, truncated()
	}
	scheme = blob[len(magic)]
	if scheme != schemeHPKE && scheme != schemeRSA && scheme != schemeRSADev {
		return 0, nil, unknownFormat("scheme " + strconv.Itoa(int(scheme)))
	}
	return scheme, blob[len(magic)+1 : headerLen], nil
}

func truncated() error { return fmt.Errorf("%w (%w)", ErrTruncated, ErrCorrupt) }

func unknownFormat(what string) error {
	return fmt.Errorf("%w: %s (%w)", ErrUnknownFormat, what, ErrCorrupt)
}

// encLen is the size of the KEM encapsulation HPKE puts before the
// ciphertext.
func encLen(kemID uint16) int {
	if kemID == hpkeMLKEM1024 {
		return mlkem.CiphertextSize1024
	}
	return mlkem.CiphertextSize768
}

func newGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("seal: AES-256 key: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("seal: GCM: " + err.Error())
	}
	return aead
}
