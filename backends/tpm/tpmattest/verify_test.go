package tpmattest

import (
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/stretchr/testify/require"
)

// TestVerifyKeyAttributes runs Verify on certifications made in software
// (the TPM-backed end-to-end tests are in package tpm): a key made in its
// TPM passes, and each missing attribute fails with its own reason.
func TestVerifyKeyAttributes(t *testing.T) {
	ch, ak := softwareChallenge(t)
	nonce := []byte("a fresh nonce")
	res, err := ch.Verify(softwareEvidence(t, ch, ak, madeInTPM, nonce), nonce)
	require.NoError(t, err)
	require.NotNil(t, res.Public)

	for _, tc := range []struct {
		name  string
		clear func(a *tpm2.TPMAObject)
		want  []error
	}{
		{"fixedTPM", func(a *tpm2.TPMAObject) { a.FixedTPM = false }, []error{ErrNotFixedTPM}},
		{"fixedParent", func(a *tpm2.TPMAObject) { a.FixedParent = false }, []error{ErrNotFixedParent}},
		{"sensitiveDataOrigin", func(a *tpm2.TPMAObject) { a.SensitiveDataOrigin = false }, []error{ErrImported}},
		{"imported", func(a *tpm2.TPMAObject) { a.FixedTPM, a.FixedParent, a.SensitiveDataOrigin = false, false, false },
			[]error{ErrNotFixedTPM, ErrNotFixedParent, ErrImported}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := madeInTPM
			tc.clear(&a)
			_, err := ch.Verify(softwareEvidence(t, ch, ak, a, nonce), nonce)
			for _, want := range tc.want {
				require.ErrorIs(t, err, want)
			}
		})
	}

	_, err = ch.Verify(softwareEvidence(t, ch, ak, madeInTPM, nonce), []byte("another nonce"))
	require.ErrorIs(t, err, ErrNonce)
	_, err = ch.Verify(softwareEvidence(t, ch, ak, madeInTPM, nonce), nil)
	require.ErrorIs(t, err, ErrNonce, "an empty nonce never matches")

	other, otherAK := softwareChallenge(t)
	other.akPub, other.ak = ch.akPub, ch.ak // same identity, another signer
	_, err = other.Verify(softwareEvidence(t, other, otherAK, madeInTPM, nonce), nonce)
	require.ErrorIs(t, err, ErrBadSignature)
}
