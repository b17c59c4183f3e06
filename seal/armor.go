package seal

import (
	"bytes"
	"encoding/pem"
	"fmt"
)

// ArmorType is the PEM block type [Armor] writes: a sealed blob as text, so
// that a sealed file survives copy and paste, configuration management and
// a look with less, and so that a file cut short is told apart from one
// tampered with (its END line is missing).
const ArmorType = "CRYPTOPLUG SEALED SECRET"

// MaxArmoredLen bounds what [Dearmor] reads: the base64 of a [MaxLen] blob
// with its line breaks and PEM lines.
const MaxArmoredLen = MaxLen/3*4 + MaxLen/48 + 256

// Armor returns blob as a PEM block of type [ArmorType]. It does not check
// the blob.
func Armor(blob []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: ArmorType, Bytes: blob})
}

var (
	armorBegin = []byte("-----BEGIN " + ArmorType + "-----")
	armorEnd   = []byte("-----END " + ArmorType + "-----")
)

// Dearmor returns the blob in data, which is either one PEM block of type
// [ArmorType] (what [Armor] writes; surrounding white space is allowed) or
// a raw blob as [Seal] returns it. The blob's framing is checked as by
// [SealedTo]. A block whose END line is missing wraps [ErrTruncated]; any
// other malformed armor, another PEM type or text around the block wraps
// [ErrCorrupt]; more than [MaxArmoredLen] bytes wrap [ErrTooLarge]. The
// returned slice does not alias data.
func Dearmor(data []byte) ([]byte, error) {
	if len(data) > MaxArmoredLen {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(data), MaxArmoredLen)
	}
	if bytes.HasPrefix(data, []byte(magicFamily)) {
		blob := bytes.Clone(data)
		if _, _, err := parse(blob); err != nil {
			return nil, err
		}
		return blob, nil
	}
	trimmed := bytes.TrimSpace(data)
	switch {
	case !bytes.HasPrefix(trimmed, []byte("-----BEGIN ")):
		return nil, fmt.Errorf("%w: neither a sealed blob nor a %q PEM block", ErrCorrupt, ArmorType)
	case !bytes.HasPrefix(trimmed, armorBegin):
		return nil, unknownFormat("a PEM block of another type")
	case !bytes.Contains(trimmed, armorEnd):
		return nil, truncated()
	}
	block, rest := pem.Decode(trimmed)
	if block == nil || block.Type != ArmorType || len(rest) != 0 || len(block.Headers) != 0 {
		return nil, fmt.Errorf("%w: malformed %q PEM block", ErrCorrupt, ArmorType)
	}
	if _, _, err := parse(block.Bytes); err != nil {
		return nil, err
	}
	return block.Bytes, nil
}
