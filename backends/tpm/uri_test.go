package tpm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestParseURI(t *testing.T) {
	tests := []struct {
		uri     string
		kind    transportKind
		path    string
		dir     string
		wantErr bool
	}{
		{uri: "tpm:device=/dev/tpmrm0;dir=/var/keys", kind: kindDevice, path: "/dev/tpmrm0", dir: "/var/keys"},
		{uri: "tpm:swtpm=/run/swtpm/sock;dir=/k", kind: kindSwtpm, path: "/run/swtpm/sock", dir: "/k"},
		{uri: "tpm:simulator;dir=/tmp/k", kind: kindSimulator, dir: "/tmp/k"},
		{uri: "TPM:simulator?dir=/tmp/k", kind: kindSimulator, dir: "/tmp/k"},
		{uri: "tpm:simulator;dir=/tmp/a%20b/", kind: kindSimulator, dir: "/tmp/a b"},
		{uri: "tpm:simulator;dir=/k;pin-source=env:OWNER", kind: kindSimulator, dir: "/k"},
		{uri: "tpm:simulator", wantErr: true},                         // no dir
		{uri: "tpm:dir=/k", wantErr: true},                            // no TPM
		{uri: "tpm:simulator;swtpm=/s;dir=/k", wantErr: true},         // two TPMs
		{uri: "tpm:simulator=yes;dir=/k", wantErr: true},              // flag with a value
		{uri: "tpm:device=;dir=/k", wantErr: true},                    // empty path
		{uri: "tpm:device=dev/tpm0;dir=/k", wantErr: true},            // relative device
		{uri: "tpm:simulator;dir=/k;pin-sorce=env:X", wantErr: true},  // typo
		{uri: "tpm:simulator;dir=/k;pin-value=secret", wantErr: true}, // secrets in URIs refused
		{uri: "tpm:simulator;dir=/k;dir=/j", wantErr: true},           // duplicate
		{uri: "pkcs11:simulator;dir=/k", wantErr: true},               // other scheme
		{uri: "tpm:simulator;dir=/k;pin-source=", wantErr: true},      // empty pin-source
		{uri: "tpm:simulator;dir=", wantErr: true},                    // empty dir
		{uri: "tpm:simulator;dir=/k%0a", wantErr: true},               // control character
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			c, err := parseURI(tt.uri)
			if tt.wantErr {
				require.ErrorIs(t, err, backend.ErrInvalidInput)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.kind, c.kind)
			require.Equal(t, tt.path, c.path)
			require.Equal(t, tt.dir, c.dir)
		})
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := testContext(t)
	_, err := backend.Open(ctx, "tpm:swtpm=/nonexistent/socket;dir="+t.TempDir())
	require.Error(t, err)
	require.Contains(t, err.Error(), "swtpm")

	pin := filepath.Join(t.TempDir(), "missing-pin")
	_, err = backend.Open(ctx, "tpm:simulator;dir="+t.TempDir()+";pin-source=file:"+pin)
	require.ErrorIs(t, err, backend.ErrInvalidInput)

	// The simulator's owner auth is empty: a non-empty one is refused.
	pinFile := filepath.Join(t.TempDir(), "pin")
	require.NoError(t, os.WriteFile(pinFile, []byte("wrong\n"), 0o600))
	_, err = backend.Open(ctx, "tpm:simulator;dir="+t.TempDir()+";pin-source=file:"+pinFile)
	require.ErrorIs(t, err, backend.ErrAuth)
	require.NotContains(t, err.Error(), "wrong")
}

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"tpm:device=/dev/tpmrm0;dir=/var/keys",
		"tpm:swtpm=/run/sock;dir=/k;pin-source=env:X",
		"tpm:simulator;dir=/tmp/k",
		"tpm:simulator?dir=%2Ftmp",
		"tpm:;;;",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := parseURI(s)
		if err != nil {
			require.ErrorIs(t, err, backend.ErrInvalidInput)
			return
		}
		require.Contains(t, []transportKind{kindDevice, kindSwtpm, kindSimulator}, c.kind)
		require.NotEmpty(t, c.dir)
		if c.kind != kindSimulator {
			require.True(t, filepath.IsAbs(c.path))
		}
		// A parsed URI round-trips through its redacted form.
		c2, err := parseURI(c.uri.Redacted())
		require.NoError(t, err)
		require.Equal(t, c.kind, c2.kind)
		require.Equal(t, c.path, c2.path)
		require.Equal(t, c.dir, c2.dir)
		require.False(t, strings.ContainsAny(c.dir, "\n\r"))
	})
}
