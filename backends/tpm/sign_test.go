package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func digestOf(h crypto.Hash) []byte {
	d := h.New()
	d.Write([]byte("cryptoplug tpm test message"))
	return d.Sum(nil)
}

func TestSignECDSA(t *testing.T) {
	b := openSim(t, "")
	for _, alg := range []backend.Algorithm{backend.ECDSAP256, backend.ECDSAP384, backend.ECDSAP521} {
		t.Run(alg.String(), func(t *testing.T) {
			if !b.Capabilities().Supports(alg, backend.OpSign) {
				t.Skipf("%s not offered by this TPM", alg) // capability-driven, not an environment gap
			}
			k := generate(t, b, alg, "ecdsa-"+alg.String(), 0)
			s, err := k.Signer()
			require.NoError(t, err)
			pub := k.Public().(*ecdsa.PublicKey)
			for _, h := range []crypto.Hash{crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA3_256} {
				digest := digestOf(h)
				sig, err := s.Sign(rand.Reader, digest, h)
				require.NoError(t, err, "%v", h)
				require.True(t, ecdsa.VerifyASN1(pub, digest, sig), "%s with %v does not verify", alg, h)
			}
		})
	}
}

func TestSignRSA(t *testing.T) {
	b := openSim(t, "")
	k := generate(t, b, backend.RSA2048, "rsa-sign", 0)
	s, err := k.Signer()
	require.NoError(t, err)
	pub := k.Public().(*rsa.PublicKey)
	tests := []struct {
		name    string
		opts    crypto.SignerOpts
		wantErr error
	}{
		{"pkcs1v15-sha256", crypto.SHA256, nil},
		{"pkcs1v15-sha384", crypto.SHA384, nil},
		{"pkcs1v15-sha512", crypto.SHA512, nil},
		{"pkcs1v15-sha3", crypto.SHA3_256, backend.ErrUnsupported},
		{"pkcs1v15-sha224", crypto.SHA224, backend.ErrUnsupported},
		{"pkcs1v15-sha1", crypto.SHA1, backend.ErrUnsupported},
		{"pss-equals-hash", &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}, nil},
		{"pss-equals-hash-sha512", &rsa.PSSOptions{Hash: crypto.SHA512, SaltLength: rsa.PSSSaltLengthEqualsHash}, nil},
		{"pss-auto", &rsa.PSSOptions{Hash: crypto.SHA384, SaltLength: rsa.PSSSaltLengthAuto}, nil},
		{"pss-explicit-hash-size", &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 32}, nil},
		{"pss-explicit-other", &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 20}, backend.ErrUnsupported},
		{"pss-out-of-range", &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 4096}, backend.ErrInvalidInput},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.opts.HashFunc()
			digest := digestOf(h)
			sig, err := s.Sign(rand.Reader, digest, tt.opts)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if pss, ok := tt.opts.(*rsa.PSSOptions); ok {
				verify := &rsa.PSSOptions{SaltLength: pss.SaltLength}
				if pss.SaltLength == rsa.PSSSaltLengthAuto {
					verify.SaltLength = rsa.PSSSaltLengthAuto
				}
				require.NoError(t, rsa.VerifyPSS(pub, h, digest, sig, verify))
				// What TLS 1.3 and X.509 check, whatever was asked.
				require.NoError(t, rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}))
				return
			}
			require.NoError(t, rsa.VerifyPKCS1v15(pub, h, digest, sig))
		})
	}
}

func TestSignRejectsBadInput(t *testing.T) {
	b := openSim(t, "")
	k := generate(t, b, backend.ECDSAP256, "bad-input", 0)
	s, err := k.Signer()
	require.NoError(t, err)
	tests := []struct {
		name    string
		digest  []byte
		opts    crypto.SignerOpts
		wantErr error
	}{
		{"short digest", make([]byte, 31), crypto.SHA256, backend.ErrInvalidInput},
		{"no hash", make([]byte, 32), crypto.Hash(0), backend.ErrInvalidInput},
		{"nil opts", make([]byte, 32), nil, backend.ErrInvalidInput},
		{"md5", make([]byte, 16), crypto.MD5, backend.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Sign(rand.Reader, tt.digest, tt.opts)
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
	_, err = k.Decrypter()
	require.ErrorIs(t, err, backend.ErrUnsupported)
	_, err = k.Decapsulator()
	require.ErrorIs(t, err, backend.ErrUnsupported)
}

// A nil context or typed nil options are the caller's mistake: a quick
// error, never a hang or a panic.
func TestNilContextAndTypedNilOptions(t *testing.T) {
	b := openSim(t, "")
	k := generate(t, b, backend.RSA2048, "rsa-nil", backend.UsageSign|backend.UsageDecrypt)
	s, err := k.Signer()
	require.NoError(t, err)
	d, err := k.Decrypter()
	require.NoError(t, err)
	digest := digestOf(crypto.SHA256)
	//lint:ignore SA1012 a nil context is what is tested
	_, err = s.SignContext(nil, nil, digest, crypto.SHA256)
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	//lint:ignore SA1012 a nil context is what is tested
	_, err = d.DecryptContext(nil, nil, make([]byte, 256), nil)
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	_, err = s.Sign(nil, digest, (*rsa.PSSOptions)(nil))
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	//lint:ignore SA1019 a typed nil of the deprecated option type is what is tested
	_, err = d.Decrypt(nil, make([]byte, 256), (*rsa.PKCS1v15DecryptOptions)(nil))
	require.ErrorIs(t, err, backend.ErrInvalidInput)
}
