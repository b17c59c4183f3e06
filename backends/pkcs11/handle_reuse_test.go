//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/opencryptokitest"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/tpm2pkcs11test"
	"github.com/stretchr/testify/require"
)

// TestDeletedKeyHandleNeverSignsWithItsSuccessor deletes a key and makes
// another under the same label, then uses the first key's handle: it must
// fail with ErrKeyNotFound, never sign with the new key. opencryptoki and
// tpm2-pkcs11 give the new private key object the deleted one's handle, so
// the handle alone would silently name the new key (the suite's
// delete-ref check found it on both); SoftHSM2 never reuses a handle.
func TestDeletedKeyHandleNeverSignsWithItsSuccessor(t *testing.T) {
	tests := []struct {
		name     string
		uri      func(t *testing.T) string
		alg      backend.Algorithm
		usage    backend.Usage
		reusesIt bool
	}{
		{"SoftHSM2", func(t *testing.T) string { return softhsmtest.NewToken(t) }, backend.ECDSAP256, 0, false},
		{"opencryptoki", func(t *testing.T) string { return opencryptokitest.Shared(t).URI }, backend.RSA2048, backend.UsageSign | backend.UsageDecrypt, true},
		{"tpm2-pkcs11", func(t *testing.T) string { return tpm2pkcs11test.NewToken(t) }, backend.ECDSAP256, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			b := openURI(t, tc.uri(t))
			label := randomLabel(t)
			old := generate(t, b, tc.alg, label, tc.usage)
			signer, err := old.Signer()
			require.NoError(t, err)
			d := sha256.Sum256([]byte("m"))
			_, err = signer.Sign(rand.Reader, d[:], crypto.SHA256)
			require.NoError(t, err)
			oldHandle := old.(*key).obj.Load().h

			require.NoError(t, b.DeleteKey(ctx, backend.ByID(old.ID())))
			next := generate(t, b, tc.alg, label, tc.usage)
			if tc.reusesIt {
				require.Equal(t, oldHandle, next.(*key).obj.Load().h, "the token gave the new key the deleted key's handle")
			}
			_, err = signer.Sign(rand.Reader, d[:], crypto.SHA256)
			require.ErrorIs(t, err, backend.ErrKeyNotFound, "the deleted key's handle signed")
			signAndVerify(t, next)
			t.Cleanup(func() { _ = b.DeleteKey(ctx, backend.ByID(next.ID())) })
		})
	}
}
