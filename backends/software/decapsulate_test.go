package software_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/mlkem"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestDecapsulate(t *testing.T) {
	b := openMemory(t)
	for _, alg := range []backend.Algorithm{backend.MLKEM768, backend.MLKEM1024} {
		t.Run(string(alg), func(t *testing.T) {
			raw := rawKeys()[alg].(crypto.Decapsulator)
			k, err := b.(backend.Importer).ImportKey(context.Background(), backend.KeySpec{Algorithm: alg, Label: string(alg)}, raw)
			require.NoError(t, err)
			d, err := k.Decapsulator()
			require.NoError(t, err)
			require.Equal(t, raw.Encapsulator().Bytes(), d.Encapsulator().Bytes())
			require.Same(t, k.Public(), d.Encapsulator(), "Encapsulator is the key's public key")

			shared, ct := d.Encapsulator().Encapsulate()
			got, err := d.Decapsulate(ct)
			require.NoError(t, err)
			require.Equal(t, shared, got)
			got, err = d.DecapsulateContext(context.Background(), ct)
			require.NoError(t, err)
			require.Equal(t, shared, got)

			// A malformed ciphertext of the right length gives the
			// implicit-rejection key, exactly as crypto/mlkem does.
			bad := bytes.Clone(ct)
			bad[0] ^= 1
			got, err = d.Decapsulate(bad)
			require.NoError(t, err)
			want, err := raw.Decapsulate(bad)
			require.NoError(t, err)
			require.Equal(t, want, got)
			require.NotEqual(t, shared, got)

			size := mlkem.CiphertextSize768
			if alg == backend.MLKEM1024 {
				size = mlkem.CiphertextSize1024
			}
			for _, n := range []int{0, size - 1, size + 1, mlkem.CiphertextSize768 + mlkem.CiphertextSize1024 - size} {
				_, err := d.Decapsulate(make([]byte, n))
				requireErr(t, err, backend.ErrInvalidInput)
			}

			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err = d.DecapsulateContext(ctx, ct)
			requireErr(t, err, context.Canceled)
		})
	}
}

func TestDecapsulateGenerated(t *testing.T) {
	for _, alg := range []backend.Algorithm{backend.MLKEM768, backend.MLKEM1024} {
		t.Run(string(alg), func(t *testing.T) {
			k := generatedKey(t, alg)
			exercise(t, k)
			// Encapsulating with the standard library's own parser of the
			// public key gives a ciphertext the key decapsulates.
			var shared, ct []byte
			switch alg {
			case backend.MLKEM768:
				ek, err := mlkem.NewEncapsulationKey768(k.Public().(*mlkem.EncapsulationKey768).Bytes())
				require.NoError(t, err)
				shared, ct = ek.Encapsulate()
			default:
				ek, err := mlkem.NewEncapsulationKey1024(k.Public().(*mlkem.EncapsulationKey1024).Bytes())
				require.NoError(t, err)
				shared, ct = ek.Encapsulate()
			}
			d, err := k.Decapsulator()
			require.NoError(t, err)
			got, err := d.Decapsulate(ct)
			require.NoError(t, err)
			require.Equal(t, shared, got)
		})
	}
}
