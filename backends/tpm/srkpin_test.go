package tpm

import (
	"crypto"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
)

// TestSRKPin opens a key directory on one swtpm, then on another: the
// second TPM's storage root key differs from the one pinned, so nothing
// is done with it. A TPM replaced behind the same socket while a backend
// is open is refused the same way.
func TestSRKPin(t *testing.T) {
	a, other := swtpmtest.Start(t), swtpmtest.Start(t)
	dir := t.TempDir()
	ctx := testContext(t)
	b, err := Open(ctx, a.URI(dir))
	require.NoError(t, err)
	defer b.Close()
	pin, err := os.ReadFile(filepath.Join(dir, srkPinFile))
	require.NoError(t, err)
	require.Equal(t, hexName(b.dev.srk.Name)+"\n", string(pin))

	_, err = Open(ctx, other.URI(dir))
	require.ErrorIs(t, err, ErrSRKMismatch)
	require.Contains(t, err.Error(), srkPinFile)

	k := generate(t, b, backend.ECDSAP256, "pinned", 0)
	s, err := k.Signer()
	require.NoError(t, err)
	_, err = s.Sign(rand.Reader, digestOf(crypto.SHA256), crypto.SHA256)
	require.NoError(t, err)

	// Another TPM behind the same socket: a wiped state is a newly
	// manufactured TPM with new seeds.
	a.Stop()
	require.NoError(t, os.RemoveAll(a.State))
	require.NoError(t, os.Mkdir(a.State, 0o700))
	a.Restart()
	_, err = s.Sign(rand.Reader, digestOf(crypto.SHA256), crypto.SHA256)
	require.ErrorIs(t, err, ErrSRKMismatch)

	pinAfter, err := os.ReadFile(filepath.Join(dir, srkPinFile))
	require.NoError(t, err)
	require.Equal(t, pin, pinAfter, "the pin is never overwritten")
}
