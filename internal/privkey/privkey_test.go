package privkey_test

import (
	"crypto"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
)

func TestGenerateEveryAlgorithm(t *testing.T) {
	for _, alg := range backend.Algorithms() {
		if alg == backend.RSA4096 || alg == backend.RSA3072 {
			continue // same code path as RSA-2048, only slower
		}
		t.Run(alg.String(), func(t *testing.T) {
			priv, err := privkey.Generate(alg)
			require.NoError(t, err)
			switch {
			case alg.Signs():
				_, ok := priv.(crypto.Signer)
				require.True(t, ok, "%T signs", priv)
			case alg.Decapsulates():
				_, ok := priv.(crypto.Decapsulator)
				require.True(t, ok, "%T decapsulates", priv)
			}
		})
	}
	_, err := privkey.Generate("DSA-1024")
	require.ErrorIs(t, err, backend.ErrUnsupported)
}
