//go:build cgo

package pkcs11

import (
	"strings"

	"github.com/miekg/pkcs11"
)

// quirks are deviations from PKCS #11 that cannot be detected by asking the
// token, only known. Each one turns a silently wrong result into
// ErrUnsupported.
type quirks struct {
	// oaepIgnoresLabel: the token accepts CK_RSA_PKCS_OAEP_PARAMS with
	// source data and decrypts as if the label were empty (SoftHSM2 2.6:
	// a ciphertext made without a label "decrypts" under any label, one
	// made with a label never does). See rsaDecrypter.decrypt.
	oaepIgnoresLabel bool
}

func quirksFor(ti pkcs11.TokenInfo) quirks {
	softhsm := strings.HasPrefix(strings.TrimSpace(ti.ManufacturerID), "SoftHSM")
	return quirks{oaepIgnoresLabel: softhsm}
}
