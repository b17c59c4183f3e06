package backend_test

import (
	"crypto"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestAlgorithmProperties(t *testing.T) {
	tests := []struct {
		alg                               backend.Algorithm
		family                            backend.Family
		bits                              int
		signs, messages, decrypts, decaps bool
		curveHash                         crypto.Hash
	}{
		{backend.RSA2048, backend.FamilyRSA, 2048, true, false, true, false, 0},
		{backend.RSA3072, backend.FamilyRSA, 3072, true, false, true, false, 0},
		{backend.RSA4096, backend.FamilyRSA, 4096, true, false, true, false, 0},
		{backend.ECDSAP256, backend.FamilyECDSA, 256, true, false, false, false, crypto.SHA256},
		{backend.ECDSAP384, backend.FamilyECDSA, 384, true, false, false, false, crypto.SHA384},
		{backend.ECDSAP521, backend.FamilyECDSA, 521, true, false, false, false, crypto.SHA512},
		{backend.Ed25519, backend.FamilyEdDSA, 0, true, true, false, false, 0},
		{backend.Ed448, backend.FamilyEdDSA, 0, true, true, false, false, 0},
		{backend.MLDSA44, backend.FamilyMLDSA, 0, true, true, false, false, 0},
		{backend.MLDSA65, backend.FamilyMLDSA, 0, true, true, false, false, 0},
		{backend.MLDSA87, backend.FamilyMLDSA, 0, true, true, false, false, 0},
		{backend.MLKEM768, backend.FamilyMLKEM, 0, false, false, false, true, 0},
		{backend.MLKEM1024, backend.FamilyMLKEM, 0, false, false, false, true, 0},
	}
	require.Len(t, backend.Algorithms(), len(tests), "every algorithm has a row")
	for i, tt := range tests {
		t.Run(tt.alg.String(), func(t *testing.T) {
			require.Equal(t, backend.Algorithms()[i], tt.alg, "stable order")
			require.True(t, tt.alg.Valid())
			require.Equal(t, tt.family, tt.alg.Family())
			require.Equal(t, tt.bits, tt.alg.Bits())
			require.Equal(t, tt.signs, tt.alg.Signs())
			require.Equal(t, tt.messages, tt.alg.SignsMessages())
			require.Equal(t, tt.decrypts, tt.alg.Decrypts())
			require.Equal(t, tt.decaps, tt.alg.Decapsulates())
			require.Equal(t, tt.curveHash, tt.alg.CurveHash())
			require.Equal(t, tt.family == backend.FamilyECDSA, tt.alg.Curve() != nil)
			parsed, err := backend.ParseAlgorithm(tt.alg.String())
			require.NoError(t, err)
			require.Equal(t, tt.alg, parsed)
		})
	}
	_, err := backend.ParseAlgorithm("RSA-1024")
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	require.False(t, backend.Algorithm("").Valid())
}

func TestCapabilities(t *testing.T) {
	c := backend.Capabilities{
		backend.MLKEM768:  backend.OpGenerate | backend.OpDecapsulate,
		backend.ECDSAP256: backend.OpGenerate | backend.OpSign | backend.OpImport,
	}
	require.True(t, c.Supports(backend.ECDSAP256, backend.OpSign|backend.OpImport))
	require.False(t, c.Supports(backend.ECDSAP256, backend.OpDecrypt))
	require.False(t, c.Supports(backend.RSA2048, backend.OpSign))
	require.Equal(t, []backend.Algorithm{backend.ECDSAP256, backend.MLKEM768}, c.Algorithms())
	require.Equal(t, "generate|sign|import", c[backend.ECDSAP256].String())
	require.Equal(t, "none", backend.Ops(0).String())
}

func TestKeySpecValidate(t *testing.T) {
	long := make([]byte, backend.MaxLabelLen+1)
	for i := range long {
		long[i] = 'a'
	}
	tests := []struct {
		name string
		spec backend.KeySpec
		ok   bool
	}{
		{"minimal", backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "web"}, true},
		{"rsa decrypt", backend.KeySpec{Algorithm: backend.RSA2048, Label: "k", Usage: backend.UsageDecrypt}, true},
		{"rsa both", backend.KeySpec{Algorithm: backend.RSA2048, Label: "k", Usage: backend.UsageDecrypt | backend.UsageSign}, true},
		{"unknown algorithm", backend.KeySpec{Algorithm: "DSA", Label: "k"}, false},
		{"empty label", backend.KeySpec{Algorithm: backend.Ed25519}, false},
		{"long label", backend.KeySpec{Algorithm: backend.Ed25519, Label: string(long)}, false},
		{"control char", backend.KeySpec{Algorithm: backend.Ed25519, Label: "a\x00b"}, false},
		{"invalid utf8", backend.KeySpec{Algorithm: backend.Ed25519, Label: "\xff"}, false},
		{"long id", backend.KeySpec{Algorithm: backend.Ed25519, Label: "k", ID: make(backend.KeyID, 65)}, false},
		{"ecdsa cannot decrypt", backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "k", Usage: backend.UsageDecrypt}, false},
		{"mlkem cannot sign", backend.KeySpec{Algorithm: backend.MLKEM768, Label: "k", Usage: backend.UsageSign}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.spec.Validate()
			if tt.ok {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, backend.ErrInvalidInput)
		})
	}
}

func TestUsageResolve(t *testing.T) {
	require.Equal(t, backend.UsageSign, backend.Usage(0).Resolve(backend.RSA2048))
	require.Equal(t, backend.UsageDecapsulate, backend.Usage(0).Resolve(backend.MLKEM1024))
	require.Equal(t, backend.UsageDecrypt, backend.UsageDecrypt.Resolve(backend.RSA2048))
}

func TestKeyRef(t *testing.T) {
	id := backend.KeyID{0x0a, 0x1b}
	require.Equal(t, "0a1b", id.String())
	parsed, err := backend.ParseKeyID("0a1b")
	require.NoError(t, err)
	require.True(t, parsed.Equal(id))
	for _, bad := range []string{"", "zz", "0", strings.Repeat("00", backend.MaxKeyIDLen+1)} {
		_, err := backend.ParseKeyID(bad)
		require.ErrorIs(t, err, backend.ErrInvalidInput, bad)
	}

	require.True(t, backend.ByLabel("web").Matches(id, "web"))
	require.False(t, backend.ByLabel("web").Matches(id, "api"))
	require.True(t, backend.ByID(id).Matches(id, "x"))
	require.False(t, backend.ByID(backend.KeyID{1}).Matches(id, "x"))
	require.True(t, backend.KeyRef{ID: id, Label: "web"}.Matches(id, "web"))
	require.False(t, backend.KeyRef{ID: id, Label: "web"}.Matches(id, "api"))
	require.False(t, backend.KeyRef{}.Matches(id, "web"), "an empty reference matches nothing")
	require.ErrorIs(t, backend.KeyRef{}.Validate(), backend.ErrInvalidInput)
	require.Equal(t, "web (id 0a1b)", backend.KeyRef{ID: id, Label: "web"}.String())
}
