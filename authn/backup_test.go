package authn_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

// opaqueDecapsulator stands in for an HSM-held ML-KEM key: only the
// crypto.Decapsulator methods are visible.
type opaqueDecapsulator struct{ dk *mlkem.DecapsulationKey768 }

func (o opaqueDecapsulator) Encapsulator() crypto.Encapsulator { return o.dk.EncapsulationKey() }
func (o opaqueDecapsulator) Decapsulate(ct []byte) ([]byte, error) {
	return o.dk.Decapsulate(ct)
}

// opaqueDecrypter stands in for an HSM-held RSA key.
type opaqueDecrypter struct{ k *rsa.PrivateKey }

func (o opaqueDecrypter) Public() crypto.PublicKey { return o.k.Public() }
func (o opaqueDecrypter) Decrypt(r io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return o.k.Decrypt(r, msg, opts)
}

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func mlkem768(t testing.TB) *mlkem.DecapsulationKey768 {
	dk, err := mlkem.GenerateKey768()
	require.NoError(t, err)
	return dk
}

func TestBackupRoundTrip(t *testing.T) {
	dk768 := mlkem768(t)
	dk1024, err := mlkem.GenerateKey1024()
	require.NoError(t, err)
	plaintext := []byte("-----BEGIN PRIVATE KEY----- client credentials")

	cases := []struct {
		name string
		pub  crypto.PublicKey
		priv any
	}{
		{"ML-KEM-768", dk768.EncapsulationKey(), dk768},
		{"ML-KEM-768 in an HSM", dk768.EncapsulationKey(), opaqueDecapsulator{dk768}},
		{"ML-KEM-1024", dk1024.EncapsulationKey(), dk1024},
		{"RSA-2048", &rsaKey().PublicKey, rsaKey()},
		{"RSA-2048 in an HSM", &rsaKey().PublicKey, opaqueDecrypter{rsaKey()}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			blob, err := authn.SealBackup(c.pub, plaintext)
			require.NoError(t, err)
			require.False(t, bytes.Contains(blob, plaintext[:20]), "sealed")
			got, err := authn.OpenBackup(c.priv, blob)
			require.NoError(t, err)
			require.Equal(t, plaintext, got)

			again, err := authn.SealBackup(c.pub, plaintext)
			require.NoError(t, err)
			require.NotEqual(t, blob, again, "randomised encryption")

			// Any flipped byte is detected, header included.
			for _, i := range []int{0, 4, 5, 36, 38, len(blob) / 2, len(blob) - 1} {
				bad := bytes.Clone(blob)
				bad[i] ^= 0x01
				_, err := authn.OpenBackup(c.priv, bad)
				require.ErrorIs(t, err, authn.ErrInvalidArgument, "flip at %d", i)
			}
			_, err = authn.OpenBackup(c.priv, blob[:len(blob)-1])
			require.ErrorIs(t, err, authn.ErrInvalidArgument, "truncated")
		})
	}
}

func TestOpenBackupWithTheWrongKey(t *testing.T) {
	dk, other := mlkem768(t), mlkem768(t)
	blob, err := authn.SealBackup(dk.EncapsulationKey(), []byte("secret"))
	require.NoError(t, err)
	_, err = authn.OpenBackup(other, blob)
	require.ErrorIs(t, err, authn.ErrInvalidArgument)
	require.ErrorContains(t, err, "another recovery key")
	_, err = authn.OpenBackup(rsaKey(), blob)
	require.ErrorIs(t, err, authn.ErrInvalidArgument, "an RSA key cannot open an ML-KEM blob")

	rsaBlob, err := authn.SealBackup(&rsaKey().PublicKey, []byte("secret"))
	require.NoError(t, err)
	_, err = authn.OpenBackup(dk, rsaBlob)
	require.ErrorIs(t, err, authn.ErrInvalidArgument)
}

func TestSealBackupRejects(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	for name, pub := range map[string]crypto.PublicKey{
		"ECDSA":    &ec.PublicKey,
		"RSA-1024": &small.PublicKey,
		"nil":      nil,
	} {
		_, err := authn.SealBackup(pub, []byte("x"))
		require.ErrorIs(t, err, authn.ErrInvalidArgument, name)
	}
	_, err = authn.SealBackup(mlkem768(t).EncapsulationKey(), make([]byte, 32<<10+1))
	require.ErrorIs(t, err, authn.ErrInvalidArgument, "too long")
}
