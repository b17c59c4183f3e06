//go:build cgo

package pkcs11_test

import (
	"os"
	"testing"

	"github.com/cryptoplug/cryptoplug/backends/pkcs11/p11kittest"
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

// TestConformanceP11KitRPC runs the shared suite through p11-kit's RPC: a
// SoftHSM2 token exported by `p11-kit server` and reached through
// p11-kit-client.so, the network HSM the outage tests take away. The
// steady state over that transport must be as sound as over SoftHSM2
// directly. Every check runs; the budget is the suite's one for a network
// HSM (fewer signatures per search), which keeps the run near 30 s.
func TestConformanceP11KitRPC(t *testing.T) {
	srv := p11kittest.Start(t, softhsmtest.Create(t))
	conformance.Run(t, conformance.OpenURI(srv.URIWith("")), conformance.WithSmallBudget())
}
