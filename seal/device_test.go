package seal_test

import (
	"bytes"
	"crypto"
	"crypto/mlkem"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/seal"
)

// tokenDecrypter decrypts as a TPM or PKCS #11 token would: it records the
// OAEP options it was given and refuses a label, as SoftHSM2 (which ignores
// one) and a TPM (which takes only zero-terminated ones) make the backends
// do.
type tokenDecrypter struct {
	k    *rsa.PrivateKey
	seen *rsa.OAEPOptions
}

func (d *tokenDecrypter) Public() crypto.PublicKey { return d.k.Public() }
func (d *tokenDecrypter) Decrypt(r io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	o := opts.(*rsa.OAEPOptions)
	d.seen = o
	if len(o.Label) > 0 {
		return nil, errDeviceGone
	}
	return d.k.Decrypt(r, msg, opts)
}

func TestSealWithOAEPForTokens(t *testing.T) {
	plaintext := []byte("keystore passphrase: correct horse")
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		t.Run(h.String(), func(t *testing.T) {
			blob, err := seal.SealWith(&rsaKey().PublicKey, plaintext, seal.Options{OAEPHash: h})
			require.NoError(t, err)
			require.False(t, bytes.Contains(blob, plaintext[:16]))
			dec := &tokenDecrypter{k: rsaKey()}
			got, err := seal.Open(dec, blob)
			require.NoError(t, err)
			require.Equal(t, plaintext, got)
			require.Equal(t, h, dec.seen.Hash)
			require.Equal(t, h, dec.seen.MGFHash, "a TPM has one OAEP hash")
			require.Empty(t, dec.seen.Label)

			// Every byte is bound: the key ID names another key, a cut
			// blob is truncated, anything else is tampering. Every
			// position for SHA-256, a sample of each field for the others
			// (each flip is an RSA decryption).
			positions := []int{0, 4, 5, 36, 37, 38, 39, 40, 100, 295, 296, 307, 308, 309, 310, len(blob) / 2, len(blob) - 1}
			if h == crypto.SHA256 {
				positions = positions[:0]
				for i := range blob {
					positions = append(positions, i)
				}
			}
			for _, i := range positions {
				bad := bytes.Clone(blob)
				bad[i] ^= 0x01
				_, err := seal.Open(rsaKey(), bad)
				require.Error(t, err, "flip at %d", i)
				switch {
				case i >= 5 && i < 37:
					require.ErrorIs(t, err, seal.ErrWrongKey, "flip at %d", i)
				default:
					require.ErrorIs(t, err, seal.ErrCorrupt, "flip at %d", i)
				}
			}
			for _, n := range []int{38, 40, 100, len(blob) - 17, len(blob) - 1} {
				_, err := seal.Open(rsaKey(), blob[:n])
				require.ErrorIs(t, err, seal.ErrTruncated, "cut to %d", n)
				require.ErrorIs(t, err, seal.ErrCorrupt, "cut to %d", n)
			}
			_, err = seal.Open(rsaKey(), append(bytes.Clone(blob), 0))
			require.ErrorIs(t, err, seal.ErrCorrupt, "trailing byte")
			require.NotErrorIs(t, err, seal.ErrTruncated, "trailing byte")

			id, err := seal.SealedTo(blob)
			require.NoError(t, err)
			want, err := seal.KeyID(&rsaKey().PublicKey)
			require.NoError(t, err)
			require.Equal(t, want, id)
		})
	}
	_, err := seal.SealWith(&rsaKey().PublicKey, plaintext, seal.Options{OAEPHash: crypto.MD5})
	require.ErrorIs(t, err, seal.ErrUnsupportedKey)

	// The default RSA scheme binds the header through the OAEP label,
	// which a token refuses: this is why scheme 3 exists.
	blob, err := seal.Seal(&rsaKey().PublicKey, plaintext)
	require.NoError(t, err)
	_, err = seal.Open(&tokenDecrypter{k: rsaKey()}, blob)
	require.ErrorIs(t, err, errDeviceGone)
}

func TestUnknownFormatVersion(t *testing.T) {
	blob, err := seal.SealWith(&rsaKey().PublicKey, []byte("x"), seal.Options{OAEPHash: crypto.SHA256})
	require.NoError(t, err)
	newer := bytes.Clone(blob)
	newer[3] = '2' // "CPB2"
	otherScheme := bytes.Clone(blob)
	otherScheme[4] = 9
	otherHash := bytes.Clone(blob)
	otherHash[37] = 9
	for name, b := range map[string][]byte{"version": newer, "scheme": otherScheme, "OAEP hash": otherHash} {
		_, err := seal.Open(rsaKey(), b)
		require.ErrorIs(t, err, seal.ErrUnknownFormat, name)
		require.ErrorIs(t, err, seal.ErrCorrupt, name+": callers that predate ErrUnknownFormat still refuse it")
	}
	_, err = seal.SealedTo([]byte("not a blob at all, just text"))
	require.ErrorIs(t, err, seal.ErrCorrupt)
	require.NotErrorIs(t, err, seal.ErrUnknownFormat)
}

// Scheme 3 blobs sealed when the scheme was introduced still open.
func TestOpenTokenBlobsOfTheOriginalFormat(t *testing.T) {
	pemBytes, err := os.ReadFile("testdata/rsa2048.pem")
	require.NoError(t, err)
	block, _ := pem.Decode(pemBytes)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	blob, err := os.ReadFile("testdata/rsa2048-oaep-sha1.blob")
	require.NoError(t, err)
	dec := &tokenDecrypter{k: k.(*rsa.PrivateKey)}
	pt, err := seal.Open(dec, blob)
	require.NoError(t, err)
	require.Equal(t, "sealed for a token by scheme 3", string(pt))
	require.Equal(t, crypto.SHA1, dec.seen.Hash)
}

func TestArmor(t *testing.T) {
	dk := mlkem768(t)
	blob, err := seal.Seal(dk.EncapsulationKey(), []byte("pepper"))
	require.NoError(t, err)
	armored := seal.Armor(blob)
	require.True(t, bytes.HasPrefix(armored, []byte("-----BEGIN CRYPTOPLUG SEALED SECRET-----\n")))

	got, err := seal.Dearmor(armored)
	require.NoError(t, err)
	require.Equal(t, blob, got)
	got, err = seal.Dearmor(append(append([]byte("\n "), armored...), "\n\n"...))
	require.NoError(t, err, "surrounding white space")
	require.Equal(t, blob, got)
	got, err = seal.Dearmor(blob)
	require.NoError(t, err, "a raw blob")
	require.Equal(t, blob, got)

	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"cut in half", armored[:len(armored)/2], seal.ErrTruncated},
		{"END line cut", armored[:len(armored)-10], seal.ErrTruncated},
		{"raw blob cut", blob[:20], seal.ErrTruncated},
		{"another PEM type", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: blob}), seal.ErrUnknownFormat},
		{"a newer armor", bytes.Replace(armored, []byte("SECRET-----"), []byte("SECRET 2-----"), 2), seal.ErrUnknownFormat},
		{"plain text", []byte("hunter2\n"), seal.ErrCorrupt},
		{"empty", nil, seal.ErrCorrupt},
		{"headers", pem.EncodeToMemory(&pem.Block{Type: seal.ArmorType, Headers: map[string]string{"Key": "x"}, Bytes: blob}), seal.ErrCorrupt},
		{"text after the block", append(bytes.Clone(armored), "hunter2"...), seal.ErrCorrupt},
		{"bad base64", bytes.Replace(armored, []byte("A"), []byte("*"), 1), seal.ErrCorrupt},
		{"armored garbage", seal.Armor([]byte("CPB1\x01garbage")), seal.ErrTruncated},
		{"too large", make([]byte, seal.MaxArmoredLen+1), seal.ErrTooLarge},
	}
	for _, c := range cases {
		_, err := seal.Dearmor(c.data)
		require.ErrorIs(t, err, c.want, c.name)
	}

	big, err := seal.Seal(dk.EncapsulationKey(), make([]byte, seal.MaxPlaintextLen))
	require.NoError(t, err)
	require.LessOrEqual(t, len(seal.Armor(big)), seal.MaxArmoredLen, "the largest blob's armor fits the bound")
	_, err = seal.Dearmor(seal.Armor(big))
	require.NoError(t, err)
}

// FuzzDearmor: arbitrary files never panic, and whatever Dearmor accepts
// is a blob whose framing parses.
func FuzzDearmor(f *testing.F) {
	dk := mlkem768(f)
	blob, err := seal.Seal(dk.EncapsulationKey(), []byte("seed"))
	require.NoError(f, err)
	f.Add(seal.Armor(blob))
	f.Add(blob)
	f.Add([]byte("-----BEGIN CRYPTOPLUG SEALED SECRET-----\n"))
	f.Add([]byte("hunter2"))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := seal.Dearmor(data)
		if err != nil {
			return
		}
		if _, err := seal.SealedTo(b); err != nil {
			t.Fatalf("Dearmor accepted a blob SealedTo refuses: %v", err)
		}
		if _, err := seal.Open(dk, b); err == nil && !bytes.Equal(b, blob) {
			t.Fatal("opened a blob that was not sealed")
		}
	})
}

func TestInspect(t *testing.T) {
	dk1024, err := mlkem.GenerateKey1024()
	require.NoError(t, err)
	for _, c := range []struct {
		pub    crypto.PublicKey
		opts   seal.Options
		scheme int
		alg    string
	}{
		{mlkem768(t).EncapsulationKey(), seal.Options{}, 1, "HPKE ML-KEM-768, HKDF-SHA256, AES-256-GCM"},
		{dk1024.EncapsulationKey(), seal.Options{}, 1, "HPKE ML-KEM-1024, HKDF-SHA256, AES-256-GCM"},
		{&rsaKey().PublicKey, seal.Options{}, 2, "RSA-OAEP-SHA256 (header as label), AES-256-GCM"},
		{&rsaKey().PublicKey, seal.Options{OAEPHash: crypto.SHA1}, 3, "RSA-OAEP-SHA-1 (MGF1-SHA-1, no label), AES-256-GCM"},
	} {
		blob, err := seal.SealWith(c.pub, []byte("x"), c.opts)
		require.NoError(t, err)
		info, err := seal.Inspect(blob)
		require.NoError(t, err)
		id, err := seal.KeyID(c.pub)
		require.NoError(t, err)
		require.Equal(t, seal.Info{Scheme: c.scheme, Algorithm: c.alg, KeyID: id}, info)
	}
	_, err = seal.Inspect([]byte("CPB7"))
	require.ErrorIs(t, err, seal.ErrUnknownFormat)
}
