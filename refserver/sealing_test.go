//go:build cgo

package refserver_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/pkcs11"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
	"github.com/cryptoplug/cryptoplug/backends/tpm"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
	"github.com/cryptoplug/cryptoplug/internal/scryptcost"
	"github.com/cryptoplug/cryptoplug/refserver"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/seal"
	"github.com/cryptoplug/cryptoplug/wire"
)

// runServer runs refserver.Run on c in the background until the test (or
// stop) ends it, and returns a client trusting its certificate.
func runServer(t *testing.T, c refserver.Config) (anon *client.Client, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- refserver.Run(ctx, c, nil, func(a net.Addr) { addr <- a }) }()
	var a net.Addr
	select {
	case a = <-addr:
	case err := <-done:
		cancel()
		t.Fatalf("refserver.Run returned before listening: %v", err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		require.NoError(t, <-done)
	}
	t.Cleanup(stop)
	anon, err := client.New("https://"+a.String(), client.WithCAFile(c.TLSCert))
	require.NoError(t, err)
	return anon, stop
}

// sealedConfig is a configuration for a fresh data directory sealed to
// the backend sealTo.
func sealedConfig(t *testing.T, data, sealTo string) refserver.Config {
	c := refserver.Config{DataDir: data, Listen: "127.0.0.1:0", SealTo: sealTo, Argon2MemoryKiB: 64, AuditLog: filepath.Join(t.TempDir(), "audit.log")}
	require.NoError(t, c.Resolve())
	return c
}

// secretsOf unseals every secret the data directory holds, in each form a
// leak could take: the bytes, their base64 and hex, the key material
// inside PEM.
func secretsOf(t *testing.T, c refserver.Config, credFile string) map[string][]byte {
	t.Helper()
	read := func(path string) []byte {
		s, err := backend.SealedSource{Path: path, By: c.SealTo, Key: c.SealKey}.Open(t.Context())
		require.NoError(t, err, path)
		return s
	}
	out := map[string][]byte{}
	pepper := read(c.PepperFile + ".sealed")
	for _, line := range strings.Split(string(pepper), "\n") {
		if _, b64, ok := strings.Cut(line, ":"); ok {
			raw, err := base64.StdEncoding.DecodeString(b64)
			require.NoError(t, err)
			out["pepper "+line[:1]] = raw
			out["pepper base64 "+line[:1]] = []byte(b64)
		}
	}
	pass := bytes.TrimSpace(read(filepath.Join(c.DataDir, "keystore.pass.sealed")))
	out["keystore passphrase"] = pass
	tlsKey := read(c.TLSKey + ".sealed")
	block, _ := pem.Decode(tlsKey)
	require.NotNil(t, block)
	out["TLS key DER"] = block.Bytes
	out["TLS key PEM"] = bytes.Split(tlsKey, []byte("\n"))[1]
	cred := string(read(credFile))
	for _, line := range strings.Split(cred, "\n") {
		if v, ok := strings.CutPrefix(line, "password="); ok {
			out["admin password"] = []byte(v)
		}
	}
	require.Len(t, out, 6, "pepper (raw, base64), passphrase, TLS key (DER, PEM), admin password")
	return out
}

// requireNoPlaintext greps every file under dir for every secret.
func requireNoPlaintext(t *testing.T, dir string, secrets map[string][]byte) {
	t.Helper()
	files := 0
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		files++
		for name, s := range secrets {
			require.False(t, bytes.Contains(b, s), "%s holds the %s", p, name)
			require.False(t, bytes.Contains(b, []byte(strings.ToLower(string(hexOf(s))))), "%s holds the %s in hex", p, name)
		}
		if strings.HasSuffix(p, ".sealed") {
			st, err := os.Stat(p)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), p)
		}
		return nil
	}))
	require.Greater(t, files, 5)
}

func hexOf(b []byte) []byte {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return out
}

// signThrough logs in as the administrator, makes an application holding
// both key roles and signs with key label (creating it first if create).
func signThrough(t *testing.T, anon *client.Client, cred []byte, label string, create bool) {
	t.Helper()
	ctx := t.Context()
	var email, password string
	for _, line := range strings.Split(string(cred), "\n") {
		if v, ok := strings.CutPrefix(line, "email="); ok {
			email = v
		}
		if v, ok := strings.CutPrefix(line, "password="); ok {
			password = v
		}
	}
	sess, err := anon.Login(ctx, email, password)
	require.NoError(t, err)
	admin := anon.WithCredential(client.Bearer(sess.AccessToken))
	app, err := admin.CreateApplication(ctx, wire.CreateApplication{Name: "app-" + strings.ReplaceAll(t.Name(), "/", "-"), Roles: []string{"keyManagement", "keyOperation"}, Method: "apiKey"})
	require.NoError(t, err)
	keys := map[string]string{}
	for _, k := range app.APIKeys {
		keys[k.Role] = k.Key
	}
	if create {
		_, err := anon.WithCredential(client.APIKey(keys["keyManagement"])).CreateKey(ctx, wire.KeySpec{Label: label, Algorithm: "ECDSA-P256"})
		require.NoError(t, err)
	}
	k, err := anon.WithCredential(client.APIKey(keys["keyManagement"])).GetKey(ctx, label)
	require.NoError(t, err)
	pub, err := wire.ParsePublicKey(k.PublicKey)
	require.NoError(t, err)
	msg := []byte("served from a sealed data directory")
	sig, err := anon.WithCredential(client.APIKey(keys["keyOperation"])).Sign(ctx, wire.SignRequest{Label: label, Message: msg})
	require.NoError(t, err)
	d := sha256.Sum256(msg)
	require.True(t, ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sig))
}

// A data directory initialised with seal_to holds no plaintext secret;
// the server starts from it, serves, restarts, and refuses to start when
// the directory is moved to another TPM or token, with an unseal error.
func TestSealedDataDirectory(t *testing.T) {
	t.Cleanup(scryptcost.SetForTests(scryptcost.Min))
	cases := []struct {
		name string
		// sealTo returns the sealing backend for a data directory, and
		// elsewhere: the same backend URI on another TPM or token, with
		// the error starting there must wrap.
		sealTo func(t *testing.T, data string) (uri string, elsewhere func(copied string) (string, func(error) bool))
	}{
		{"swtpm", func(t *testing.T, data string) (string, func(string) (string, func(error) bool)) {
			// The TPM's key files live in the data directory, so they
			// move with it.
			tpm := swtpmtest.Start(t)
			return tpm.URI(filepath.Join(data, "tpm-keys")), func(copied string) (string, func(error) bool) {
				return swtpmtest.Start(t).URI(filepath.Join(copied, "tpm-keys")), refusedByAnotherTPM
			}
		}},
		{"softhsm2", func(t *testing.T, data string) (string, func(string) (string, func(error) bool)) {
			// The token's PIN comes from the environment: the chain's
			// root, outside the data directory.
			tok := softhsmtest.Create(t)
			t.Setenv("CP_TEST_SEAL_PIN", tok.PIN)
			uri := func(label string) string {
				return "pkcs11:token=" + label + "?module-path=" + softhsmtest.ModulePath + "&pin-source=env:CP_TEST_SEAL_PIN&max-sessions=2"
			}
			return uri(tok.Label), func(string) (string, func(error) bool) {
				// Another token with a key of the same label.
				other := softhsmtest.Create(t)
				b, err := backend.Open(t.Context(), other.URI)
				require.NoError(t, err)
				defer b.Close()
				_, err = b.GenerateKey(t.Context(), backend.KeySpec{Algorithm: backend.RSA2048, Label: refserver.DefaultSealKey, Usage: backend.UsageDecrypt})
				require.NoError(t, err)
				return other.URI, func(err error) bool { return errors.Is(err, seal.ErrWrongKey) }
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			sealTo, elsewhere := tc.sealTo(t, data)
			c := sealedConfig(t, data, sealTo)
			credFile := filepath.Join(data, "admin.cred")
			var out strings.Builder
			require.NoError(t, refserver.Init(t.Context(), c, refserver.InitOptions{CredentialFile: credFile, Out: &out}))
			require.Contains(t, out.String(), "admin.cred.sealed")
			for _, plain := range []string{"pepper", "keystore.pass", "admin.cred", "tls/server.key"} {
				require.NoFileExists(t, filepath.Join(data, plain))
			}
			st, err := os.Stat(data)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
			cred, err := backend.SealedSource{Path: credFile + ".sealed", By: c.SealTo, Key: c.SealKey}.Open(t.Context())
			require.NoError(t, err)

			anon, stop := runServer(t, c)
			signThrough(t, anon, cred, "web", true)
			stop()

			secrets := secretsOf(t, c, credFile+".sealed")
			requireNoPlaintext(t, data, secrets)

			// A restart serves the same keys.
			anon, stop = runServer(t, c)
			signThrough(t, anon, cred, "web", false)
			stop()
			requireNoPlaintext(t, data, secrets)

			// Forgetting seal_to is named as such.
			plain := c
			plain.SealTo, plain.SealKey, plain.Backend, plain.PepperFile, plain.TLSKey = "", "", "", "", ""
			require.NoError(t, plain.Resolve())
			err = refserver.Run(t.Context(), plain, nil, nil)
			require.ErrorIs(t, err, refserver.ErrSealedDataDir)

			// The data directory copied to another TPM or token: an
			// unseal error, and no start.
			copied := filepath.Join(t.TempDir(), "copy")
			require.NoError(t, exec.Command("cp", "-a", data, copied).Run())
			otherURI, refused := elsewhere(copied)
			moved := sealedConfig(t, copied, otherURI)
			err = refserver.Run(t.Context(), moved, nil, func(net.Addr) { t.Error("a moved data directory must not start") })
			require.True(t, refused(err), "%v", err)
			require.Contains(t, err.Error(), "sealed secret")
			for name, s := range secrets {
				require.NotContains(t, err.Error(), string(s), name)
			}
			t.Logf("moved: %v", err)
		})
	}
}

// A data directory made without seal_to is sealed in place by
// `refserver seal-migrate`, serves throughout, and comes back with
// -rollback; a tampered sealed file stops either direction before it
// changes anything.
func TestSealMigrate(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test builds and runs the refserver binary; make test runs it")
	}
	t.Cleanup(scryptcost.SetForTests(scryptcost.Min))
	bin := buildServer(t)
	data := filepath.Join(t.TempDir(), "data")
	credFile := filepath.Join(data, "admin.cred")
	plain := refserver.Config{DataDir: data, Listen: "127.0.0.1:0", Argon2MemoryKiB: 64, AuditLog: filepath.Join(t.TempDir(), "audit.log")}
	require.NoError(t, plain.Resolve())
	require.NoError(t, refserver.Init(t.Context(), plain, refserver.InitOptions{CredentialFile: credFile, Out: &strings.Builder{}}))
	cred, err := os.ReadFile(credFile)
	require.NoError(t, err)
	anon, stop := runServer(t, plain)
	signThrough(t, anon, cred, "web", true)
	stop()

	sealTo := swtpmtest.Start(t).URI(filepath.Join(t.TempDir(), "tpm-keys"))
	sealed := sealedConfig(t, data, sealTo)
	migrate := func(extra ...string) (string, error) {
		args := append([]string{"seal-migrate", "-data", data, "-seal-to", sealTo, "-credential-file", credFile}, extra...)
		out, err := exec.Command(bin, args...).CombinedOutput()
		return string(out), err
	}
	snapshot := func() map[string][]byte {
		files := map[string][]byte{}
		require.NoError(t, filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files[p], err = os.ReadFile(p)
			}
			return err
		}))
		return files
	}

	// A trial: sealed beside the plaintext; the server starts either way.
	out, err := migrate("-keep-plaintext")
	require.NoError(t, err, out)
	require.FileExists(t, credFile)
	require.FileExists(t, credFile+".sealed")
	anon, stop = runServer(t, sealed)
	signThrough(t, anon, cred, "web", false)
	stop()
	anon, stop = runServer(t, plain)
	signThrough(t, anon, cred, "web", false)
	stop()

	// The migration proper, resumed from the trial.
	out, err = migrate()
	require.NoError(t, err, out)
	require.Contains(t, out, "already sealed")
	for _, f := range []string{credFile, plain.PepperFile, plain.TLSKey, filepath.Join(data, "keystore.pass")} {
		require.NoFileExists(t, f)
	}
	requireNoPlaintext(t, data, secretsOf(t, sealed, credFile+".sealed"))
	srv := startServer(t, bin, "-data", data, "-seal-to", sealTo)
	anon, err = client.New(srv.url, client.WithCAFile(plain.TLSCert))
	require.NoError(t, err)
	signThrough(t, anon, cred, "web", false)
	srv.stop(t)

	// A tampered sealed file: the rollback opens everything before it
	// writes anything, so it refuses and changes nothing.
	pepper := sealed.PepperFile + ".sealed"
	good, err := os.ReadFile(pepper)
	require.NoError(t, err)
	blob, err := seal.Dearmor(good)
	require.NoError(t, err)
	blob[len(blob)-2] ^= 1
	require.NoError(t, os.WriteFile(pepper, seal.Armor(blob), 0o600))
	before := snapshot()
	out, err = migrate("-rollback")
	require.Error(t, err)
	require.Contains(t, out, "tampered")
	require.Contains(t, out, "nothing was changed")
	require.Equal(t, before, snapshot(), "a refused rollback changes nothing")
	// The same for the server: no start.
	err = refserver.Run(t.Context(), sealed, nil, nil)
	require.ErrorIs(t, err, seal.ErrCorrupt)

	require.NoError(t, os.WriteFile(pepper, good, 0o600))
	out, err = migrate("-rollback")
	require.NoError(t, err, out)
	for _, f := range []string{credFile, plain.PepperFile, plain.TLSKey, filepath.Join(data, "keystore.pass")} {
		require.FileExists(t, f)
		require.NoFileExists(t, f+".sealed")
	}
	back, err := os.ReadFile(credFile)
	require.NoError(t, err)
	require.Equal(t, cred, back)
	anon, stop = runServer(t, plain)
	signThrough(t, anon, cred, "web", false)
	stop()
}

// refusedByAnotherTPM reports whether err is a TPM refusing a key
// directory made by another TPM: the directory pins its storage root key,
// so opening fails with tpm.ErrSRKMismatch (a key file alone fails to load:
// backend.ErrCorrupt).
func refusedByAnotherTPM(err error) bool {
	return errors.Is(err, backend.ErrCorrupt) || errors.Is(err, tpm.ErrSRKMismatch)
}
