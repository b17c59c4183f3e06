//go:build cgo

package pkcs11

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/opencryptokitest"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/tpm2pkcs11test"
)

// TestModuleResetOnEachToken resets each module the backend is tested on —
// C_Finalize and C_Initialize in the loaded library, as the recovery from
// a module failure does, never dlclose — under an open backend, and signs
// again through the same backend: its sessions are reopened and logged in
// and its key finds its object again. This is what module.Reset's claim
// that these modules survive a reset rests on (opencryptoki 3.8 does not
// survive an unload and reload).
func TestModuleResetOnEachToken(t *testing.T) {
	for _, tc := range []struct {
		name string
		uri  func(testing.TB) string
		alg  backend.Algorithm
	}{
		{"opencryptoki", func(tb testing.TB) string { return opencryptokitest.Shared(tb).URIWith("") }, backend.RSA2048},
		{"tpm2-pkcs11", tpm2pkcs11test.NewToken, backend.ECDSAP256},
		{"SoftHSM2", softhsmtest.NewToken, backend.ECDSAP256},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := openURI(t, tc.uri(t))
			// The opencryptoki token is shared by the package's tests.
			label := "reset-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			k := generate(t, b, tc.alg, label, 0)
			t.Cleanup(func() { _ = b.DeleteKey(context.Background(), backend.ByLabel(label)) })
			signAndVerify(t, k)
			require.True(t, b.mod.Owned(), "this process initialised the module")
			gen := b.mod.Gen()
			for range 2 {
				require.NoError(t, b.mod.Reset(context.Background(), b.mod.Gen(), true))
				signAndVerify(t, k)
			}
			require.Equal(t, gen+2, b.mod.Gen())
			require.Equal(t, backend.HealthUp, b.Health().State)
			require.LessOrEqual(t, b.openSessions(), b.pool.max)
		})
	}
}
