package pkcs11

import (
	"strings"
	"testing"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	const mod = "/usr/lib/softhsm/libsofthsm2.so"
	t.Setenv("CP_TEST_PIN", "1234")
	tests := []struct {
		name string
		uri  string
		want Config // uri field ignored
		err  string
	}{
		{name: "rfc 7512 query module-path", uri: "pkcs11:token=signing?module-path=" + mod + "&pin-source=file:/etc/pin",
			want: Config{ModulePath: mod, Token: "signing", MaxSessions: DefaultMaxSessions(), Timeout: backend.DefaultTimeout}},
		{name: "module-path in the path (step-kms-plugin)", uri: "pkcs11:module-path=" + mod + ";token=signing",
			want: Config{ModulePath: mod, Token: "signing", MaxSessions: DefaultMaxSessions(), Timeout: backend.DefaultTimeout}},
		{name: "serial and slot-id", uri: "pkcs11:serial=abc123;slot-id=42?module-path=" + mod,
			want: Config{ModulePath: mod, Serial: "abc123", SlotID: 42, HasSlotID: true, MaxSessions: DefaultMaxSessions(), Timeout: backend.DefaultTimeout}},
		{name: "percent-encoded label and narrowing attributes", uri: "pkcs11:token=my%20token;manufacturer=SoftHSM%20project;model=SoftHSM%20v2?module-path=" + mod,
			want: Config{ModulePath: mod, Token: "my token", Manufacturer: "SoftHSM project", Model: "SoftHSM v2", MaxSessions: DefaultMaxSessions(), Timeout: backend.DefaultTimeout}},
		{name: "max-sessions and timeout", uri: "pkcs11:token=t?module-path=" + mod + "&max-sessions=3&timeout=1500ms&pin-value=1234",
			want: Config{ModulePath: mod, Token: "t", MaxSessions: 3, Timeout: 1500 * time.Millisecond}},
		{name: "key attributes accepted", uri: "pkcs11:token=t;object=web;id=%01%02;type=private?module-path=" + mod + "&pin-source=env:CP_TEST_PIN",
			want: Config{ModulePath: mod, Token: "t", MaxSessions: DefaultMaxSessions(), Timeout: backend.DefaultTimeout}},
		{name: "no module", uri: "pkcs11:token=t", err: "module-path is required"},
		{name: "no token", uri: "pkcs11:?module-path=" + mod, err: "token=, serial= or slot-id="},
		{name: "unknown attribute", uri: "pkcs11:token=t?module-path=" + mod + "&pin-sorce=file:/x", err: `unknown attribute "pin-sorce"`},
		{name: "wrong scheme", uri: "tpm:token=t?module-path=" + mod, err: "want a pkcs11: URI"},
		{name: "bad slot-id", uri: "pkcs11:slot-id=x?module-path=" + mod, err: "slot-id must be a decimal number"},
		{name: "max-sessions zero", uri: "pkcs11:token=t?module-path=" + mod + "&max-sessions=0", err: "max-sessions must be 1 to"},
		{name: "max-sessions huge", uri: "pkcs11:token=t?module-path=" + mod + "&max-sessions=100000", err: "max-sessions must be 1 to"},
		{name: "bad timeout", uri: "pkcs11:token=t?module-path=" + mod + "&timeout=soon", err: "timeout must be a positive"},
		{name: "negative timeout", uri: "pkcs11:token=t?module-path=" + mod + "&timeout=-1s", err: "timeout must be a positive"},
		{name: "bad type", uri: "pkcs11:token=t;type=cert?module-path=" + mod, err: "type must be private or public"},
		{name: "duplicate attribute", uri: "pkcs11:token=a;token=b?module-path=" + mod, err: "appears twice"},
		{name: "bad id encoding", uri: "pkcs11:token=t;id=%zz?module-path=" + mod, err: `attribute "id"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig(tt.uri)
			if tt.err != "" {
				require.ErrorIs(t, err, backend.ErrInvalidInput)
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			c.uri = nil
			require.Equal(t, tt.want, *c)
		})
	}
}

func TestConfigNeverShowsPIN(t *testing.T) {
	c, err := ParseConfig("pkcs11:token=t?module-path=/m.so&pin-value=s3cr3t-pin")
	require.NoError(t, err)
	require.NotContains(t, c.Redacted(), "s3cr3t-pin")
	pin, ok, err := c.PIN()
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "s3cr3t-pin", string(pin))

	_, err = ParseConfig("pkcs11:token=t?module-path=/m.so&pin-value=s3cr3t-pin&bogus=1")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cr3t-pin")
}

func TestKeyRefFromURI(t *testing.T) {
	tests := []struct {
		uri  string
		want backend.KeyRef
		err  string
	}{
		{uri: "pkcs11:object=web", want: backend.KeyRef{Label: "web"}},
		{uri: "pkcs11:id=%01%02%ff", want: backend.KeyRef{ID: backend.KeyID{1, 2, 0xff}}},
		{uri: "pkcs11:token=t;object=my%20key;id=%00%0a;type=private?module-path=/m.so&pin-source=env:X",
			want: backend.KeyRef{Label: "my key", ID: backend.KeyID{0, 0x0a}}},
		{uri: "pkcs11:id=abc", want: backend.KeyRef{ID: backend.KeyID("abc")}},
		{uri: "pkcs11:token=t", err: "neither an ID nor a label"},
		{uri: "pkcs11:id=", err: "id must be 1 to"},
		{uri: "pkcs11:id", err: "id must be 1 to"},
		{uri: "pkcs11:id=" + strings.Repeat("%01", 65), err: "id must be 1 to"},
		{uri: "pkcs11:object=x;type=secret-key", err: "type must be private or public"},
		{uri: "pkcs11:object=x;colour=red", err: `unknown attribute "colour"`},
		{uri: "software:object=x", err: "want a pkcs11: key URI"},
		{uri: "pkcs11:object=a%0ab", err: "control character"},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			ref, err := KeyRefFromURI(tt.uri)
			if tt.err != "" {
				require.ErrorIs(t, err, backend.ErrInvalidInput)
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, ref)
		})
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=t?module-path=/m.so&pin-source=file:/p&max-sessions=3",
		"pkcs11:module-path=/m.so;serial=1;slot-id=2;object=k;id=%01",
		"pkcs11:token=a%20b?module-path=/m.so&timeout=1s&pin-value=x",
		"pkcs11:id=%zz", "pkcs11:", ":", "pkcs11:;;??&&==",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConfig(s)
		if err != nil {
			require.ErrorIs(t, err, backend.ErrInvalidInput)
			return
		}
		require.NotEmpty(t, c.ModulePath)
		require.True(t, c.Token != "" || c.Serial != "" || c.HasSlotID)
		require.True(t, c.MaxSessions >= 1 && c.MaxSessions <= MaxSessionsLimit)
		require.Positive(t, c.Timeout)
		if v, ok := c.uri.Get("pin-value"); ok && len(v) >= 4 {
			require.NotContains(t, c.Redacted(), "pin-value="+v)
		}
		// Whatever parses as a backend URI also yields a key ref or a clean error.
		if _, err := KeyRefFromURI(s); err != nil {
			require.ErrorIs(t, err, backend.ErrInvalidInput)
		}
	})
}
