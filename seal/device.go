package seal

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // OAEP hashes a token may insist on
	_ "crypto/sha512"
	"encoding/binary"
	"fmt"
)

// Scheme 3 is RSA-OAEP as TPMs and PKCS #11 tokens can do it: the OAEP hash
// is also the MGF1 hash (a TPM has no separate one) and the label is empty
// (a TPM takes only labels ending in a zero byte, SoftHSM2 ignores labels).
// The header, which scheme 2 binds through the OAEP label, is bound here
// through the GCM additional data, which covers every byte before the GCM
// ciphertext:
//
//	header | OAEP hash (1 byte) | wrapped key length (2) | wrapped key |
//	nonce (12) | GCM ciphertext length (2) | GCM ciphertext
//
// The ciphertext length tells a truncated blob from a tampered one.

// oaepHashes are the hashes scheme 3 names, by their byte in the blob.
var oaepHashes = [...]crypto.Hash{1: crypto.SHA1, 2: crypto.SHA256, 3: crypto.SHA384, 4: crypto.SHA512}

func oaepHashByte(h crypto.Hash) (byte, bool) {
	for i, x := range oaepHashes {
		if i > 0 && x == h {
			return byte(i), true
		}
	}
	return 0, false
}

func sealRSADevice(pub *rsa.PublicKey, id []byte, hash crypto.Hash, plaintext []byte) ([]byte, error) {
	hb, ok := oaepHashByte(hash)
	if !ok || !hash.Available() {
		return nil, fmt.Errorf("%w: OAEP hash %v; want SHA-1, SHA-256, SHA-384 or SHA-512", ErrUnsupportedKey, hash)
	}
	var dek [dataKeyLen]byte
	rand.Read(dek[:])
	defer clear(dek[:])
	wrapped, err := rsa.EncryptOAEP(hash.New(), rand.Reader, pub, dek[:], nil)
	if err != nil {
		return nil, fmt.Errorf("%w: rsa-oaep: %w", ErrUnsupportedKey, err)
	}
	var nonce [gcmNonceLen]byte
	rand.Read(nonce[:])
	out := header(schemeRSADev, id)
	out = append(out, hb)
	out = binary.BigEndian.AppendUint16(out, uint16(len(wrapped)))
	out = append(out, wrapped...)
	out = append(out, nonce[:]...)
	out = binary.BigEndian.AppendUint16(out, uint16(len(plaintext)+gcmTagLen))
	aad := bytes.Clone(out)
	return newGCM(dek[:]).Seal(out, nonce[:], plaintext, aad), nil
}

func openRSADevice(recipient any, id, blob []byte) ([]byte, error) {
	dec, ok := recipient.(crypto.Decrypter)
	if !ok {
		return nil, fmt.Errorf("%w: an RSA blob needs a crypto.Decrypter", ErrUnsupportedKey)
	}
	if err := matchKey(dec.Public(), id); err != nil {
		return nil, err
	}
	rest := blob[headerLen:]
	hb := int(rest[0])
	if hb == 0 || hb >= len(oaepHashes) {
		return nil, unknownFormat(fmt.Sprintf("OAEP hash %d", hb))
	}
	hash := oaepHashes[hb]
	rest = rest[1:]
	if len(rest) < 2 {
		return nil, truncated()
	}
	n := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if len(rest) < n+gcmNonceLen+2 {
		return nil, truncated()
	}
	wrapped, nonce := rest[:n], rest[n:n+gcmNonceLen]
	rest = rest[n+gcmNonceLen:]
	ctLen := int(binary.BigEndian.Uint16(rest))
	ct := rest[2:]
	switch {
	case len(ct) < ctLen:
		return nil, truncated()
	case len(ct) > ctLen || ctLen < gcmTagLen:
		return nil, ErrCorrupt
	}
	aad := blob[:len(blob)-len(ct)]
	dek, err := decryptDataKey(dec, wrapped, &rsa.OAEPOptions{Hash: hash, MGFHash: hash})
	if err != nil {
		return nil, err
	}
	defer clear(dek)
	pt, err := newGCM(dek).Open(nil, nonce, ct, aad)
	if err != nil {
		return nil, ErrCorrupt
	}
	return pt, nil
}
