package backend_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestErrUnsupportedMatchesStdlib(t *testing.T) {
	err := backend.Errorf("sign", "software", "web", fmt.Errorf("SHA-1: %w", backend.ErrUnsupported))
	require.ErrorIs(t, err, backend.ErrUnsupported)
	require.ErrorIs(t, err, errors.ErrUnsupported)
	require.NotErrorIs(t, err, backend.ErrInvalidInput)
}

func TestErrorMessageNamesOperationBackendAndKey(t *testing.T) {
	tests := []struct {
		name string
		err  *backend.Error
		want string
	}{
		{"all parts", &backend.Error{Op: "sign", Backend: "pkcs11:token=a", Key: "web", Err: backend.ErrKeyNotFound},
			"cryptoplug: pkcs11:token=a: sign key web: key not found"},
		{"no key", &backend.Error{Op: "open", Backend: "software:", Err: backend.ErrAuth},
			"cryptoplug: software:: open: authentication failed"},
		{"no backend", &backend.Error{Op: "generate", Err: backend.ErrInvalidInput},
			"cryptoplug: generate: invalid input"},
		{"op that names the key already", &backend.Error{Op: "delete key", Backend: "software:", Key: "web", Err: backend.ErrKeyNotFound},
			"cryptoplug: software:: delete key web: key not found"},
		{"label with newline is quoted", &backend.Error{Op: "sign", Key: "a\nb", Err: backend.ErrClosed},
			`cryptoplug: sign key "a\nb": backend closed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.err.Error())
		})
	}
}

func TestErrorfNil(t *testing.T) {
	require.NoError(t, backend.Errorf("sign", "b", "k", nil))
}

func TestContextErrPassesThrough(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, backend.ContextErr(ctx, "sign", "b", "k"))
	cancel()
	err := backend.ContextErr(ctx, "sign", "b", "k")
	require.ErrorIs(t, err, context.Canceled)
	var be *backend.Error
	require.ErrorAs(t, err, &be)
	require.Equal(t, "sign", be.Op)
}
