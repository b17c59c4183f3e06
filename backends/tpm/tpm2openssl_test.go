package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
)

// tpm2Provider is tpm2-openssl's OpenSSL 3 provider as Debian installs it.
const tpm2Provider = "/usr/lib/x86_64-linux-gnu/ossl-modules/tpm2.so"

// requireTools fails the test when openssl with the tpm2 provider, or
// tpm2-tools, is missing.
func requireTools(t *testing.T) {
	t.Helper()
	var missing []string
	for _, tool := range []string{"openssl", "tpm2_createprimary", "tpm2_create", "tpm2_encodeobject", "tpm2_flushcontext"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if _, err := os.Stat(tpm2Provider); err != nil {
		missing = append(missing, tpm2Provider)
	}
	if len(missing) > 0 {
		t.Fatalf("missing %s: run `make deps` (Debian packages openssl, tpm2-openssl, tpm2-tools, libtss2-tcti-swtpm0)", strings.Join(missing, ", "))
	}
}

// tool runs a tpm2-openssl or tpm2-tools command against sw.
func tool(t *testing.T, sw *swtpmtest.TPM, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), sw.Env()...)
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return out
}

// opensslSign signs msg with the key file through tpm2-openssl (PKCS #1
// v1.5 for RSA, ECDSA in DER), SHA-256.
func opensslSign(t *testing.T, sw *swtpmtest.TPM, keyFile string, msg []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "msg"), filepath.Join(dir, "sig")
	require.NoError(t, os.WriteFile(in, msg, 0o600))
	tool(t, sw, "openssl", "pkeyutl", "-sign", "-provider", "tpm2", "-provider", "default",
		"-inkey", keyFile, "-rawin", "-digest", "sha256", "-in", in, "-out", out)
	sig, err := os.ReadFile(out)
	require.NoError(t, err)
	return sig
}

func verifySHA256(t *testing.T, pub crypto.PublicKey, msg, sig []byte) {
	t.Helper()
	d := sha256.Sum256(msg)
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		require.True(t, ecdsa.VerifyASN1(p, d[:], sig), "ECDSA signature does not verify")
	case *rsa.PublicKey:
		require.NoError(t, rsa.VerifyPKCS1v15(p, crypto.SHA256, d[:], sig))
	default:
		t.Fatalf("public key %T", pub)
	}
}

// TestTPM2OpenSSLLoadsOurKeyFiles checks that tpm2-openssl loads the key
// files this backend writes, and those it migrated from the old form, and
// signs with them on the same TPM.
func TestTPM2OpenSSLLoadsOurKeyFiles(t *testing.T) {
	requireTools(t)
	sw := swtpmtest.Start(t)
	dir := t.TempDir()
	b, err := Open(testContext(t), sw.URI(dir))
	require.NoError(t, err)
	keys := []backend.Key{
		generate(t, b, backend.ECDSAP256, "ec key", 0),
		generate(t, b, backend.RSA2048, "rsa key", 0),
		generate(t, b, backend.ECDSAP256, "was legacy", 0),
	}
	legacyPath := filepath.Join(dir, keys[2].ID().String()+keyFileExt)
	data, err := os.ReadFile(legacyPath)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(legacyPath, legacyKeyFile(t, data, "was legacy"), 0o600))
	require.NoError(t, b.Close()) // tpm2-openssl needs the TPM's object slots

	// Reading the directory migrates the old file.
	b, err = Open(testContext(t), sw.URI(dir))
	require.NoError(t, err)
	_, err = b.Keys(testContext(t))
	require.NoError(t, err)
	require.NoError(t, b.Close())

	msg := []byte("signed by tpm2-openssl with a cryptoplug key file")
	for _, k := range keys {
		sig := opensslSign(t, sw, filepath.Join(dir, k.ID().String()+keyFileExt), msg)
		verifySHA256(t, k.Public(), msg, sig)
	}
}

// TestKeyFilesOfTPM2OpenSSLAndTools checks that keys made by
// `openssl genpkey -provider tpm2` and by tpm2-tools, placed in dir, are
// listed (not as damaged), found by the label their file name or a label
// line gives, and used, and that a label line keeps them loadable by
// tpm2-openssl.
func TestKeyFilesOfTPM2OpenSSLAndTools(t *testing.T) {
	requireTools(t)
	sw := swtpmtest.Start(t)
	dir := t.TempDir()
	tool(t, sw, "openssl", "genpkey", "-provider", "tpm2", "-provider", "default",
		"-algorithm", "EC", "-pkeyopt", "group:P-256", "-out", filepath.Join(dir, "web.pem"))
	tool(t, sw, "openssl", "genpkey", "-provider", "tpm2", "-provider", "default",
		"-algorithm", "RSA", "-pkeyopt", "bits:2048", "-out", filepath.Join(dir, "mail.pem"))

	// tpm2-tools, under a primary made from the template of the storage
	// root key tpm2-openssl and this backend derive. tpm2_encodeobject
	// 5.4 writes emptyAuth as the value of -p, so -p is what marks this
	// key as needing no auth.
	work := t.TempDir()
	srk, pub, priv := filepath.Join(work, "srk.ctx"), filepath.Join(work, "key.pub"), filepath.Join(work, "key.priv")
	tool(t, sw, "tpm2_createprimary", "-Q", "-C", "o", "-g", "sha256", "-G", "ecc256:aes128cfb",
		"-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt", "-c", srk)
	tool(t, sw, "tpm2_create", "-Q", "-C", srk, "-G", "ecc384", "-u", pub, "-r", priv)
	tool(t, sw, "tpm2_flushcontext", "-t")
	tool(t, sw, "tpm2_encodeobject", "-C", srk, "-u", pub, "-r", priv, "-p", "-o", filepath.Join(dir, "tools.pem"))
	tool(t, sw, "tpm2_flushcontext", "-t")

	ctx := testContext(t)
	b, err := Open(ctx, sw.URI(dir))
	require.NoError(t, err)
	keys, err := b.Keys(ctx)
	require.NoError(t, err, "keys other tools made are keys, not damaged files")
	found := map[string]backend.Algorithm{}
	for _, k := range keys {
		found[k.Label()] = k.Algorithm()
	}
	require.Equal(t, map[string]backend.Algorithm{"web": backend.ECDSAP256, "mail": backend.RSA2048, "tools": backend.ECDSAP384}, found)

	msg := []byte("signed by cryptoplug with a tpm2-openssl key")
	for _, label := range []string{"web", "mail", "tools"} {
		k, err := b.Key(ctx, backend.ByLabel(label))
		require.NoError(t, err)
		again, err := b.Key(ctx, backend.ByID(k.ID()))
		require.NoError(t, err, "the ID, the key's TPM name, finds it too")
		require.Equal(t, label, again.Label())
		s, err := k.Signer()
		require.NoError(t, err)
		d := sha256.Sum256(msg)
		sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
		require.NoError(t, err)
		verifySHA256(t, k.Public(), msg, sig)
	}
	// tpm2-openssl makes RSA keys that may decrypt too.
	mail, err := b.Key(ctx, backend.ByLabel("mail"))
	require.NoError(t, err)
	dec, err := mail.Decrypter()
	require.NoError(t, err)
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, mail.Public().(*rsa.PublicKey), []byte("secret"), nil)
	require.NoError(t, err)
	pt, err := dec.Decrypt(rand.Reader, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
	require.NoError(t, err)
	require.Equal(t, []byte("secret"), pt)

	// A label line gives a key another label, and tpm2-openssl still
	// loads the file.
	web := filepath.Join(dir, "web.pem")
	data, err := os.ReadFile(web)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(web, append([]byte("Label: Web Server\n"), data...), 0o600))
	k, err := b.Key(ctx, backend.ByLabel("Web Server"))
	require.NoError(t, err)
	_, err = b.Key(ctx, backend.ByLabel("web"))
	require.ErrorIs(t, err, backend.ErrKeyNotFound)
	require.NoError(t, b.Close())
	sig := opensslSign(t, sw, web, msg)
	verifySHA256(t, k.Public(), msg, sig)
	require.True(t, bytes.HasPrefix(mustRead(t, web), []byte("Label: Web Server\n")), "tpm2-openssl left the file as it was")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
