package backend_test

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
		in    string
		path  []backend.Attr
		query []backend.Attr
	}{
		{"software:", nil, nil},
		{"software:dir=/var/lib/keys?pin-source=env:KS_PASS",
			[]backend.Attr{{Name: "dir", Value: "/var/lib/keys", HasValue: true}},
			[]backend.Attr{{Name: "pin-source", Value: "env:KS_PASS", HasValue: true}}},
		{"pkcs11:token=My%20Token;object=web?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin",
			[]backend.Attr{{Name: "token", Value: "My Token", HasValue: true}, {Name: "object", Value: "web", HasValue: true}},
			[]backend.Attr{
				{Name: "module-path", Value: "/usr/lib/softhsm/libsofthsm2.so", HasValue: true},
				{Name: "pin-source", Value: "file:/run/pin", HasValue: true}}},
		{"tpm:simulator;dir=/tmp/k",
			[]backend.Attr{{Name: "simulator"}, {Name: "dir", Value: "/tmp/k", HasValue: true}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			u, err := backend.ParseURI(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.path, u.Path)
			require.Equal(t, tt.query, u.Query)
		})
	}
}

func TestParseURIBinaryID(t *testing.T) {
	u, err := backend.ParseURI("PKCS11:id=%01%0A%B2;;object=x")
	require.NoError(t, err)
	require.Equal(t, "pkcs11", u.Scheme, "scheme is case-insensitive")
	v, ok := u.Get("id")
	require.True(t, ok)
	require.Equal(t, "\x01\n\xb2", v, "RFC 7512 binary IDs decode to any bytes")
	require.Equal(t, "pkcs11:id=%01%0A%B2;object=x", u.Redacted(), "and are re-escaped when printed")
}

func TestParseURIRejects(t *testing.T) {
	tests := []struct{ name, in string }{
		{"no scheme", "token=a"},
		{"empty", ""},
		{"bad scheme", "1abc:x=y"},
		{"bad percent", "pkcs11:token=%zz"},
		{"truncated percent", "pkcs11:token=%4"},
		{"raw control", "pkcs11:token=a\nb"},
		{"duplicate path attribute", "pkcs11:token=a;token=b"},
		{"duplicate query attribute", "pkcs11:?pin-value=1&pin-value=2"},
		{"empty name", "pkcs11:=x"},
		{"same attribute in path and query", "software:dir=/a?dir=/b"},
		{"too long", "software:dir=" + strings.Repeat("a", 9000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := backend.ParseURI(tt.in)
			require.ErrorIs(t, err, backend.ErrInvalidInput)
		})
	}
}

func TestURIErrorsNeverHoldThePIN(t *testing.T) {
	for _, in := range []string{
		"pkcs11:token=a?pin-value=s3cr3t-pin&pin-value=s3cr3t-pin",
		"pkcs11:token=a?pin-value=s3cr3t-pin%zz",
		"pkcs11:token=a?pin-value=s3cr3t-pin&x=%zz",
	} {
		_, err := backend.ParseURI(in)
		require.Error(t, err)
		require.NotContains(t, err.Error(), "s3cr3t")
		require.NotContains(t, backend.RedactURI(in), "s3cr3t")
	}
}

func TestRedacted(t *testing.T) {
	u, err := backend.ParseURI("pkcs11:token=My%20Token;slot-id=1?pin-value=1234&module-path=/lib/x.so")
	require.NoError(t, err)
	require.Equal(t, "pkcs11:token=My%20Token;slot-id=1?pin-value=REDACTED&module-path=/lib/x.so", u.Redacted())
	require.Equal(t, u.Redacted(), u.String())
	// The redacted form parses back to the same non-secret attributes.
	again, err := backend.ParseURI(u.Redacted())
	require.NoError(t, err)
	require.Equal(t, u.Path, again.Path)
	require.Equal(t, "software:…", backend.RedactURI("software:dir=%zz?pin-value=1234"))
	require.Equal(t, "(malformed URI)", backend.RedactURI("1234"))
}

func TestCheckAttrs(t *testing.T) {
	u, err := backend.ParseURI("software:dir=/x?pin-sorce=env:A")
	require.NoError(t, err)
	err = u.CheckAttrs("dir", "pin-source", "pin-value")
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	require.Contains(t, err.Error(), `"pin-sorce"`)
	require.NoError(t, u.CheckAttrs("dir", "pin-sorce"))
	require.True(t, u.Has("dir"))
	require.False(t, u.Has("pin-source"))
}

func TestPINSources(t *testing.T) {
	dir := t.TempDir()
	pinFile := filepath.Join(dir, "pin")
	require.NoError(t, os.WriteFile(pinFile, []byte("file-pin\n"), 0o600))
	crlfFile := filepath.Join(dir, "pin-crlf")
	require.NoError(t, os.WriteFile(crlfFile, []byte("crlf-pin\r\n"), 0o600))
	t.Setenv("CRYPTOPLUG_TEST_PIN", "env-pin")

	tests := []struct {
		uri, want string
		ok        bool
	}{
		{"pkcs11:token=a?pin-source=file:" + pinFile, "file-pin", true},
		{"pkcs11:token=a?pin-source=file://" + pinFile, "file-pin", true},
		{"pkcs11:token=a?pin-source=" + crlfFile, "crlf-pin", true},
		{"pkcs11:token=a?pin-source=env:CRYPTOPLUG_TEST_PIN", "env-pin", true},
		{"pkcs11:token=a?pin-value=value-pin", "value-pin", true},
		{"pkcs11:token=a", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			u, err := backend.ParseURI(tt.uri)
			require.NoError(t, err)
			pin, ok, err := u.PIN()
			require.NoError(t, err)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.want, string(pin))
		})
	}
}

func TestPINSourceErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	t.Setenv("CRYPTOPLUG_TEST_PIN2", "x")
	for _, uri := range []string{
		"pkcs11:?pin-source=env:CRYPTOPLUG_TEST_PIN2&pin-value=y",
		"pkcs11:?pin-source=env:CRYPTOPLUG_TEST_UNSET_VARIABLE",
		"pkcs11:?pin-source=file:" + missing,
		"pkcs11:?pin-source=file:relative/path",
		"pkcs11:?pin-source=https://example.invalid/pin",
	} {
		u, err := backend.ParseURI(uri)
		require.NoError(t, err)
		_, ok, err := u.PIN()
		require.False(t, ok)
		require.ErrorIs(t, err, backend.ErrInvalidInput, uri)
	}
}

func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"software:", "software:dir=/x?pin-source=env:A", "pkcs11:token=a%20b;id=%01?module-path=/m.so&pin-value=1",
		"tpm:simulator;dir=/tmp", "pkcs11:;;?&&", "x:%", "a:b=c=d", "remote:https://h:1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := backend.ParseURI(s)
		if err != nil {
			require.ErrorIs(t, err, backend.ErrInvalidInput)
			return
		}
		// Whatever parses must survive a round trip through its redacted
		// form (secret values aside) and must never print a pin-value.
		again, err := backend.ParseURI(u.Redacted())
		require.NoError(t, err, "redacted form %q of %q must parse", u.Redacted(), s)
		require.Equal(t, u.Scheme, again.Scheme)
		require.Equal(t, len(u.Path), len(again.Path))
		require.Equal(t, len(u.Query), len(again.Query))
		for i, a := range u.Path {
			require.Equal(t, a.Name, again.Path[i].Name)
			if a.Name != "pin-value" && a.Name != "passphrase" && a.Name != "api-key" {
				require.Equal(t, a.Value, again.Path[i].Value)
			}
		}
		if v, ok := u.Get("pin-value"); ok && len(v) > 3 {
			require.NotContains(t, u.Redacted(), "pin-value="+v)
		}
	})
}

func TestFilePath(t *testing.T) {
	tests := []struct {
		uri, want string
		ok, fails bool
	}{
		{"tpm:dir=/var/lib/k/", "/var/lib/k", true, false},
		{"tpm:dir=/a/../b", "/b", true, false},
		{"tpm:simulator", "", false, false},
		{"tpm:dir=", "", true, true},
		{"tpm:dir=relative", "", true, true},
		{"tpm:dir=/k%0a", "", true, true},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			u, err := backend.ParseURI(tt.uri)
			require.NoError(t, err)
			got, ok, err := u.FilePath("dir")
			require.Equal(t, tt.ok, ok)
			if tt.fails {
				require.ErrorIs(t, err, backend.ErrInvalidInput)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
