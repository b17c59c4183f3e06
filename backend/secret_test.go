package backend_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestSecretNeverPrints(t *testing.T) {
	s := backend.Secret("hunter2")
	for _, out := range []string{
		s.String(), fmt.Sprint(s), fmt.Sprintf("%s %v %+v %#v %q %x", s, s, s, s, s, s),
		fmt.Sprintf("%v", struct{ PIN backend.Secret }{s}),
	} {
		require.NotContains(t, out, "hunter2")
		require.NotContains(t, out, "68756e74657232") // hex
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("open", "pin", s)
	require.NotContains(t, buf.String(), "hunter2")
	require.Contains(t, buf.String(), "[REDACTED]")
	for _, v := range []any{s, struct{ PIN backend.Secret }{s}, map[string]backend.Secret{"pin": s}, []backend.Secret{s}} {
		out, err := json.Marshal(v)
		require.NoError(t, err)
		require.NotContains(t, string(out), "hunter2")
		require.NotContains(t, string(out), base64.StdEncoding.EncodeToString(s), "json.Marshal writes a []byte as base64")
		require.Contains(t, string(out), "[REDACTED]")
	}
	s.Wipe()
	require.Equal(t, make([]byte, 7), []byte(s))
}
