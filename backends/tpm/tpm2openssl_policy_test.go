package tpm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	keyfile "github.com/foxboron/go-tpm-keyfiles"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
)

// opensslSignWith signs msg with keyFile through tpm2-openssl, giving
// passin as openssl's -passin (empty: none), and returns the signature or
// the tool's error and output.
func opensslSignWith(t *testing.T, sw *swtpmtest.TPM, keyFile, passin string, msg []byte) ([]byte, []byte, error) {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "msg"), filepath.Join(dir, "sig")
	require.NoError(t, os.WriteFile(in, msg, 0o600))
	args := []string{"pkeyutl", "-sign", "-provider", "tpm2", "-provider", "default",
		"-inkey", keyFile, "-rawin", "-digest", "sha256", "-in", in, "-out", out}
	if passin != "" {
		args = append(args, "-passin", passin)
	}
	cmd := exec.Command("openssl", args...)
	cmd.Env = append(os.Environ(), sw.Env()...)
	output, err := cmd.CombinedOutput()
	if err != nil {
		return nil, output, err
	}
	sig, err := os.ReadFile(out)
	require.NoError(t, err)
	return sig, output, nil
}

// TestTPM2OpenSSLHonoursKeyPolicies runs the real `openssl pkeyutl
// -provider tpm2` on key files with policies. A key with an auth value
// signs given the right -passin and is refused with a wrong one. A key
// bound to PCRs cannot be used by tpm2-openssl at all: version 1.1.1 does
// not implement the TSS2 policy field and refuses the file, and with the
// field stripped the TPM refuses the key, since only a policy session can
// use it. Either way the binding holds.
func TestTPM2OpenSSLHonoursKeyPolicies(t *testing.T) {
	requireTools(t)
	sw := swtpmtest.Start(t)
	dir := t.TempDir()
	ctx := testContext(t)
	b, err := Open(ctx, sw.URI(dir))
	require.NoError(t, err)
	dictionaryLockout(t, sw, "--setup-parameters", "--max-tries=32", "--recovery-time=1", "--lockout-recovery-time=1")
	pw := "hunter22"
	withPW, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "with password", Policy: &backend.KeyPolicy{AuthValue: backend.Secret(pw)}})
	require.NoError(t, err)
	bound, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "bound", Policy: &backend.KeyPolicy{PCRs: &backend.PCRPolicy{Indexes: []int{16}}}})
	require.NoError(t, err)
	require.NoError(t, signWith(t, bound), "the backend satisfies the PCR policy")
	require.NoError(t, b.Close()) // tpm2-openssl needs the TPM's object slots
	file := func(k backend.Key) string { return filepath.Join(dir, k.ID().String()+keyFileExt) }
	msg := []byte("signed by tpm2-openssl under a key policy")

	sig, out, err := opensslSignWith(t, sw, file(withPW), "pass:"+pw, msg)
	require.NoError(t, err, "%s", out)
	verifySHA256(t, withPW.Public(), msg, sig)
	_, out, err = opensslSignWith(t, sw, file(withPW), "pass:wrong", msg)
	require.Error(t, err, "a wrong password must fail: %s", out)
	require.Contains(t, string(out), "0x0000098e", "the TPM refuses: TPM_RC_AUTH_FAIL")

	_, out, err = opensslSignWith(t, sw, file(bound), "", msg)
	require.Error(t, err, "tpm2-openssl must not use a PCR-bound key: %s", out)
	require.Contains(t, string(out), "Could not read private key", "tpm2-openssl 1.1.1 refuses the policy field")

	// Strip the policy field: the file loads, and the TPM still refuses.
	data, err := os.ReadFile(file(bound))
	require.NoError(t, err)
	tk, err := keyfile.Decode(data)
	require.NoError(t, err)
	require.NotEmpty(t, tk.Policy)
	tk.Policy = nil
	var stripped bytes.Buffer
	require.NoError(t, keyfile.Encode(&stripped, tk))
	strippedFile := filepath.Join(t.TempDir(), "stripped.pem")
	require.NoError(t, os.WriteFile(strippedFile, stripped.Bytes(), 0o600))
	_, out, err = opensslSignWith(t, sw, strippedFile, "", msg)
	require.Error(t, err, "the TPM must refuse the key outside a policy session: %s", out)
	require.Contains(t, string(out), "0x0000012f", "the TPM refuses: TPM_RC_AUTH_UNAVAILABLE, only a policy session may use the key")
}
