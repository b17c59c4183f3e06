package conformance_test

import (
	"testing"

	_ "github.com/cryptoplug/cryptoplug/backends/tpm"
)

// The TPM backend on the in-process simulator (cgo builds), over a fresh
// key directory.
func init() {
	registerDefault(defaultBackend{
		name:  "tpm-simulator",
		setup: func(tb testing.TB) string { return "tpm:simulator;dir=" + tb.TempDir() },
	})
}
