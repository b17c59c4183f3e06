//go:build !cgo

package tpm

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestSimulatorNeedsCgo(t *testing.T) {
	_, err := Open(testContext(t), "tpm:simulator;dir="+t.TempDir())
	require.ErrorIs(t, err, backend.ErrUnsupported)
	require.Contains(t, err.Error(), "CGO_ENABLED=1")
}
