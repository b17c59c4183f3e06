//go:build cgo

package pkcs11

import (
	"sync"
	"sync/atomic"
)

// quirks are deviations from PKCS #11 that a token's mechanism list does not
// reveal. Each is learned from the token's behaviour — a probe the first
// time it matters, or the first refusal — never from its manufacturer or
// model, so that the next token with the same defect is handled too. Each
// turns what would be a wrong result or a needless failure into a correct
// result or ErrUnsupported.
type quirks struct {
	// oaep holds, per OAEP parameter combination, whether the token
	// decrypts it correctly, once checkOAEP has tried it.
	oaepMu    sync.RWMutex
	oaep      map[oaepParams]error
	oaepProbe sync.Mutex // one OAEP self-test at a time

	// pssHashSaltOnly: the token refused PSS with the largest salt and
	// signed with a salt as long as the hash (tpm2-pkcs11: the TPM fixes
	// the salt). See signPSS.
	pssHashSaltOnly atomic.Bool
}
