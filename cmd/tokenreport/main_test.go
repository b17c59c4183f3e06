package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// writeReport writes a conformance report as the suite's JSON.
func writeReport(t *testing.T, dir, name, version string, results []map[string]any) {
	t.Helper()
	rep := map[string]any{
		"backend": "pkcs11:token=x",
		"info":    map[string]any{"name": "pkcs11", "kind": "hsm", "manufacturer": "ACME | Corp", "model": "HSM\nOne", "firmware": "1.2"},
		"results": results,
	}
	b, err := json.Marshal(rep)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".json"), b, 0o600))
	if version != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".version"), []byte(version+"\n"), 0o600))
	}
}

func result(check, alg, status, fault, detail string) map[string]any {
	return map[string]any{"check": check, "algorithm": alg, "status": status, "fault": fault, "detail": detail,
		"expected": "an error", "got": "a plaintext", "seconds": 0.5}
}

func TestRender(t *testing.T) {
	dir := t.TempDir()
	writeReport(t, dir, "zeta", "", []map[string]any{
		result("capabilities", "backend", "pass", "", ""),
		result("generate", "ECDSA-P256", "pass", "", ""),
	})
	writeReport(t, dir, "alpha", "alpha-pkg 1.0-1", []map[string]any{
		result("capabilities", "backend", "pass", "", ""),
		result("generate", "RSA-2048", "pass", "", ""),
		result("generate", "ECDSA-P256", "unsupported", "", "backend does not claim ECDSA-P256"),
		result("decrypt-invalid", "RSA-2048", "fail", "store", "no zero separator: succeeded | oops"),
		result("wycheproof-pkcs1-decrypt", "RSA-2048", "fail", "", "tcId 1: wrong plaintext"),
		result("lifecycle", "RSA-2048", "fail", "cryptoplug", "leaked a key"),
		result("decrypt-oaep-sha256", "RSA-2048", "unsupported", "", "token refused OAEP SHA-256"),
		result("closed", "RSA-2048", "skip", "", "no key"),
	})
	require.NoError(t, os.WriteFile(filepath.Join(dir, "alpha.notes.md"), []byte("The token's *own* bug.\n"), 0o600))
	out := filepath.Join(t.TempDir(), "tokens.md")
	require.NoError(t, run(dir, out))
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	md := string(b)

	// Tokens in name order, each with its version and counts.
	require.Less(t, strings.Index(md, "\n## alpha\n"), strings.Index(md, "\n## zeta\n"))
	require.Contains(t, md, "| [alpha](#alpha) | alpha-pkg 1.0-1 | ACME \\| Corp | HSM One | 1.2 | 2 | 2 | 1 | 1 | 1 | 1 |")
	require.Contains(t, md, "| [zeta](#zeta) | – | ")
	require.Contains(t, md, "Debian package `alpha-pkg 1.0-1`.")

	// Every failure says whose it is; none is guessed.
	require.Contains(t, md, "| decrypt-invalid | RSA-2048 | the token's: it returned a wrong result | an error | a plaintext | no zero separator: succeeded \\| oops |")
	require.Contains(t, md, "| wycheproof-pkcs1-decrypt | RSA-2048 | unclassified (the report does not say) |")
	require.Contains(t, md, "| lifecycle | RSA-2048 | **cryptoplug's** |")
	require.Contains(t, md, "### Failures (3)")
	require.Contains(t, md, "### Failures (0)\n\nNone.")

	// The matrix has the claimed algorithms only; the rest are named.
	require.Contains(t, md, "| check | backend | RSA-2048 |\n")
	require.Contains(t, md, "| decrypt-invalid | · | **FAIL** |")
	require.Contains(t, md, "| closed | · | skip |")
	require.Contains(t, md, "Not claimed by the token (every check unsupported): ECDSA-P256.\n")
	require.NotContains(t, md, "| generate | · | pass | unsup |")
	// Hand-written notes are shown as such, for their token only.
	require.Contains(t, md, "### Analysis\n\nWritten by hand from the evidence above and the token's source (`docs/tokens/alpha.notes.md`); the fault column above is the report's own.\n\nThe token's *own* bug.\n")
	require.Equal(t, 1, strings.Count(md, "### Analysis"))
	// Refusals of claimed algorithms are explained.
	require.Contains(t, md, "| decrypt-oaep-sha256 | RSA-2048 | token refused OAEP SHA-256 |")
	require.NotContains(t, md, "| generate | ECDSA-P256 | backend does not claim")
}

func TestReadErrors(t *testing.T) {
	empty := t.TempDir()
	require.ErrorContains(t, run(empty, filepath.Join(empty, "x.md")), "no *.json reports")

	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "t.json"), []byte("{not json"), 0o600))
	require.ErrorContains(t, run(bad, filepath.Join(bad, "x.md")), "not a conformance report")

	none := t.TempDir()
	writeReport(t, none, "t", "", []map[string]any{})
	require.ErrorContains(t, run(none, filepath.Join(none, "x.md")), "holds no results")
}

// TestCommittedReport checks that docs/tokens.md is what this command makes
// of the reports committed beside it: the document was generated, not
// edited, and matches its inputs.
func TestCommittedReport(t *testing.T) {
	tokens, err := readDir("../../docs/tokens")
	require.NoError(t, err)
	md, err := render(tokens)
	require.NoError(t, err)
	committed, err := os.ReadFile("../../docs/tokens.md")
	require.NoError(t, err)
	require.Equal(t, string(committed), string(md), "docs/tokens.md is stale or edited: run make tokens-report (or go run ./cmd/tokenreport docs/tokens)")
	for _, tk := range tokens {
		require.NotEmpty(t, tk.version, "%s has no .version file", tk.name)
	}
}
