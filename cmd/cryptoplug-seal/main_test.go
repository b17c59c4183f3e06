package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/scryptcost"
	"github.com/cryptoplug/cryptoplug/seal"
)

func store(t *testing.T, env string, keys map[string]backend.Algorithm) string {
	t.Helper()
	t.Setenv(env, "passphrase of "+env)
	uri := "software:dir=" + t.TempDir() + "?pin-source=env:" + env
	b, err := backend.Open(t.Context(), uri)
	require.NoError(t, err)
	defer b.Close()
	for label, alg := range keys {
		spec := backend.KeySpec{Algorithm: alg, Label: label}
		if alg.Decrypts() {
			spec.Usage = backend.UsageDecrypt
		}
		_, err := b.GenerateKey(t.Context(), spec)
		require.NoError(t, err)
	}
	return uri
}

func TestCommands(t *testing.T) {
	t.Cleanup(scryptcost.SetForTests(scryptcost.Min))
	by := store(t, "CP_SEAL_CMD_A", map[string]backend.Algorithm{"kem": backend.MLKEM768, "rsa": backend.RSA2048, "ec": backend.ECDSAP256})
	other := store(t, "CP_SEAL_CMD_B", map[string]backend.Algorithm{"kem": backend.MLKEM768})
	dir := t.TempDir()
	file := filepath.Join(dir, "pin.sealed")
	const secret = "1234-token-pin"

	tampered := filepath.Join(dir, "tampered.sealed")
	truncated := filepath.Join(dir, "truncated.sealed")
	steps := []struct {
		name  string
		args  []string
		stdin string
		code  int
		out   string
		setup func()
	}{
		{"seal", []string{"seal", "-by", by, "-key", "kem", file}, secret + "\n", exitOK, "source: sealed:", nil},
		{"seal again", []string{"seal", "-by", by, "-key", "kem", file}, "other", exitExists, "", nil},
		{"check", []string{"check", "-by", by, "-key", "kem", file}, "", exitOK, "HPKE ML-KEM-768", nil},
		{"inspect", []string{"inspect", file}, "", exitOK, "scheme: 1", nil},
		{"source", []string{"source", "-by", by, "-key", "kem", file}, "", exitOK, "in a URI: pin-source=sealed:", nil},
		{"another store's key", []string{"check", "-by", other, "-key", "kem", file}, "", exitWrongKey, "sealed to key ID", nil},
		{"no such key", []string{"check", "-by", by, "-key", "nope", file}, "", exitNotFound, "", nil},
		{"a signing key", []string{"seal", "-by", by, "-key", "ec", filepath.Join(dir, "x")}, secret, exitUnsupported, "", nil},
		{"tampered", []string{"check", "-by", by, "-key", "kem", tampered}, "", exitCorrupt, "tampered", func() {
			b, _ := os.ReadFile(file)
			blob, _ := seal.Dearmor(b)
			blob[len(blob)-1] ^= 1
			require.NoError(t, os.WriteFile(tampered, seal.Armor(blob), 0o600))
		}},
		{"truncated", []string{"check", "-by", by, "-key", "kem", truncated}, "", exitCorrupt, "truncated", func() {
			b, _ := os.ReadFile(file)
			require.NoError(t, os.WriteFile(truncated, b[:len(b)/2], 0o600))
		}},
		{"rotate a tampered file", []string{"rotate", "-by", by, "-key", "kem", "-to-key", "rsa", tampered}, "", exitCorrupt, "", nil},
		{"rotate", []string{"rotate", "-by", by, "-key", "kem", "-to-key", "rsa", "-keep-old", file}, "", exitOK, "RSA-OAEP-SHA-256", nil},
		{"check after rotate", []string{"check", "-by", by, "-key", "rsa", file}, "", exitOK, "scheme: 3", nil},
		{"empty secret", []string{"seal", "-by", by, "-key", "kem", filepath.Join(dir, "e")}, "\n", exitUsage, "empty", nil},
		{"no key", []string{"check", "-by", by, file}, "", exitUsage, "", nil},
		{"bad URI", []string{"check", "-by", "nonsense", "-key", "k", file}, "", exitUsage, "", nil},
		{"no command", nil, "", exitUsage, "", nil},
		{"unknown command", []string{"unseal", file}, "", exitUsage, "", nil},
	}
	for _, s := range steps {
		if s.setup != nil {
			s.setup()
		}
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), s.args, strings.NewReader(s.stdin), &stdout, &stderr)
		require.Equal(t, s.code, code, "%s: %s%s", s.name, stdout.String(), stderr.String())
		require.Contains(t, stdout.String()+stderr.String(), s.out, s.name)
		require.NotContains(t, stdout.String()+stderr.String(), secret, s.name)
	}
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run(context.Background(), []string{"unseal", "-by", by, "-key", "rsa", file}, nil, &stdout, &stderr), stderr.String())
	require.Equal(t, secret, stdout.String(), "unseal prints the secret, and only it")
	require.Equal(t, exitWrongKey, run(context.Background(), []string{"unseal", "-by", other, "-key", "kem", file + ".old"}, nil, &stdout, &stderr))

	got, err := backend.ReadSecret(t.Context(), backend.SealedSource{Path: file, By: by, Key: "rsa"}.String())
	require.NoError(t, err)
	require.Equal(t, secret, string(got), "one trailing newline dropped")
	require.FileExists(t, file+".old")
	require.NoFileExists(t, filepath.Join(dir, "x"))
}
