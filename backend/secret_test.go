package backend_test

import (
	"bytes"
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
	require.Contains(t, buf.String(), "REDACTED")
	s.Wipe()
	require.Equal(t, make([]byte, 7), []byte(s))
}
