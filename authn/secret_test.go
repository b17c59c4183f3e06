package authn_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

func TestSecretNeverPrints(t *testing.T) {
	const plain = "cpk_plaintext-that-must-not-leak"
	s := authn.NewSecret(plain)
	issued := authn.IssuedAPIKey{APIKey: authn.APIKey{ID: "key_1", Role: authn.RoleService}, Key: s}

	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("msg", "secret", s, "issued", issued)
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("msg", "secret", s, "issued", issued)
	j, err := json.Marshal(issued)
	require.NoError(t, err)

	outputs := map[string]string{
		"String":   s.String(),
		"GoString": s.GoString(),
		"%v":       fmt.Sprintf("%v", s),
		"%+v":      fmt.Sprintf("%+v", s),
		"%#v":      fmt.Sprintf("%#v", s),
		"%s":       fmt.Sprintf("%s", s),
		"%q":       fmt.Sprintf("%q", s),
		"%x":       fmt.Sprintf("%x", s),
		"%X":       fmt.Sprintf("%X", s),
		"%d":       fmt.Sprintf("%d", s),
		"%10.3s":   fmt.Sprintf("%10.3s", s),
		"struct":   fmt.Sprintf("%v %+v %#v", issued, issued, issued),
		"pointer":  fmt.Sprintf("%v %+v", &issued, &issued),
		"slog":     logs.String(),
		"json":     string(j),
	}
	for name, out := range outputs {
		require.NotContains(t, out, "plaintext", name)
		require.NotContains(t, out, fmt.Sprintf("%x", plain), name)
		require.Contains(t, out, "[REDACTED]", name)
	}
	require.Equal(t, plain, s.Reveal())
}

func TestSecretEqual(t *testing.T) {
	require.True(t, authn.NewSecret("abc").Equal(authn.NewSecret("abc")))
	require.False(t, authn.NewSecret("abc").Equal(authn.NewSecret("abd")))
	require.False(t, authn.NewSecret("abc").Equal(authn.NewSecret("ab")))
	require.True(t, authn.Secret{}.IsZero())
}
