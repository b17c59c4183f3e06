//go:build cgo

package bench_test

import (
	"testing"

	_ "github.com/cryptoplug/cryptoplug/backends/tpm"
)

// The in-process TPM simulator, with key files in a temporary directory.
func init() {
	registerDefault(defaultBackend{
		name:  "tpm",
		setup: func(tb testing.TB) string { return "tpm:simulator;dir=" + tb.TempDir() },
	})
}
