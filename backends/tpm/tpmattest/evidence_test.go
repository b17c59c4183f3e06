package tpmattest

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func validEvidence() Evidence {
	return Evidence{EKPublic: []byte{1}, AKPublic: []byte{2}, KeyPublic: []byte{3}, CertifyInfo: []byte{4}, Signature: []byte{5}}
}

func TestParseEvidence(t *testing.T) {
	good := validEvidence()
	data, err := good.Marshal()
	require.NoError(t, err)
	got, err := ParseEvidence(data)
	require.NoError(t, err)
	require.Equal(t, 1, got.Version)
	require.Equal(t, good.KeyPublic, got.KeyPublic)

	withVersion := func(v int) []byte {
		e := validEvidence()
		e.Version = v
		b, _ := json.Marshal(&e)
		return b
	}
	without := func(f func(e *Evidence)) []byte {
		e := validEvidence()
		f(&e)
		b, _ := e.Marshal()
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"not JSON", []byte("evidence")},
		{"version 2", withVersion(2)},
		{"unknown field", bytes.Replace(data, []byte(`{`), []byte(`{"extra":1,`), 1)},
		{"trailing data", append(bytes.Clone(data), []byte(" {}")...)},
		{"too large", []byte(`{"ek_public":"` + strings.Repeat("A", MaxEvidence) + `"}`)},
		{"no key public area", without(func(e *Evidence) { e.KeyPublic = nil })},
		{"no signature", without(func(e *Evidence) { e.Signature = nil })},
		{"no certification", without(func(e *Evidence) { e.CertifyInfo = nil })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseEvidence(tc.data)
			require.ErrorIs(t, err, ErrMalformed)
		})
	}
}

func TestParseChallenge(t *testing.T) {
	good, err := json.Marshal(ChallengeBlob{Credential: []byte{1}, Secret: []byte{2}})
	require.NoError(t, err)
	c, err := ParseChallenge(good)
	require.NoError(t, err)
	require.Equal(t, []byte{2}, c.Secret)
	for _, bad := range []string{"", "{}", `{"credential":"AQ=="}`, `{"credential":"AQ==","secret":"Ag==","x":1}`, `{"credential":"!","secret":"Ag=="}`, `{"credential":"` + strings.Repeat("A", MaxChallenge) + `","secret":"Ag=="}`} {
		_, err := ParseChallenge([]byte(bad))
		require.ErrorIs(t, err, ErrMalformed, "%.40q", bad)
	}
}

func TestVerifierNeedsRoots(t *testing.T) {
	data, err := (&Evidence{EKPublic: []byte{1}, AKPublic: []byte{2}, KeyPublic: []byte{3}, CertifyInfo: []byte{4}, Signature: []byte{5}}).Marshal()
	require.NoError(t, err)
	_, err = (&Verifier{}).Challenge(data)
	require.ErrorIs(t, err, ErrUntrustedEK)
	_, err = (&Verifier{Roots: x509.NewCertPool()}).Challenge(data)
	require.ErrorIs(t, err, ErrMalformed, "the EK public area is checked before the certificate")
}
