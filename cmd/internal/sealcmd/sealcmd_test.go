package sealcmd

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/seal"
)

func TestReadSecret(t *testing.T) {
	long := strings.Repeat("x", seal.MaxPlaintextLen)
	for _, tc := range []struct {
		name, in, want string
		bad            bool
	}{
		{name: "one newline dropped", in: "pin\n", want: "pin"},
		{name: "CRLF dropped", in: "pin\r\n", want: "pin"},
		{name: "only one", in: "pin\n\n", want: "pin\n"},
		{name: "none", in: "pin", want: "pin"},
		{name: "inner newlines kept", in: "a\nb\n", want: "a\nb"},
		{name: "the limit", in: long + "\n", want: long},
		{name: "empty", in: "", bad: true},
		{name: "a newline alone", in: "\r\n", bad: true},
		{name: "over the limit", in: long + "x", bad: true},
		{name: "far over", in: long + long, bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSecret(strings.NewReader(tc.in), "")
			if tc.bad {
				require.ErrorIs(t, err, backend.ErrInvalidInput)
				require.NotContains(t, err.Error(), "xxxx")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
		})
	}
	_, err := ReadSecret(nil, "/nonexistent/secret")
	require.ErrorContains(t, err, "/nonexistent/secret")
}
