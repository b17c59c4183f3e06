package backend_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestCheckDigest(t *testing.T) {
	tests := []struct {
		name   string
		digest int
		opts   crypto.SignerOpts
		want   error
	}{
		{"sha256", 32, crypto.SHA256, nil},
		{"sha384", 48, crypto.SHA384, nil},
		{"sha512", 64, crypto.SHA512, nil},
		{"sha3-256", 32, crypto.SHA3_256, nil},
		{"pss options carry the hash", 48, &rsa.PSSOptions{Hash: crypto.SHA384}, nil},
		{"short digest", 31, crypto.SHA256, backend.ErrInvalidInput},
		{"long digest", 64, crypto.SHA256, backend.ErrInvalidInput},
		{"no hash", 32, crypto.Hash(0), backend.ErrInvalidInput},
		{"nil opts", 32, nil, backend.ErrInvalidInput},
		{"sha1 refused", 20, crypto.SHA1, backend.ErrUnsupported},
		{"md5 refused", 16, crypto.MD5, backend.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := backend.CheckDigest(make([]byte, tt.digest), tt.opts)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

var rsaKey = func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}()

func TestPSSSaltLength(t *testing.T) {
	pub := &rsaKey.PublicKey
	maxSalt := 256 - 32 - 2
	tests := []struct {
		name string
		opts *rsa.PSSOptions
		want int
		err  error
	}{
		{"equals hash", &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}, 32, nil},
		{"equals hash sha512", &rsa.PSSOptions{Hash: crypto.SHA512, SaltLength: rsa.PSSSaltLengthEqualsHash}, 64, nil},
		{"auto is the maximum, as crypto/rsa signs", &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthAuto}, maxSalt, nil},
		{"explicit", &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 20}, 20, nil},
		{"explicit maximum", &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: maxSalt}, maxSalt, nil},
		{"too long", &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: maxSalt + 1}, 0, backend.ErrInvalidInput},
		{"negative", &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: -2}, 0, backend.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := backend.PSSSaltLength(pub, tt.opts)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			// The salt length we compute is what crypto/rsa itself uses:
			// a signature made with it verifies under the caller's options.
			digest := make([]byte, tt.opts.Hash.Size())
			sig, err := rsa.SignPSS(rand.Reader, rsaKey, tt.opts.Hash, digest, &rsa.PSSOptions{SaltLength: got})
			require.NoError(t, err)
			require.NoError(t, rsa.VerifyPSS(pub, tt.opts.Hash, digest, sig, tt.opts))
		})
	}
}

func TestCheckOAEP(t *testing.T) {
	mgf, err := backend.CheckOAEP(&rsa.OAEPOptions{Hash: crypto.SHA256})
	require.NoError(t, err)
	require.Equal(t, crypto.SHA256, mgf, "zero MGF hash means the OAEP hash")
	mgf, err = backend.CheckOAEP(&rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1})
	require.NoError(t, err)
	require.Equal(t, crypto.SHA1, mgf)
	_, err = backend.CheckOAEP(&rsa.OAEPOptions{Hash: crypto.MD5})
	require.ErrorIs(t, err, backend.ErrUnsupported)
	_, err = backend.CheckOAEP(&rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.MD5})
	require.ErrorIs(t, err, backend.ErrUnsupported)
}

func TestECDSARawDERRoundTrip(t *testing.T) {
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		t.Run(curve.Params().Name, func(t *testing.T) {
			key, err := ecdsa.GenerateKey(curve, rand.Reader)
			require.NoError(t, err)
			digest := sha256.Sum256([]byte("message"))
			for range 50 { // enough to hit short r or s, which DER encodes shorter
				der, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
				require.NoError(t, err)
				raw, err := backend.ECDSADERToRaw(curve, der)
				require.NoError(t, err)
				require.Len(t, raw, 2*((curve.Params().BitSize+7)/8))
				back, err := backend.ECDSARawToDER(curve, raw)
				require.NoError(t, err)
				require.Equal(t, der, back, "DER is canonical both ways")
				require.True(t, ecdsa.VerifyASN1(&key.PublicKey, digest[:], back))
			}
		})
	}
}

func TestECDSARawToDERRejects(t *testing.T) {
	curve := elliptic.P256()
	n := curve.Params().N
	one := make([]byte, 32)
	one[31] = 1
	nBytes := n.FillBytes(make([]byte, 32))
	tests := []struct {
		name string
		raw  []byte
	}{
		{"short", make([]byte, 63)},
		{"long", make([]byte, 65)},
		{"zero r", append(make([]byte, 32), one...)},
		{"zero s", append(append([]byte{}, one...), make([]byte, 32)...)},
		{"r equals n", append(append([]byte{}, nBytes...), one...)},
		{"s equals n", append(append([]byte{}, one...), nBytes...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := backend.ECDSARawToDER(curve, tt.raw)
			require.ErrorIs(t, err, backend.ErrInvalidInput)
		})
	}
}

func TestECDSADERToRawRejectsNonCanonical(t *testing.T) {
	curve := elliptic.P256()
	// SEQUENCE { INTEGER 00 01 (non-minimal), INTEGER 01 }
	nonMinimal := []byte{0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01}
	_, err := backend.ECDSADERToRaw(curve, nonMinimal)
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	valid := []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}
	_, err = backend.ECDSADERToRaw(curve, valid)
	require.NoError(t, err)
	_, err = backend.ECDSADERToRaw(curve, append(valid, 0))
	require.ErrorIs(t, err, backend.ErrInvalidInput, "trailing data")
	negative := []byte{0x30, 0x06, 0x02, 0x01, 0xff, 0x02, 0x01, 0x01}
	_, err = backend.ECDSADERToRaw(curve, negative)
	require.ErrorIs(t, err, backend.ErrInvalidInput)
}

func TestTypedNilOptionsFailInsteadOfPanicking(t *testing.T) {
	require.ErrorIs(t, backend.CheckDigest(make([]byte, 32), (*rsa.PSSOptions)(nil)), backend.ErrInvalidInput)
	_, err := backend.PSSSaltLength(&rsaKey.PublicKey, nil)
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	_, err = backend.CheckOAEP(nil)
	require.ErrorIs(t, err, backend.ErrInvalidInput)
}

func TestSHA3IsLinked(t *testing.T) {
	// SHA-3 is on the allow-list; a backend that signs with it must not
	// panic because crypto/sha3 was never imported.
	require.True(t, crypto.SHA3_256.Available())
}

func TestAllowLists(t *testing.T) {
	require.True(t, backend.SignatureHashAllowed(crypto.SHA256))
	require.False(t, backend.SignatureHashAllowed(crypto.SHA1))
	require.True(t, backend.OAEPHashAllowed(crypto.SHA1))
	require.False(t, backend.OAEPHashAllowed(crypto.MD5))
}

func TestECDSARawToDERMatchesCryptobyte(t *testing.T) {
	// Hand-picked edge values: top bit set (needs a 0x00 pad), leading
	// zero bytes (shorter INTEGER), and the largest valid value N-1.
	curve := elliptic.P521()
	size := 66
	nMinus1 := new(big.Int).Sub(curve.Params().N, big.NewInt(1)).FillBytes(make([]byte, size))
	small := make([]byte, size)
	small[size-1] = 0x80
	for _, pair := range [][2][]byte{{nMinus1, small}, {small, nMinus1}, {small, small}} {
		raw := append(append([]byte{}, pair[0]...), pair[1]...)
		der, err := backend.ECDSARawToDER(curve, raw)
		require.NoError(t, err)
		back, err := backend.ECDSADERToRaw(curve, der)
		require.NoError(t, err)
		require.Equal(t, raw, back)
	}
}

func BenchmarkECDSARawToDER(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(b, err)
	der, err := ecdsa.SignASN1(rand.Reader, key, make([]byte, 32))
	require.NoError(b, err)
	raw, err := backend.ECDSADERToRaw(elliptic.P256(), der)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := backend.ECDSARawToDER(elliptic.P256(), raw); err != nil {
			b.Fatal(err)
		}
	}
}
