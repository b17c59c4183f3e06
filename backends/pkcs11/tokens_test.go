//go:build cgo

package pkcs11_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/opencryptokitest"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/tpm2pkcs11test"
	"github.com/cryptoplug/cryptoplug/conformance"
	"github.com/stretchr/testify/require"
)

// The reference results of each token are the conformance reports in
// docs/tokens, which `make tokens-report` writes by running TestTokenReport
// with -token-report-full for every token in tokens (cmd/tokenreport renders
// them as docs/tokens.md).
var (
	tokenReport     = flag.String("token-report", "", "run the conformance suite on this token (softhsm2, opencryptoki, tpm2-pkcs11) in TestTokenReport and write its report")
	tokenReportOut  = flag.String("token-report-out", "", "where TestTokenReport writes the JSON report (and, beside it, NAME.version with the Debian package)")
	tokenReportFull = flag.Bool("token-report-full", false, "TestTokenReport runs every algorithm with the suite's default budgets, as for docs/tokens")
)

// referenceDir holds the committed reference reports.
const referenceDir = "../../docs/tokens"

// token is a PKCS #11 implementation the suite is run on.
type token struct {
	name    string // file stem in docs/tokens
	pkg     string // its Debian package
	uri     func(t *testing.T) string
	lean    []backend.Algorithm         // the algorithms make test covers
	environ func(t *testing.T) []string // what a child process needs to reach the token
}

var tokens = []token{
	{
		name: "softhsm2", pkg: "softhsm2",
		uri:  func(t *testing.T) string { return softhsmtest.NewToken(t) },
		lean: []backend.Algorithm{backend.RSA2048, backend.ECDSAP256, backend.Ed25519},
	},
	{
		name: "opencryptoki", pkg: "opencryptoki",
		uri:  func(t *testing.T) string { return opencryptokitest.Shared(t).URI },
		lean: []backend.Algorithm{backend.RSA2048},
		// One pkcsslotd per machine: the child uses the parent's.
		environ: func(t *testing.T) []string { return []string{opencryptokitest.Shared(t).Environ()} },
	},
	{
		name: "tpm2-pkcs11", pkg: "libtpm2-pkcs11-1",
		uri:  func(t *testing.T) string { return tpm2pkcs11test.NewToken(t) },
		lean: []backend.Algorithm{backend.RSA2048, backend.ECDSAP256},
	},
}

func tokenNamed(t *testing.T, name string) token {
	for _, tk := range tokens {
		if tk.name == name {
			return tk
		}
	}
	t.Fatalf("unknown token %q", name)
	return token{}
}

// TestTokenReport runs the conformance suite on the token -token-report
// names and writes the report to -token-report-out. It does nothing without
// -token-report: it is run by `make tokens-report`, and by
// TestConformanceOpencryptoki and TestConformanceTPM2PKCS11 as a child
// process whose failures they judge against the reference.
func TestTokenReport(t *testing.T) {
	if *tokenReport == "" {
		return
	}
	require.NotEmpty(t, *tokenReportOut, "-token-report needs -token-report-out")
	tk := tokenNamed(t, *tokenReport)
	report := new(conformance.Report)
	opts := []conformance.Option{conformance.WithReport(report)}
	if !*tokenReportFull {
		opts = append(opts,
			conformance.WithAlgorithms(tk.lean...),
			conformance.WithSignatureBudget(300),
			conformance.WithConcurrency(8, 10),
			conformance.WithWycheproofLimit(24))
	}
	// Written however the suite ends, so that the reader sees every
	// result; a crash leaves no file.
	t.Cleanup(func() {
		b, err := json.MarshalIndent(report, "", "  ")
		if err == nil {
			err = os.WriteFile(*tokenReportOut, append(b, '\n'), 0o644)
		}
		if err == nil {
			err = writeVersion(tk, strings.TrimSuffix(*tokenReportOut, ".json")+".version")
		}
		if err != nil {
			t.Errorf("write the report: %v", err)
		}
	})
	conformance.Run(t, conformance.OpenURI(tk.uri(t)), opts...)
}

// writeVersion records the token's Debian package and version.
func writeVersion(tk token, path string) error {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Package} ${Version}", tk.pkg).Output()
	if err != nil {
		return fmt.Errorf("dpkg-query %s: %w", tk.pkg, err)
	}
	return os.WriteFile(path, append(bytes.TrimSpace(out), '\n'), 0o644)
}

// TestConformanceOpencryptoki runs the suite on opencryptoki's soft token
// and compares the results with its reference (see checkAgainstReference).
func TestConformanceOpencryptoki(t *testing.T) {
	checkAgainstReference(t, tokenNamed(t, "opencryptoki"))
}

// TestConformanceTPM2PKCS11 runs the suite on a tpm2-pkcs11 token over
// swtpm and compares the results with its reference.
func TestConformanceTPM2PKCS11(t *testing.T) { checkAgainstReference(t, tokenNamed(t, "tpm2-pkcs11")) }

// checkAgainstReference runs the suite on tk, with the lean options, in a
// child process — so that the run reaches its end whatever the token does,
// a crash included, and the token's known wrong answers do not fail this
// test by themselves — and then requires that:
//
//   - the run reached the end (it wrote its report);
//   - no result is a failure that is cryptoplug's fault;
//   - every failure is a failure in the reference too: a known wrong
//     answer of the token, named in docs/tokens.md;
//   - every other result (pass, unsupported, skip) is the reference's.
//
// A reference failure that now passes is reported but allowed: the lean
// run may not reach the vector the full run failed on.
func checkAgainstReference(t *testing.T, tk token) {
	ref := new(conformance.Report)
	b, err := os.ReadFile(filepath.Join(referenceDir, tk.name+".json"))
	require.NoError(t, err, "the reference report (make tokens-report writes it)")
	require.NoError(t, json.Unmarshal(b, ref))

	out := filepath.Join(t.TempDir(), tk.name+".json")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.CommandContext(ctx, exe, "-test.run=^TestTokenReport$", "-test.count=1", "-test.timeout=10m",
		"-token-report="+tk.name, "-token-report-out="+out)
	cmd.Env = os.Environ()
	if tk.environ != nil {
		cmd.Env = append(cmd.Env, tk.environ(t)...)
	}
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	runErr := cmd.Run() // fails when the token answers wrongly; judged below
	b, err = os.ReadFile(out)
	if err != nil {
		t.Fatalf("the conformance run on %s did not reach its end (%v): %v\n%s", tk.name, runErr, err, tail(log.String(), 8000))
	}
	got := new(conformance.Report)
	require.NoError(t, json.Unmarshal(b, got))
	require.NotEmpty(t, got.Results())

	var problems []string
	for _, res := range got.Results() {
		cell := res.Check + "/" + res.Algorithm
		want, ok := ref.Lookup(res.Check, res.Algorithm)
		switch {
		case res.Status == conformance.StatusFail && res.Fault == conformance.FaultCryptoplug:
			problems = append(problems, fmt.Sprintf("%s: FAIL that is cryptoplug's fault: %s", cell, res.Detail))
		case !ok:
			problems = append(problems, fmt.Sprintf("%s: %s, and not in the reference (run make tokens-report)", cell, res.Status))
		case res.Status == conformance.StatusFail && want.Status != conformance.StatusFail:
			problems = append(problems, fmt.Sprintf("%s: FAIL, the reference says %s: %s", cell, want.Status, res.Detail))
		case want.Status == conformance.StatusFail && res.Status == conformance.StatusPass:
			t.Logf("%s: passes here, fails in the full reference run (%s)", cell, want.Detail)
		case res.Status != want.Status:
			problems = append(problems, fmt.Sprintf("%s: %s, the reference says %s: %s", cell, res.Status, want.Status, res.Detail))
		}
	}
	var fails []string
	for _, res := range got.Failures() {
		fails = append(fails, res.Check+"/"+res.Algorithm)
	}
	t.Logf("%s: %d results, %d known token failures: %s", tk.name, len(got.Results()), len(fails), strings.Join(fails, ", "))
	if len(problems) > 0 {
		slices.Sort(problems)
		t.Errorf("%s differs from its reference:\n%s\nchild output:\n%s", tk.name, strings.Join(problems, "\n"), tail(log.String(), 8000))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
