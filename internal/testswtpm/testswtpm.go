// Package testswtpm is what the sealing tests (sealedfile, backends/remote,
// refserver) import for a real swtpm: it is [swtpmtest], under the name
// those tests already use. There is one swtpm test kit in this module,
// backends/tpm/swtpmtest; new tests should import it directly, and this
// package goes once its last importer has moved.
//
// Deprecated: use github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest.
package testswtpm

import (
	"testing"

	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
)

// TPM is a [swtpmtest.TPM].
type TPM = swtpmtest.TPM

// Start is [swtpmtest.Start] with no options: a fresh TPM state, stopped
// when the test ends; the test fails (never skips) when swtpm is missing.
func Start(tb testing.TB) *TPM {
	tb.Helper()
	return swtpmtest.Start(tb)
}
