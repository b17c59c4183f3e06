package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
)

// TestSwtpm drives the key commands against a real swtpm daemon, checking
// signatures and certificates with openssl.
func TestSwtpm(t *testing.T) {
	sw := swtpmtest.Start(t)
	keyDir := t.TempDir()
	uri := sw.URI(keyDir)
	dir := t.TempDir()
	msg := writeFile(t, "msg", []byte("measured boot log\n"), 0o644)

	r := run(t, "info", uri).ok(t)
	require.Contains(t, r.stdout, "kind:         tpm")
	var caps map[string][]string
	run(t, "capabilities", uri, "--json").ok(t).jsonOut(t, &caps)
	require.Contains(t, caps["ECDSA-P256"], "generate")
	require.Contains(t, caps["ECDSA-P256"], "import", "the TPM wraps an imported key under its SRK")

	run(t, "keys", "generate", uri, "-a", "ECDSA-P256", "-l", "attest").ok(t)
	run(t, "keys", "generate", uri, "-a", "RSA-2048", "-l", "rsa", "--usage", "sign,decrypt").ok(t)
	goodPEM := writeFile(t, "good.pem", []byte(tool(t, nil, "openssl", "genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256")), 0o600)
	run(t, "keys", "import", uri, "-l", "imported", "--in", goodPEM).ok(t)
	// The public key openssl derives from the file it made is the one the
	// signatures below verify under.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "imported.pub"), []byte(tool(t, nil, "openssl", "pkey", "-in", goodPEM, "-pubout")), 0o644))
	keys := listKeys(t, uri)
	require.ElementsMatch(t, []string{"attest", "rsa", "imported"}, keys.labels())
	for _, k := range keys {
		if k.Label == "rsa" {
			require.Equal(t, []string{"sign", "decrypt"}, k.Usage)
		}
	}
	// The keys are TSS2 key files in dir, as the backend documents.
	files, err := filepath.Glob(filepath.Join(keyDir, "*.tss2.pem"))
	require.NoError(t, err)
	require.Len(t, files, 3)

	for _, tc := range []struct {
		key   string
		flags []string
		dgst  []string
	}{
		{"attest", nil, []string{"-sha256"}},
		{"attest", []string{"--hash", "SHA-384"}, []string{"-sha384"}},
		{"imported", nil, []string{"-sha256"}},
		{"rsa", nil, []string{"-sha256"}},
		{"rsa", []string{"--scheme", "PSS"}, []string{"-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest"}},
	} {
		pub := filepath.Join(dir, tc.key+".pub")
		if _, err := os.Stat(pub); err != nil {
			run(t, "pubkey", uri, "-k", tc.key, "--out", pub).ok(t)
		}
		sig := filepath.Join(t.TempDir(), "sig")
		run(t, append([]string{"sign", uri, "-k", tc.key, "--in", msg, "--out", sig}, tc.flags...)...).ok(t)
		tool(t, nil, "openssl", append(append([]string{"dgst"}, tc.dgst...), "-verify", pub, "-signature", sig, msg)...)
		run(t, append([]string{"verify", uri, "-k", tc.key, "--in", msg, "-s", sig}, tc.flags...)...).ok(t)
	}

	var ki keyInfo
	run(t, "keys", "show", uri, "-k", "rsa", "-o", "json").ok(t).jsonOut(t, &ki)
	require.Equal(t, "RSA-2048", ki.Algorithm)
	require.Equal(t, []string{"sign", "decrypt"}, ki.Usage)

	// bench on the TPM: benchstat-shaped lines for the backend's own sign.
	b := run(t, "bench", uri, "--algorithms", "ECDSA-P256", "-p", "1", "--benchtime", "3x", "--generate", "off").ok(t)
	require.Regexp(t, `(?m)^Benchmark\S*op=Sign/alg=ECDSA-P256/impl=backend/p=1\S*\s+3\s+\d+ ns/op`, b.stdout)

	var pj struct {
		Key, Format string
		PublicKey   jwk `json:"public_key"`
	}
	run(t, "pubkey", uri, "-k", "attest", "-f", "jwk", "-o", "json").ok(t).jsonOut(t, &pj)
	require.Equal(t, "attest", pj.Key)
	require.Equal(t, "P-256", pj.PublicKey.Crv)

	crt := filepath.Join(dir, "attest.crt")
	run(t, "selfsign", uri, "-k", "attest", "--subject", "CN=tpm test", "--out", crt).ok(t)
	require.Contains(t, tool(t, nil, "openssl", "verify", "-CAfile", crt, crt), ": OK")
	csr := filepath.Join(dir, "rsa.csr")
	run(t, "csr", uri, "-k", "rsa", "--subject", "CN=tpm rsa", "--rsa-pss", "--out", csr).ok(t)
	require.Contains(t, tool(t, nil, "openssl", "req", "-in", csr, "-noout", "-verify"), "verify OK")

	// Bad input: one clear line, a non-zero exit, nothing changed.
	before := listKeys(t, uri)
	wrongAuth := writeFile(t, "owner", []byte("not the owner password\n"), 0o600)
	badPEM := writeFile(t, "bad.pem", []byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"), 0o600)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"unknown URI attribute", []string{"keys", "generate", uri + ";drir=/tmp", "-a", "ECDSA-P256", "-l", "new"}, exitUsage, []string{`unknown attribute "drir"`}},
		{"wrong owner authorization", []string{"keys", "generate", uri + ";pin-source=file:" + wrongAuth, "-a", "ECDSA-P256", "-l", "new"}, exitAuth, []string{"authentication failed"}},
		{"missing key", []string{"pubkey", uri, "-k", "nope"}, exitNotFound, []string{"nope", "not found"}},
		{"malformed PEM", []string{"keys", "import", uri, "-l", "new", "--in", badPEM}, exitUsage, []string{"malformed SEC 1"}},
		{"import under a label in use", []string{"keys", "import", uri, "-l", "rsa", "--in", goodPEM}, exitExists, []string{"rsa"}},
		{"algorithm the TPM lacks", []string{"keys", "generate", uri, "-a", "Ed25519", "-l", "new"}, exitUnsupported, []string{"new"}},
		{"no such socket", []string{"keys", "list", "tpm:swtpm=" + filepath.Join(dir, "nosock") + ";dir=" + keyDir}, exitFailure, []string{"nosock"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line := run(t, tc.args...).fails(t, tc.code, tc.want...)
			require.NotContains(t, line, "not the owner password")
		})
	}
	require.Equal(t, before, listKeys(t, uri), "bad input changed nothing")

	run(t, "keys", "delete", uri, "-k", "attest", "-y").ok(t)
	require.ElementsMatch(t, []string{"rsa", "imported"}, listKeys(t, uri).labels())
	files, err = filepath.Glob(filepath.Join(keyDir, "*.tss2.pem"))
	require.NoError(t, err)
	require.Len(t, files, 2, "the deleted key's file is gone")
}
