package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
	"github.com/cryptoplug/cryptoplug/conformance"
)

// cleanMachine is a directory holding only a copy of the binary, and an
// environment with no Go toolchain in it: what an operator has on the
// machine with the HSM.
type cleanMachine struct {
	dir, bin, tmp string
	env           []string
}

func newCleanMachine(t *testing.T) *cleanMachine {
	t.Helper()
	m := &cleanMachine{dir: t.TempDir(), tmp: t.TempDir()}
	m.bin = filepath.Join(m.dir, "cryptoplug")
	src, err := os.Open(bin(t))
	require.NoError(t, err)
	defer src.Close()
	dst, err := os.OpenFile(m.bin, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	require.NoError(t, err)
	_, err = io.Copy(dst, src)
	require.NoError(t, err)
	require.NoError(t, dst.Close())

	const path = "/usr/bin:/bin"
	m.env = []string{"PATH=" + path, "HOME=" + m.dir, "TMPDIR=" + m.tmp, "LANG=C"}
	if conf := os.Getenv("SOFTHSM2_CONF"); conf != "" { // the test token's private configuration
		m.env = append(m.env, "SOFTHSM2_CONF="+conf)
	}
	for _, d := range strings.Split(path, ":") {
		_, err := os.Stat(filepath.Join(d, "go"))
		require.ErrorIs(t, err, os.ErrNotExist, "a go command in %s: the clean machine must have none", d)
	}
	for _, kv := range m.env {
		require.False(t, strings.HasPrefix(kv, "GO"), "no Go variable (GOROOT, GOPATH, GOFLAGS…) in the clean environment")
	}
	return m
}

func (m *cleanMachine) run(t *testing.T, args ...string) result {
	t.Helper()
	return runWith(t, runOpts{env: m.env, dir: m.dir, bin: m.bin}, args...)
}

// files lists what the machine's directory holds.
func (m *cleanMachine) files(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(m.dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// checkRun checks a conformance run's output against its report: the same
// matrix `make conformance` prints, from the same results.
func checkRun(t *testing.T, m *cleanMachine, r result, reportName string) *conformance.Report {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(m.dir, reportName))
	require.NoError(t, err)
	rep := new(conformance.Report)
	require.NoError(t, json.Unmarshal(b, rep))
	var want strings.Builder
	require.NoError(t, rep.Matrix(&want))
	require.Equal(t, want.String(), r.stdout, "the printed matrix is the report's")
	require.NotContains(t, string(b), "REDACTED", "the URI named a pin-source, not a PIN")
	return rep
}

// The acceptance test: on a machine with only the binary and
// SoftHSM2 — no Go toolchain — `cryptoplug conformance` prints the matrix,
// writes the report and exits 0 when no check FAILs; the same on the TPM
// simulator. The known-answer checks run on the vectors the binary carries.
func TestConformanceWithTheBinaryAlone(t *testing.T) {
	tok := softhsmtest.Create(t) // first: it sets SOFTHSM2_CONF, which the clean machine keeps
	m := newCleanMachine(t)

	t.Run("SoftHSM2", func(t *testing.T) {
		r := m.run(t, "conformance", tok.URI, "--algorithms", "ECDSA-P256,Ed25519", "--budget", "small", "--report", "softhsm.json", "--progress", "lines").ok(t)
		require.True(t, strings.HasPrefix(r.stdout, "conformance matrix for pkcs11:token="+tok.Label), r.stdout)
		require.Regexp(t, `(?m)^conformance: \[\d+/\d+\] sign-ecdsa-sha256: .*, about \S+ left$`, r.stderr, "--progress lines: a line per check on standard error")
		rep := checkRun(t, m, r, "softhsm.json")
		require.Empty(t, rep.Failures())
		require.Equal(t, backend.RedactURI(tok.URI), rep.Backend())
		for _, cell := range [][2]string{
			{"wycheproof-ecdsa-p1363", "ECDSA-P256"}, // Wycheproof, from the binary
			{"kat-eddsa", "Ed25519"},                 // Go's Ed25519 vectors, from the binary
			{"sign-ecdsa-sha256", "ECDSA-P256"},
			{"tls13-server", "Ed25519"},
		} {
			res, ok := rep.Lookup(cell[0], cell[1])
			require.True(t, ok, "%s/%s", cell[0], cell[1])
			require.Equal(t, conformance.StatusPass, res.Status, "%s/%s: %s", cell[0], cell[1], res.Detail)
		}
		// The suite cleaned up after itself: no key of its own on the token.
		for _, k := range listKeys(t, tok.URI) {
			require.False(t, strings.HasPrefix(k.Label, conformance.LabelPrefix), "left behind: %s", k.Label)
		}
	})

	t.Run("TPM simulator", func(t *testing.T) {
		uri := "tpm:simulator;dir=" + filepath.Join(m.dir, "tpmkeys")
		r := m.run(t, "conformance", uri, "--algorithms", "ECDSA-P256", "--budget", "small", "--report", "tpm.json").ok(t)
		rep := checkRun(t, m, r, "tpm.json")
		require.Empty(t, rep.Failures())
		res, ok := rep.Lookup("sign-ecdsa-sha256", "ECDSA-P256")
		require.True(t, ok)
		require.Equal(t, conformance.StatusPass, res.Status, res.Detail)
		require.Equal(t, "tpm", rep.Info().Kind)
	})

	t.Run("swtpm", func(t *testing.T) {
		// What a machine without cgo (no simulator in the binary) runs.
		uri := swtpmtest.Start(t).URI(filepath.Join(m.tmp, "swtpmkeys"))
		r := m.run(t, "conformance", uri, "--algorithms", "ECDSA-P256", "--budget", "small", "--report", "swtpm.json").ok(t)
		rep := checkRun(t, m, r, "swtpm.json")
		require.Empty(t, rep.Failures())
		res, ok := rep.Lookup("sign-ecdsa-sha256", "ECDSA-P256")
		require.True(t, ok)
		require.Equal(t, conformance.StatusPass, res.Status, res.Detail)
		require.NoError(t, os.RemoveAll(filepath.Join(m.tmp, "swtpmkeys")))
	})

	t.Run("a FAIL exits 8", func(t *testing.T) {
		// A check bound too short for any token to meet, as on a hung
		// HSM: the suite cannot even open the token in time.
		r := m.run(t, "conformance", tok.URI, "--algorithms", "ECDSA-P256", "--budget", "small",
			"--check-timeout", "1ns", "--report", "fail.json")
		line := r.fails(t, exitConfFail, "FAILed", "pkcs11:token="+tok.Label)
		rep := checkRun(t, m, result{stdout: r.stdout}, "fail.json")
		require.NotEmpty(t, rep.Failures())
		require.Contains(t, line, "of "+strconv.Itoa(len(rep.Results()))+" results FAILed")
	})

	t.Run("bad --progress", func(t *testing.T) {
		m.run(t, "conformance", tok.URI, "--progress", "fancy", "--report", "never.json").fails(t, exitUsage, `--progress "fancy"`)
	})

	t.Run("reports rendered", func(t *testing.T) {
		md := m.run(t, "conformance", "report", "--format", "md", "fail.json").ok(t).stdout
		require.Contains(t, md, "# Conformance: a backend that could not be opened")
		require.Contains(t, md, "**FAIL**")
		require.Contains(t, md, "### open / backend")
		require.Contains(t, md, "context deadline exceeded")
		html := m.run(t, "conformance", "report", "--format", "html", "softhsm.json").ok(t).stdout
		require.Contains(t, html, `<span class="verdict PASS">PASS</span>`)
		require.Contains(t, html, "wycheproof-ecdsa-p1363")
	})

	// Nothing but the binary and the reports the runs were asked to write
	// is left on the machine; the vectors were extracted to TMPDIR and
	// removed.
	require.Equal(t, []string{"cryptoplug", "fail.json", "softhsm.json", "swtpm.json", "tpm.json", "tpmkeys"}, slices.Sorted(slices.Values(m.files(t))))
	left, err := os.ReadDir(m.tmp)
	require.NoError(t, err)
	require.Empty(t, left, "temporary files left in TMPDIR")
}
