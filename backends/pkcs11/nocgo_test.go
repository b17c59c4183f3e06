//go:build !cgo

package pkcs11

import (
	"context"
	"testing"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/stretchr/testify/require"
)

func TestNoCgoOpen(t *testing.T) {
	_, err := backend.Open(context.Background(), "pkcs11:token=t?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234")
	require.ErrorIs(t, err, backend.ErrUnsupported)
	require.ErrorContains(t, err, "built without cgo")
	require.ErrorContains(t, err, "CGO_ENABLED=1")
	require.NotContains(t, err.Error(), "1234")

	_, err = backend.Open(context.Background(), "pkcs11:token=t")
	require.ErrorIs(t, err, backend.ErrInvalidInput, "a malformed URI is still reported as such")
}
