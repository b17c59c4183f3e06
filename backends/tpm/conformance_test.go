package tpm

import (
	"strings"
	"testing"

	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
	"github.com/cryptoplug/cryptoplug/conformance"
)

// conformanceOptions keep the suite within the test budget on a TPM,
// where an RSA signature costs about a millisecond.
func conformanceOptions(report *conformance.Report) []conformance.Option {
	return []conformance.Option{
		conformance.WithReport(report),
		conformance.WithSignatureBudget(600),
		conformance.WithConcurrency(8, 10),
	}
}

func logMatrix(t *testing.T, report *conformance.Report) {
	var b strings.Builder
	if err := report.Matrix(&b); err == nil {
		t.Logf("conformance matrix:\n%s", b.String())
	}
}

func TestConformanceSimulator(t *testing.T) {
	report := new(conformance.Report)
	conformance.Run(t, conformance.OpenURI("tpm:simulator;dir="+t.TempDir()), conformanceOptions(report)...)
	logMatrix(t, report)
}

func TestConformanceSwtpm(t *testing.T) {
	sw := swtpmtest.Start(t)
	report := new(conformance.Report)
	conformance.Run(t, conformance.OpenURI(sw.URI(t.TempDir())), conformanceOptions(report)...)
	logMatrix(t, report)
}
