package seal_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/seal"
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

func TestSealRoundTrip(t *testing.T) {
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
			blob, err := seal.Seal(c.pub, plaintext)
			require.NoError(t, err)
			require.False(t, bytes.Contains(blob, plaintext[:20]), "sealed")
			got, err := seal.Open(c.priv, blob)
			require.NoError(t, err)
			require.Equal(t, plaintext, got)

			again, err := seal.Seal(c.pub, plaintext)
			require.NoError(t, err)
			require.NotEqual(t, blob, again, "randomised encryption")

			// Any flipped byte is detected, header included.
			for _, i := range []int{0, 4, 5, 36, 38, len(blob) / 2, len(blob) - 1} {
				bad := bytes.Clone(blob)
				bad[i] ^= 0x01
				_, err := seal.Open(c.priv, bad)
				require.Error(t, err, "flip at %d", i)
				// The key ID (bytes 5..36) names another key; anything else
				// is corruption.
				if i >= 5 && i < 37 {
					require.ErrorIs(t, err, seal.ErrWrongKey, "flip at %d", i)
				} else {
					require.ErrorIs(t, err, seal.ErrCorrupt, "flip at %d", i)
				}
			}
			_, err = seal.Open(c.priv, blob[:len(blob)-1])
			require.ErrorIs(t, err, seal.ErrCorrupt, "truncated")
			id, err := seal.SealedTo(blob)
			require.NoError(t, err)
			want, err := seal.KeyID(c.pub)
			require.NoError(t, err)
			require.Equal(t, want, id)
		})
	}
}

func TestOpenWithTheWrongKey(t *testing.T) {
	dk, other := mlkem768(t), mlkem768(t)
	blob, err := seal.Seal(dk.EncapsulationKey(), []byte("secret"))
	require.NoError(t, err)
	_, err = seal.Open(other, blob)
	require.ErrorIs(t, err, seal.ErrWrongKey)
	_, err = seal.Open(rsaKey(), blob)
	require.ErrorIs(t, err, seal.ErrUnsupportedKey, "an RSA key cannot open an ML-KEM blob")

	rsaBlob, err := seal.Seal(&rsaKey().PublicKey, []byte("secret"))
	require.NoError(t, err)
	_, err = seal.Open(dk, rsaBlob)
	require.ErrorIs(t, err, seal.ErrUnsupportedKey)
	other2048, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	_, err = seal.Open(other2048, rsaBlob)
	require.ErrorIs(t, err, seal.ErrWrongKey)
}

func TestSealRejects(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	for name, pub := range map[string]crypto.PublicKey{
		"ECDSA":    &ec.PublicKey,
		"RSA-1024": &small.PublicKey,
		"nil":      nil,
	} {
		_, err := seal.Seal(pub, []byte("x"))
		require.ErrorIs(t, err, seal.ErrUnsupportedKey, name)
		_, err = seal.KeyID(pub)
		require.ErrorIs(t, err, seal.ErrUnsupportedKey, name)
	}
	_, err = seal.Seal(mlkem768(t).EncapsulationKey(), make([]byte, seal.MaxPlaintextLen+1))
	require.ErrorIs(t, err, seal.ErrTooLarge, "plaintext too long")
	_, err = seal.Open(mlkem768(t), make([]byte, seal.MaxLen+1))
	require.ErrorIs(t, err, seal.ErrTooLarge, "blob too long")
	for _, b := range [][]byte{nil, []byte("CPB1"), append([]byte("CPB2\x01"), make([]byte, 40)...), append([]byte("CPB1\x07"), make([]byte, 40)...)} {
		_, err = seal.SealedTo(b)
		require.ErrorIs(t, err, seal.ErrCorrupt, "%q", b)
	}
}

// Blobs sealed by authn.SealBackup before the code moved here still open:
// the format did not change.
func TestOpenBlobsOfTheOriginalFormat(t *testing.T) {
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/" + name)
		require.NoError(t, err)
		return b
	}
	dk, err := mlkem.NewDecapsulationKey768(read("mlkem768.seed"))
	require.NoError(t, err)
	block, _ := pem.Decode(read("rsa2048.pem"))
	require.NotNil(t, block)
	rk, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	for name, key := range map[string]any{"mlkem768.blob": dk, "rsa2048.blob": rk} {
		pt, err := seal.Open(key, read(name))
		require.NoError(t, err, name)
		require.Equal(t, "sealed by authn.SealBackup before the move", string(pt), name)
	}
}

// failingKey is a recipient key whose device has gone away: its own
// Decrypt or Decapsulate fails.
type failingKey struct{ opaqueDecapsulator }

var errDeviceGone = errors.New("device unplugged")

func (f failingKey) Decapsulate([]byte) ([]byte, error) { return nil, errDeviceGone }

type failingDecrypter struct{ k *rsa.PrivateKey }

func (f failingDecrypter) Public() crypto.PublicKey { return f.k.Public() }
func (f failingDecrypter) Decrypt(io.Reader, []byte, crypto.DecrypterOpts) ([]byte, error) {
	return nil, errDeviceGone
}

// A failing recipient key is reported as itself, never as a corrupt blob.
func TestOpenReportsAFailingKeyAsSuch(t *testing.T) {
	dk := mlkem768(t)
	blob, err := seal.Seal(dk.EncapsulationKey(), []byte("secret"))
	require.NoError(t, err)
	_, err = seal.Open(failingKey{opaqueDecapsulator{dk}}, blob)
	require.ErrorIs(t, err, errDeviceGone)
	require.NotErrorIs(t, err, seal.ErrCorrupt)

	rsaBlob, err := seal.Seal(&rsaKey().PublicKey, []byte("secret"))
	require.NoError(t, err)
	_, err = seal.Open(failingDecrypter{rsaKey()}, rsaBlob)
	require.ErrorIs(t, err, errDeviceGone)
	require.NotErrorIs(t, err, seal.ErrCorrupt)
}

// FuzzOpen: arbitrary blobs never panic and never open, except the ones
// that were really sealed.
func FuzzOpen(f *testing.F) {
	dk := mlkem768(f)
	blob, err := seal.Seal(dk.EncapsulationKey(), []byte("seed"))
	require.NoError(f, err)
	rsaBlob, err := seal.Seal(&rsaKey().PublicKey, []byte("seed"))
	require.NoError(f, err)
	tokenBlob, err := seal.SealWith(&rsaKey().PublicKey, []byte("seed"), seal.Options{OAEPHash: crypto.SHA1})
	require.NoError(f, err)
	f.Add(blob)
	f.Add(rsaBlob)
	f.Add(tokenBlob)
	f.Add([]byte("CPB1"))
	f.Add(append([]byte("CPB1\x02"), make([]byte, 40)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := seal.Open(dk, b); err == nil && !bytes.Equal(b, blob) {
			t.Fatal("opened an ML-KEM blob that was not sealed")
		}
		if _, err := seal.Open(rsaKey(), b); err == nil && !bytes.Equal(b, rsaBlob) && !bytes.Equal(b, tokenBlob) {
			t.Fatal("opened an RSA blob that was not sealed")
		}
		_, _ = seal.SealedTo(b)
	})
}
