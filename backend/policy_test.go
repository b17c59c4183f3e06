package backend_test

import (
	"bytes"
	"crypto"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestKeySpecRefusesPolicy(t *testing.T) {
	spec := backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "k", Policy: &backend.KeyPolicy{AuthValue: backend.Secret("pw")}}
	require.ErrorIs(t, spec.Validate(), backend.ErrUnsupported, "backends that do not enforce policies refuse them through Validate")
	spec.Policy = nil
	require.NoError(t, spec.Validate())
}

func TestKeyPolicyValidate(t *testing.T) {
	sha256 := func(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }
	for _, tc := range []struct {
		name   string
		policy *backend.KeyPolicy
		want   error
	}{
		{"auth value", &backend.KeyPolicy{AuthValue: backend.Secret("pw")}, nil},
		{"PCRs, current values", &backend.KeyPolicy{PCRs: &backend.PCRPolicy{Indexes: []int{7, 16}}}, nil},
		{"PCRs with values and auth", &backend.KeyPolicy{AuthValue: backend.Secret("pw"), PCRs: &backend.PCRPolicy{Bank: crypto.SHA256, Indexes: []int{16}, Values: [][]byte{sha256(0)}}}, nil},
		{"nil", nil, backend.ErrInvalidInput},
		{"empty", &backend.KeyPolicy{}, backend.ErrInvalidInput},
		{"auth value too long", &backend.KeyPolicy{AuthValue: make(backend.Secret, backend.MaxAuthValue+1)}, backend.ErrInvalidInput},
		{"no PCR", &backend.KeyPolicy{PCRs: &backend.PCRPolicy{}}, backend.ErrInvalidInput},
		{"PCR 24", &backend.KeyPolicy{PCRs: &backend.PCRPolicy{Indexes: []int{24}}}, backend.ErrInvalidInput},
		{"PCR -1", &backend.KeyPolicy{PCRs: &backend.PCRPolicy{Indexes: []int{-1}}}, backend.ErrInvalidInput},
		{"PCR twice", &backend.KeyPolicy{PCRs: &backend.PCRPolicy{Indexes: []int{7, 7}}}, backend.ErrInvalidInput},
		{"values missing", &backend.KeyPolicy{PCRs: &backend.PCRPolicy{Indexes: []int{7, 8}, Values: [][]byte{sha256(0)}}}, backend.ErrInvalidInput},
		{"value of another bank's size", &backend.KeyPolicy{PCRs: &backend.PCRPolicy{Bank: crypto.SHA1, Indexes: []int{7}, Values: [][]byte{sha256(0)}}}, backend.ErrInvalidInput},
		{"unknown bank", &backend.KeyPolicy{PCRs: &backend.PCRPolicy{Bank: crypto.SHA3_256, Indexes: []int{7}}}, backend.ErrUnsupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Validate()
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestKeyPolicyClone(t *testing.T) {
	p := &backend.KeyPolicy{AuthValue: backend.Secret("pw"), PCRs: &backend.PCRPolicy{Indexes: []int{16}, Values: [][]byte{make([]byte, 32)}}}
	c := p.Clone()
	p.AuthValue[0], p.PCRs.Indexes[0], p.PCRs.Values[0][0] = 'x', 1, 1
	require.Equal(t, backend.Secret("pw"), c.AuthValue)
	require.Equal(t, []int{16}, c.PCRs.Indexes)
	require.Equal(t, byte(0), c.PCRs.Values[0][0])
	require.Nil(t, (*backend.KeyPolicy)(nil).Clone())
}
