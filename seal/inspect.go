package seal

import (
	"encoding/binary"
	"fmt"
)

// Info is what a blob's clear framing says: which scheme and algorithms
// sealed it, and to which key.
type Info struct {
	// Scheme is the blob's scheme number (1, 2 or 3; see the package
	// documentation).
	Scheme int
	// Algorithm names the key transport and the cipher, such as
	// "HPKE ML-KEM-768, HKDF-SHA256, AES-256-GCM" or
	// "RSA-OAEP-SHA1 (MGF1-SHA1, no label), AES-256-GCM".
	Algorithm string
	// KeyID is the recipient key's [KeyID].
	KeyID []byte
}

// Inspect reads a blob's framing without any key, as [SealedTo] does, and
// describes it. Nothing in Info is authenticated until [Open] succeeds; a
// tampered header makes Open fail. Errors are SealedTo's.
func Inspect(blob []byte) (Info, error) {
	scheme, id, err := parse(blob)
	if err != nil {
		return Info{}, err
	}
	info := Info{Scheme: int(scheme), KeyID: append([]byte(nil), id...)}
	rest := blob[headerLen:]
	switch scheme {
	case schemeHPKE:
		kem := "ML-KEM-768"
		if binary.BigEndian.Uint16(rest) == hpkeMLKEM1024 {
			kem = "ML-KEM-1024"
		}
		info.Algorithm = "HPKE " + kem + ", HKDF-SHA256, AES-256-GCM"
	case schemeRSA:
		info.Algorithm = "RSA-OAEP-SHA256 (header as label), AES-256-GCM"
	case schemeRSADev:
		hb := int(rest[0])
		if hb == 0 || hb >= len(oaepHashes) {
			return Info{}, unknownFormat(fmt.Sprintf("OAEP hash %d", hb))
		}
		h := oaepHashes[hb].String()
		info.Algorithm = "RSA-OAEP-" + h + " (MGF1-" + h + ", no label), AES-256-GCM"
	}
	return info, nil
}
