//go:build cgo

package pkcs11_test

import (
	"os"
	"testing"

	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/cryptoplug/cryptoplug/conformance"
)

// TestConformance runs the shared suite against a fresh SoftHSM2 token.
func TestConformance(t *testing.T) {
	report := new(conformance.Report)
	conformance.Run(t, conformance.OpenURI(softhsmtest.NewToken(t)), conformance.WithReport(report))
	if testing.Verbose() {
		report.Matrix(os.Stdout)
	}
}
