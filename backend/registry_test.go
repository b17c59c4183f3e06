package backend_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestOpenUnknownScheme(t *testing.T) {
	_, err := backend.Open(context.Background(), "nosuch:token=a?pin-value=1234")
	require.ErrorIs(t, err, backend.ErrUnsupported)
	require.Contains(t, err.Error(), "nosuch")
	require.NotContains(t, err.Error(), "1234")
}

func TestOpenMalformed(t *testing.T) {
	_, err := backend.Open(context.Background(), "no scheme here")
	require.ErrorIs(t, err, backend.ErrInvalidInput)
}

func TestRegisterAndOpen(t *testing.T) {
	var got string
	backend.Register("registrytest", func(_ context.Context, uri string) (backend.Backend, error) {
		got = uri
		return nil, backend.ErrAuth
	})
	require.Contains(t, backend.Schemes(), "registrytest")
	_, err := backend.Open(context.Background(), "RegistryTest:a=b")
	require.ErrorIs(t, err, backend.ErrAuth)
	require.Equal(t, "RegistryTest:a=b", got, "the opener sees the whole URI")

	require.Panics(t, func() { backend.Register("registrytest", nil) })
	require.Panics(t, func() {
		backend.Register("registrytest", func(context.Context, string) (backend.Backend, error) { return nil, nil })
	})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = backend.Open(ctx, "registrytest:")
	require.ErrorIs(t, err, context.Canceled)
}
