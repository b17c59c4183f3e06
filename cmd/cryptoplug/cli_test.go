package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/require"
	"golang.org/x/perf/benchfmt"

	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
)

// commandPaths lists every command of the tree, as "keys generate".
func commandPaths() []string {
	var out []string
	var walk func(c *cobra.Command, prefix []string)
	walk = func(c *cobra.Command, prefix []string) {
		for _, sub := range c.Commands() {
			p := append(append([]string(nil), prefix...), sub.Name())
			out = append(out, strings.Join(p, " "))
			walk(sub, p)
		}
	}
	root := newApp(nil, io.Discard, io.Discard).rootCommand()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	walk(root, nil)
	return out
}

// --help and `help` work on every command and exit 0.
func TestHelpEverywhere(t *testing.T) {
	paths := commandPaths()
	require.Contains(t, paths, "keys generate")
	require.Contains(t, paths, "conformance report")
	require.Contains(t, paths, "completion bash")
	topics := map[string]bool{"exit-codes": true, "uris": true}
	for _, p := range append([]string{""}, paths...) {
		args := strings.Fields(p)
		r := run(t, append(args, "--help")...).ok(t)
		if !topics[p] {
			require.Contains(t, r.stdout, "Usage:", "cryptoplug %s --help", p)
			require.Contains(t, r.stdout, "cryptoplug "+p, "cryptoplug %s --help", p)
		}
		r = run(t, append([]string{"help"}, args...)...).ok(t)
		require.NotEmpty(t, r.stdout)
	}
	// No command at all shows the help, as git does.
	require.Contains(t, run(t).ok(t).stdout, "Usage:")
	// The help topics.
	require.Contains(t, run(t, "help", "exit-codes").ok(t).stdout, "conformance-fail")
	require.Contains(t, run(t, "help", "uris").ok(t).stdout, "pin-source=file:")
}

func TestCompletion(t *testing.T) {
	bash := run(t, "completion", "bash").ok(t).stdout
	require.Contains(t, bash, "cryptoplug")
	sh := writeFile(t, "cryptoplug.bash", []byte(bash), 0o644)
	tool(t, nil, "bash", "-n", sh) // bash parses it
	for _, shell := range []string{"zsh", "fish", "powershell"} {
		require.Contains(t, run(t, "completion", shell).ok(t).stdout, "cryptoplug", shell)
	}
	// The scripts call back into the binary: flag values complete too.
	r := run(t, "__complete", "keys", "generate", "software:", "--algorithm", "").ok(t)
	require.Contains(t, r.stdout, "ML-DSA-65")
	require.Contains(t, run(t, "__complete", "key").ok(t).stdout, "keys")
}

func TestVersion(t *testing.T) {
	r := run(t, "version").ok(t)
	require.True(t, strings.HasPrefix(r.stdout, "cryptoplug "), r.stdout)
	require.Equal(t, strings.SplitN(r.stdout, "\n", 2)[0]+"\n", run(t, "--version").ok(t).stdout)
	var bi buildInfo
	run(t, "version", "-o", "json").ok(t).jsonOut(t, &bi)
	require.ElementsMatch(t, []string{"pkcs11", "remote", "software", "tpm"}, bi.Backends)
	require.True(t, bi.Cgo)
	require.Contains(t, bi.Vectors, "built in", "the test binary carries the vectors")
}

// Exit codes scripts rely on, each from a real failure.
func TestExitCodes(t *testing.T) {
	tok := softhsmtest.Create(t)
	run(t, "keys", "generate", tok.URI, "-a", "ECDSA-P256", "-l", "k").ok(t)
	msg := writeFile(t, "msg", []byte("m"), 0o644)
	sig := filepath.Join(t.TempDir(), "sig")
	run(t, "sign", tok.URI, "-k", "k", "--in", msg, "--out", sig).ok(t)
	other := writeFile(t, "other", []byte("n"), 0o644)
	wrong := writeFile(t, "wrong", []byte("00000000"), 0o600)

	// A software keystore with a damaged key file.
	store, storeDir := newStore(t)
	run(t, "keys", "generate", store, "-a", "Ed25519", "-l", "fine").ok(t)
	require.NoError(t, os.WriteFile(filepath.Join(storeDir, "00ff.key"), []byte("not an age file"), 0o600))

	for _, tc := range []struct {
		name string
		args []string
		code int
	}{
		{"success", []string{"keys", "show", tok.URI, "-k", "k"}, exitOK},
		{"usage: unknown flag", []string{"keys", "list", tok.URI, "--bogus"}, exitUsage},
		{"usage: missing argument", []string{"sign"}, exitUsage},
		{"usage: unknown command", []string{"kyes"}, exitUsage},
		{"not found", []string{"keys", "show", tok.URI, "-k", "absent"}, exitNotFound},
		{"auth", []string{"keys", "list", strings.Replace(tok.URI, tok.PINFile, wrong, 1)}, exitAuth},
		{"unsupported", []string{"keys", "generate", tok.URI, "-a", "ML-KEM-768", "-l", "kem"}, exitUnsupported},
		{"exists", []string{"keys", "generate", tok.URI, "-a", "ECDSA-P256", "-l", "k"}, exitExists},
		{"bad signature", []string{"verify", tok.URI, "-k", "k", "--in", other, "-s", sig}, exitBadSig},
		{"corrupt", []string{"keys", "list", store}, exitCorrupt},
		{"timeout", []string{"keys", "list", tok.URI, "--timeout", "1ns"}, exitTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, tc.args...)
			if tc.code == exitOK {
				r.ok(t)
				return
			}
			r.fails(t, tc.code)
			// -o json gives the same code and a JSON error line.
			j := run(t, append(tc.args, "-o", "json")...)
			require.Equal(t, tc.code, j.code)
			var e struct {
				Error    string `json:"error"`
				ExitCode int    `json:"exit_code"`
				Kind     string `json:"kind"`
			}
			require.NoError(t, json.Unmarshal([]byte(j.stderr), &e), j.stderr)
			require.Equal(t, tc.code, e.ExitCode)
			require.Equal(t, exitKind(tc.code), e.Kind)
			require.True(t, strings.HasPrefix(e.Error, "cryptoplug"))
		})
	}
	// The damaged file is reported and the readable key still listed.
	r := run(t, "keys", "list", store)
	require.Contains(t, r.stdout, "fine")
	require.Contains(t, r.stderr, "00ff")
}

// `cryptoplug bench` measures what `make bench` measures, with the same
// baselines, in a format benchstat reads.
func TestBench(t *testing.T) {
	tok := softhsmtest.Create(t)
	for _, tc := range []struct {
		uri   string
		impls []string
	}{
		{"software:", []string{"backend", "baseline"}},
		{tok.URI, []string{"backend", "baseline", "crypto11"}},
	} {
		r := run(t, "bench", tc.uri, "--algorithms", "ECDSA-P256", "-p", "1", "--benchtime", "20x", "--generate", "off").ok(t)
		rd := benchfmt.NewReader(bytes.NewReader([]byte(r.stdout)), "bench")
		var impls []string
		for rd.Scan() {
			switch rec := rd.Result(); rec := rec.(type) {
			case *benchfmt.Result:
				name := string(rec.Name.Full())
				require.Contains(t, name, "op=Sign/alg=ECDSA-P256/impl=")
				impl := name[strings.Index(name, "impl=")+5 : strings.Index(name, "/p=")]
				impls = append(impls, impl)
				require.Equal(t, 20, rec.Iters)
			case *benchfmt.SyntaxError:
				t.Fatalf("benchstat cannot read: %v\n%s", rec, r.stdout)
			}
		}
		require.NoError(t, rd.Err())
		require.Equal(t, tc.impls, impls, tc.uri)
	}
	// The token is as before: the run's keys are gone.
	require.Empty(t, listKeys(t, tok.URI))
	wrong := writeFile(t, "wrong", []byte("00000000"), 0o600)
	run(t, "bench", strings.Replace(tok.URI, tok.PINFile, wrong, 1), "--algorithms", "ECDSA-P256", "-p", "1", "--benchtime", "1x").
		fails(t, exitAuth, "authentication failed")
	// benchstat itself reads it, where a Go toolchain is present.
	out := run(t, "bench", "software:", "--algorithms", "Ed25519", "-p", "1", "--benchtime", "10x", "--generate", "off").ok(t).stdout
	f := writeFile(t, "bench.txt", []byte(out), 0o644)
	cmd := exec.Command("go", "tool", "benchstat", "-col", "/impl", f)
	b, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", b)
	require.Contains(t, string(b), "baseline")
}

// Every scheme the software backend offers, through the binary: the
// schemes SoftHSM2 and TPMs lack (Ed448, Ed448ph, Ed25519ctx/ph, ML-DSA
// with contexts), and keys openssl made, imported.
func TestEverySchemeOnSoftware(t *testing.T) {
	store, _ := newStore(t)
	msg := writeFile(t, "msg", []byte("post-quantum release\n"), 0o644)
	for label, alg := range map[string]string{"ed448": "Ed448", "mldsa": "ML-DSA-87", "ed": "Ed25519"} {
		run(t, "keys", "generate", store, "-a", alg, "-l", label).ok(t)
	}
	// An Ed448 key openssl made: its signatures verify with openssl.
	keyPEM := tool(t, nil, "openssl", "genpkey", "-algorithm", "ed448")
	runWith(t, runOpts{stdin: keyPEM}, "keys", "import", store, "-l", "ossl448").ok(t)
	pub := writeFile(t, "pub.pem", []byte(tool(t, []byte(keyPEM), "openssl", "pkey", "-pubout")), 0o644)
	sig := filepath.Join(t.TempDir(), "sig")
	run(t, "sign", store, "-k", "ossl448", "--in", msg, "--out", sig).ok(t)
	tool(t, nil, "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msg, "-sigfile", sig)
	want, err := os.ReadFile(pub)
	require.NoError(t, err)
	require.Equal(t, string(want), run(t, "pubkey", store, "-k", "ossl448").ok(t).stdout, "cryptoplug writes Ed448 public keys as openssl does")

	for _, tc := range []struct {
		key   string
		flags []string
	}{
		{"ed448", nil},
		{"ed448", []string{"--context", "firmware"}},
		{"ed448", []string{"--scheme", "Ed448ph", "--context-hex", "0001"}},
		{"mldsa", nil},
		{"mldsa", []string{"--context", "release-v2"}},
		{"ed", []string{"--scheme", "Ed25519ctx", "--context", "x"}},
		{"ed", []string{"--scheme", "Ed25519ph"}},
	} {
		t.Run(tc.key+" "+strings.Join(tc.flags, " "), func(t *testing.T) {
			dir := t.TempDir()
			sig, pub := filepath.Join(dir, "sig"), filepath.Join(dir, "pub")
			run(t, append([]string{"sign", store, "-k", tc.key, "--in", msg, "--out", sig}, tc.flags...)...).ok(t)
			run(t, "pubkey", store, "-k", tc.key, "--out", pub).ok(t)
			run(t, append([]string{"verify", "--pubkey", pub, "--in", msg, "-s", sig}, tc.flags...)...).ok(t)
			if len(tc.flags) > 0 { // the context or prehash is part of what is verified
				run(t, "verify", "--pubkey", pub, "--in", msg, "-s", sig).fails(t, exitBadSig)
			}
		})
	}
}
