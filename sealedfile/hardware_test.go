//go:build cgo

package sealedfile_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/pkcs11"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/cryptoplug/cryptoplug/backends/tpm"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
	"github.com/cryptoplug/cryptoplug/seal"
	"github.com/cryptoplug/cryptoplug/sealedfile"
)

// A secret sealed to an RSA key in swtpm opens through that TPM only: not
// after the key directory is copied to another TPM, not through another
// TPM's key of the same label.
func TestSealToSwtpm(t *testing.T) {
	tpm := swtpmtest.Start(t)
	keys := t.TempDir()
	uri := tpm.URI(keys)
	generate(t, uri, map[string]backend.Algorithm{"seal": backend.RSA2048})
	secret := []byte("keystore passphrase " + randHex(t, 16))
	src := backend.SealedSource{Path: filepath.Join(t.TempDir(), "keystore.pass.sealed"), By: uri, Key: "seal"}

	info, err := sealedfile.Seal(t.Context(), src, secret, sealedfile.Options{})
	require.NoError(t, err)
	require.Equal(t, 3, info.Scheme)
	require.Contains(t, info.Algorithm, "RSA-OAEP-SHA-256", "swtpm decrypts OAEP with SHA-256")

	tpm.Restart() // a reboot
	got, err := backend.ReadSecret(t.Context(), src.String())
	require.NoError(t, err)
	require.Equal(t, secret, []byte(got))

	// The key directory copied to another TPM: its key does not load there.
	other := swtpmtest.Start(t)
	copied := t.TempDir()
	require.NoError(t, exec.Command("cp", "-a", keys+"/.", copied).Run())
	moved := src
	moved.By = other.URI(copied)
	_, err = backend.ReadSecret(t.Context(), moved.String())
	require.True(t, refusedByAnotherTPM(err), "another TPM refuses this TPM's key directory: %v", err)
	require.NotContains(t, err.Error(), string(secret))
	t.Logf("key directory on another TPM: %v", err)

	// Another TPM with its own key of the same label: sealed to another key.
	otherKeys := t.TempDir()
	generate(t, other.URI(otherKeys), map[string]backend.Algorithm{"seal": backend.RSA2048})
	moved.By = other.URI(otherKeys)
	_, err = backend.ReadSecret(t.Context(), moved.String())
	require.ErrorIs(t, err, seal.ErrWrongKey)
	t.Logf("another TPM's key: %v", err)
}

// SoftHSM2 does OAEP only with SHA-1, so sealing falls back to it; the
// token's PIN itself is sealed to a TPM key, so no plaintext secret is
// needed to open it.
func TestSealToSoftHSMWithATPMSealedPIN(t *testing.T) {
	tok := softhsmtest.Create(t)
	tpm := swtpmtest.Start(t)
	tpmURI := tpm.URI(t.TempDir())
	generate(t, tpmURI, map[string]backend.Algorithm{"root": backend.RSA2048})

	// The token's PIN, sealed to the TPM: the chain's root is the TPM.
	pinFile := backend.SealedSource{Path: filepath.Join(t.TempDir(), "token.pin.sealed"), By: tpmURI, Key: "root"}
	_, err := sealedfile.Seal(t.Context(), pinFile, []byte(tok.PIN), sealedfile.Options{})
	require.NoError(t, err)
	tokenURI := (&backend.URI{Scheme: "pkcs11", Path: []backend.Attr{{Name: "token", Value: tok.Label, HasValue: true}},
		Query: []backend.Attr{
			{Name: "module-path", Value: softhsmtest.ModulePath, HasValue: true},
			{Name: "pin-source", Value: pinFile.String(), HasValue: true},
			{Name: "max-sessions", Value: "2", HasValue: true},
		}}).String()
	require.NotContains(t, tokenURI, tok.PIN)
	generate(t, tokenURI, map[string]backend.Algorithm{"seal": backend.RSA2048})

	secret := []byte("remote session " + randHex(t, 16))
	src := backend.SealedSource{Path: filepath.Join(t.TempDir(), "session.sealed"), By: tokenURI, Key: "seal"}
	info, err := sealedfile.Seal(t.Context(), src, secret, sealedfile.Options{})
	require.NoError(t, err)
	require.Contains(t, info.Algorithm, "RSA-OAEP-SHA-1", "SoftHSM2 refuses OAEP with SHA-256")
	got, err := backend.ReadSecret(t.Context(), src.String())
	require.NoError(t, err)
	require.Equal(t, secret, []byte(got))

	// Another token with a key of the same label: sealed to another key.
	other := softhsmtest.Create(t)
	generate(t, other.URI, map[string]backend.Algorithm{"seal": backend.RSA2048})
	moved := src
	moved.By = other.URI
	_, err = backend.ReadSecret(t.Context(), moved.String())
	require.ErrorIs(t, err, seal.ErrWrongKey)
	// A token without the key.
	moved.By = softhsmtest.Create(t).URI
	_, err = backend.ReadSecret(t.Context(), moved.String())
	require.ErrorIs(t, err, backend.ErrKeyNotFound)
	// The right token with a wrong PIN: the token refuses the login.
	t.Setenv("CP_TEST_WRONG_PIN", "00000000")
	moved.By = "pkcs11:token=" + tok.Label + "?module-path=" + softhsmtest.ModulePath + "&pin-source=env:CP_TEST_WRONG_PIN&max-sessions=2"
	_, err = backend.ReadSecret(t.Context(), moved.String())
	require.ErrorIs(t, err, backend.ErrAuth)
	require.NotContains(t, err.Error(), tok.PIN)

	// Rotate from the token to the TPM, in place.
	to := src
	to.By, to.Key = tpmURI, "root"
	_, err = sealedfile.Rotate(t.Context(), src, to, sealedfile.Options{Replace: true})
	require.NoError(t, err)
	got, err = backend.ReadSecret(t.Context(), to.String())
	require.NoError(t, err)
	require.Equal(t, secret, []byte(got))
	data, err := os.ReadFile(src.Path)
	require.NoError(t, err)
	require.NotContains(t, string(data), string(secret))
}

// refusedByAnotherTPM reports whether err is a TPM refusing a key
// directory made by another TPM: the directory pins its storage root key,
// so opening fails with tpm.ErrSRKMismatch (a key file alone fails to load:
// backend.ErrCorrupt).
func refusedByAnotherTPM(err error) bool {
	return errors.Is(err, backend.ErrCorrupt) || errors.Is(err, tpm.ErrSRKMismatch)
}
