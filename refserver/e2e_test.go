package refserver_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/seal"
	"github.com/cryptoplug/cryptoplug/wire"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, written as PEM files.
type testPKI struct {
	caFile, serverCert, serverKey string
	clientCert                    tls.Certificate
	clientX509                    *x509.Certificate
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600))
}

func newTestPKI(t *testing.T, dir string) testPKI {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	issue := func(serial int64, tmpl *x509.Certificate) (*ecdsa.PrivateKey, []byte) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter = big.NewInt(serial), now.Add(-time.Hour), now.Add(time.Hour)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		require.NoError(t, err)
		return k, der
	}
	p := testPKI{caFile: filepath.Join(dir, "ca.pem"), serverCert: filepath.Join(dir, "server.pem"), serverKey: filepath.Join(dir, "server.key")}
	writePEM(t, p.caFile, "CERTIFICATE", caDER)
	sk, sder := issue(2, &x509.Certificate{Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature})
	writePEM(t, p.serverCert, "CERTIFICATE", sder)
	skDER, err := x509.MarshalPKCS8PrivateKey(sk)
	require.NoError(t, err)
	writePEM(t, p.serverKey, "PRIVATE KEY", skDER)
	ck, cder := issue(3, &x509.Certificate{Subject: pkix.Name{CommonName: "app"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature})
	p.clientX509, err = x509.ParseCertificate(cder)
	require.NoError(t, err)
	p.clientCert = tls.Certificate{Certificate: [][]byte{cder}, PrivateKey: ck, Leaf: p.clientX509}
	return p
}

// buildServer compiles cmd/refserver once per test binary.
func buildServer(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "refserver")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/cryptoplug/cryptoplug/cmd/refserver").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// serverProcess is a running `refserver serve`.
type serverProcess struct {
	cmd    *exec.Cmd
	url    string
	done   chan error
	stderr *stderrLog
}

// stderrLog keeps everything the server writes to standard error, logs it
// line by line and reports the address of the "listening" record. exec's
// copying goroutine writes to it and Wait waits for that goroutine, so by
// the time the process has been waited for, every line is in.
type stderrLog struct {
	t       *testing.T
	mu      sync.Mutex
	all     bytes.Buffer
	partial []byte
	addr    chan string
}

func (l *stderrLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := l.partial[:i]
		var rec struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
			select {
			case l.addr <- rec.Addr:
			default:
			}
		} else {
			l.t.Logf("refserver: %s", line)
		}
		l.partial = l.partial[i+1:]
	}
}

func (l *stderrLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

func startServer(t *testing.T, bin string, args ...string) *serverProcess {
	cmd := exec.Command(bin, append([]string{"serve", "-listen", "127.0.0.1:0"}, args...)...)
	p := &serverProcess{cmd: cmd, done: make(chan error, 1), stderr: &stderrLog{t: t, addr: make(chan string, 1)}}
	cmd.Stderr = p.stderr
	cmd.Stdout = nil // the audit log goes to its file
	require.NoError(t, cmd.Start())
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case a := <-p.stderr.addr:
		p.url = "https://" + a
	case err := <-p.done:
		t.Fatalf("refserver exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("refserver did not start listening in 30s")
	}
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *serverProcess) stop(t *testing.T) {
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		require.NoError(t, err, "refserver must exit cleanly on SIGTERM")
	case <-time.After(30 * time.Second):
		t.Fatal("refserver did not stop within 30s of SIGTERM")
	}
}

func readCredential(t *testing.T, path string) (email, password string) {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "email="); ok {
			email = v
		}
		if v, ok := strings.CutPrefix(line, "password="); ok {
			password = v
		}
	}
	return email, password
}

// TestEndToEnd builds cmd/refserver, runs init and serve with real TLS (a
// test CA, client certificates accepted), walks every flow with the Go
// client, restarts the server on the same data directory and checks nothing
// was lost, and stops it with SIGTERM.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test builds and runs the refserver binary; make test runs it")
	}
	ctx := context.Background()
	bin := buildServer(t)
	dir := t.TempDir()
	pki := newTestPKI(t, dir)
	recovery, err := mlkem.GenerateKey768()
	require.NoError(t, err)
	recPEM, err := wire.MarshalPublicKey(recovery.EncapsulationKey())
	require.NoError(t, err)
	recFile := filepath.Join(dir, "recovery.pem")
	require.NoError(t, os.WriteFile(recFile, []byte(recPEM), 0o600))
	data := filepath.Join(dir, "data")
	credFile := filepath.Join(dir, "admin.cred")
	auditLog := filepath.Join(dir, "audit.log")
	common := []string{"-data", data, "-tls-cert", pki.serverCert, "-tls-key", pki.serverKey, "-client-ca", pki.caFile, "-recovery-key", recFile,
		"-rate-limit-free-failures", "100", "-audit-log", auditLog}

	// Serving before init is refused.
	out, err := exec.Command(bin, append([]string{"serve"}, common...)...).CombinedOutput()
	require.Error(t, err, "serve without init must fail: %s", out)

	out, err = exec.Command(bin, append([]string{"init", "-credential-file", credFile}, common...)...).CombinedOutput()
	require.NoError(t, err, "init: %s", out)
	require.NotContains(t, string(out), "password=", "the credential goes to the file, not the terminal")
	for _, f := range []string{"pepper", "keystore.pass", "authn.db"} {
		st, err := os.Stat(filepath.Join(data, f))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), f)
	}
	out, err = exec.Command(bin, append([]string{"init", "-credential-file", credFile + "2"}, common...)...).CombinedOutput()
	require.Error(t, err, "a second init must refuse: %s", out)
	email, password := readCredential(t, credFile)

	srv := startServer(t, bin, common...)
	anon, err := client.New(srv.url, client.WithCAFile(pki.caFile))
	require.NoError(t, err)
	require.NoError(t, anon.Health(ctx))

	// Administrator session; an application with both key roles.
	adminSess, err := anon.Login(ctx, email, password)
	require.NoError(t, err)
	require.Equal(t, "Bearer", adminSess.TokenType)
	admin := anon.WithCredential(client.Bearer(adminSess.AccessToken))
	app, err := admin.CreateApplication(ctx, wire.CreateApplication{Name: "signer", Roles: []string{"keyManagement", "keyOperation"}, Method: "apiKey"})
	require.NoError(t, err)
	require.Len(t, app.APIKeys, 2)
	keyFor := map[string]string{}
	for _, k := range app.APIKeys {
		keyFor[k.Role] = k.Key
	}

	// Sessions from the application's API keys: each holds one role.
	kmSess, err := anon.Login(ctx, app.Account.ID, keyFor["keyManagement"])
	require.NoError(t, err)
	km := anon.WithCredential(client.Bearer(kmSess.AccessToken))
	opSess, err := anon.Login(ctx, app.Account.ID, keyFor["keyOperation"])
	require.NoError(t, err)
	op := anon.WithCredential(client.Bearer(opSess.AccessToken))

	key, err := km.CreateKey(ctx, wire.KeySpec{Label: "web", Algorithm: "ECDSA-P256"})
	require.NoError(t, err)
	pub, err := wire.ParsePublicKey(key.PublicKey)
	require.NoError(t, err)
	_, err = op.CreateKey(ctx, wire.KeySpec{Label: "nope", Algorithm: "ECDSA-P256"})
	require.ErrorIs(t, err, authn.ErrForbidden, "a keyOperation session cannot create keys")

	msg := []byte("end to end")
	sig, err := op.Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.NoError(t, err)
	digest := sha256.Sum256(msg)
	require.True(t, ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig), "the standard library verifies the signature")
	ok, err := op.Verify(ctx, wire.VerifyRequest{SignRequest: wire.SignRequest{Label: "web", Digest: digest[:], Hash: "SHA-256"}, Signature: sig})
	require.NoError(t, err)
	require.True(t, ok)

	// Reauth replaces the token; terminate ends the new one.
	re, err := op.Reauth(ctx)
	require.NoError(t, err)
	_, err = op.Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "the old token stops at reauth")
	op = anon.WithCredential(client.Bearer(re.AccessToken))
	require.NoError(t, op.Terminate(ctx))
	_, err = op.Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "a terminated session is refused")

	// Regenerate: old keys and sessions die at once, new keys work.
	reset, err := admin.ResetApplicationSecret(ctx, app.Account.ID)
	require.NoError(t, err)
	_, err = km.ListKeys(ctx)
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "sessions end when credentials are regenerated")
	_, err = anon.WithCredential(client.APIKey(keyFor["keyOperation"])).Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	for _, k := range reset.APIKeys {
		keyFor[k.Role] = k.Key
	}
	opKey := anon.WithCredential(client.APIKey(keyFor["keyOperation"]))
	_, err = opKey.Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.NoError(t, err)
	// A session made from the key that is rotated and revoked below.
	doomedSess, err := anon.Login(ctx, app.Account.ID, keyFor["keyOperation"])
	require.NoError(t, err)

	// API key rotation with overlap: both work until the overlap ends.
	keys, err := admin.ListAPIKeys(ctx, app.Account.ID)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	var opKeyID string
	for _, k := range keys {
		if k.Role == "keyOperation" {
			opKeyID = k.ID
		}
	}
	rotated, err := admin.RotateAPIKey(ctx, opKeyID, 600)
	require.NoError(t, err)
	for _, c := range []*client.Client{opKey, anon.WithCredential(client.APIKey(rotated.Key))} {
		_, err = c.Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
		require.NoError(t, err)
	}
	require.NoError(t, admin.RevokeAPIKey(ctx, opKeyID))
	_, err = opKey.Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "a revoked key is refused")
	opKey = anon.WithCredential(client.APIKey(rotated.Key))
	_, err = anon.WithCredential(client.Bearer(doomedSess.AccessToken)).Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "a session ends with the API key it was made from")
	// A live session kept across the restart below.
	liveSess, err := anon.Login(ctx, app.Account.ID, rotated.Key)
	require.NoError(t, err)
	_, err = opKey.Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.NoError(t, err, "revoking the old key leaves its rotated successor working")

	// Certificate authentication: pin the client certificate, log in with it.
	certApp, err := admin.CreateApplication(ctx, wire.CreateApplication{Name: "cert", Roles: []string{"keyOperation"}, Method: "certificate",
		Certificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pki.clientX509.Raw}))})
	require.NoError(t, err)
	require.Empty(t, certApp.APIKeys)
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(pki.caFile)
	pool.AppendCertsFromPEM(caPEM)
	withCert, err := client.New(srv.url, client.WithTLSConfig(&tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pki.clientCert}}))
	require.NoError(t, err)
	certSess, err := withCert.LoginWithCertificate(ctx)
	require.NoError(t, err)
	require.Equal(t, certApp.Account.ID, certSess.EntityID)
	_, err = withCert.WithCredential(client.Bearer(certSess.AccessToken)).Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.NoError(t, err)
	_, err = anon.WithCredential(client.Bearer(certSess.AccessToken)).Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "a certificate-bound session needs the certificate")

	// User secret: admin creates a user and a PIN, the user redeems it once.
	user, err := admin.CreateUser(ctx, wire.CreateUser{Email: "alice@example.test", Password: "alice's long password", Roles: []string{"keyOperation"}})
	require.NoError(t, err)
	pin, err := admin.CreatePIN(ctx, user.ID)
	require.NoError(t, err)
	secret, err := anon.RedeemPIN(ctx, user.ID, pin.PIN)
	require.NoError(t, err)
	require.Len(t, secret.Secret, authn.UserSecretLen)
	_, err = anon.RedeemPIN(ctx, user.ID, pin.PIN)
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "a PIN is single-use")
	alice := anon.WithCredential(client.UserSecret(secret.Secret))
	_, err = alice.Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.NoError(t, err)
	info, err := admin.SetSecretValidity(ctx, user.ID, time.Now().Add(time.Hour))
	require.NoError(t, err)
	require.Equal(t, secret.Fingerprint, info.Fingerprint)

	// Registration and backup.
	rtok, err := admin.CreateRegistrationToken(ctx, wire.CreateRegistrationToken{Roles: []string{"keyOperation"}, Uses: 1, ValidForSeconds: 600})
	require.NoError(t, err)
	recKeyPEM, err := anon.RecoveryKey(ctx)
	require.NoError(t, err)
	recPub, err := wire.ParsePublicKey(recKeyPEM)
	require.NoError(t, err)
	blob, err := seal.Seal(recPub, []byte("client secrets"))
	require.NoError(t, err)
	reg, err := anon.RegisterClient(ctx, wire.RegisterClient{Token: rtok.Token, Name: "device", PublicKeys: [][]byte{publicKeyDER(t)}, Backup: blob})
	require.NoError(t, err)
	require.Len(t, reg.APIKeys, 1)
	_, err = anon.RegisterClient(ctx, wire.RegisterClient{Token: rtok.Token, Name: "device2", PublicKeys: [][]byte{publicKeyDER(t)}})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "the token had one use")
	dev := anon.WithCredential(client.APIKey(reg.APIKeys[0].Key))
	blob2, err := seal.Seal(recPub, []byte("client secrets v2"))
	require.NoError(t, err)
	require.NoError(t, dev.PutBackup(ctx, blob2))
	got, err := admin.GetBackup(ctx, reg.Account.ID)
	require.NoError(t, err)
	plain, err := seal.Open(recovery, got)
	require.NoError(t, err)
	require.Equal(t, "client secrets v2", string(plain))

	// Service routes need role service: the admin lacks it.
	_, err = admin.VersionInfo(ctx)
	require.ErrorIs(t, err, authn.ErrForbidden)

	// Credentials where they must not go: refused, and never written down
	// (checked on every output at the end).
	_, err = anon.Login(ctx, rotated.Key, "x") // curl -u "$API_KEY:x"
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	_, err = anon.Login(ctx, password, password)
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	for _, q := range []string{"?a=1;api_key=" + rotated.Key, "?q=x," + rotated.Key, "?q=+" + rotated.Key, "?q=%63" + rotated.Key[1:]} {
		resp, err := anon.HTTPClient().Get(srv.url + "/v1/key" + q)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
	}

	// Restart on the same data directory: nothing is lost. A damaged key
	// file the keystore finds on the way is reported without its name.
	srv.stop(t)
	firstStderr := srv.stderr.String()
	require.NoError(t, os.WriteFile(filepath.Join(data, "keys", "00ff00ff.key"), []byte("not an age file"), 0o600))
	srv = startServer(t, bin, common...)
	anon, err = client.New(srv.url, client.WithCAFile(pki.caFile))
	require.NoError(t, err)
	_, err = anon.WithCredential(client.Bearer(liveSess.AccessToken)).Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.NoError(t, err, "a live session survives the restart")
	sig, err = anon.WithCredential(client.UserSecret(secret.Secret)).Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.NoError(t, err, "the user secret survives the restart")
	require.True(t, ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig), "the same key signs after the restart")
	_, err = anon.WithCredential(client.APIKey(rotated.Key)).Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.NoError(t, err, "API keys survive the restart")
	adminSess, err = anon.Login(ctx, email, password)
	require.NoError(t, err)
	admin = anon.WithCredential(client.Bearer(adminSess.AccessToken))
	kmSess, err = anon.Login(ctx, app.Account.ID, keyFor["keyManagement"])
	require.NoError(t, err)
	list, err := anon.WithCredential(client.Bearer(kmSess.AccessToken)).ListKeys(ctx)
	require.NoError(t, err)
	require.Len(t, list.Keys, 1)
	require.Equal(t, key.PublicKey, list.Keys[0].PublicKey)
	require.Len(t, list.Warnings, 1, "the damaged file is reported")

	// Error answers of the default encrypted keystore: stable codes, no
	// URI, directory or passphrase file (they used to carry all three).
	op = anon.WithCredential(client.APIKey(rotated.Key))
	var answers []string
	for _, c := range []struct {
		err  error
		code string
	}{
		{func() error {
			_, err := op.Sign(ctx, wire.SignRequest{Label: "web", Digest: make([]byte, 31), Hash: "SHA-256"})
			return err
		}(), wire.CodeInvalidInput},
		{func() error {
			_, err := op.Sign(ctx, wire.SignRequest{Label: "web", Message: msg, Scheme: "pss"})
			return err
		}(), wire.CodeInvalidInput},
		{func() error {
			_, err := op.Decrypt(ctx, wire.DecryptRequest{Label: "web", Ciphertext: []byte("x")})
			return err
		}(), wire.CodeUnsupported},
		{func() error {
			_, err := op.Decapsulate(ctx, wire.DecapsulateRequest{Label: "web", Ciphertext: []byte("x")})
			return err
		}(), wire.CodeUnsupported},
		{func() error { _, err := op.Sign(ctx, wire.SignRequest{Label: "nope", Message: msg}); return err }(), wire.CodeKeyNotFound},
		{func() error {
			_, err := op.Decrypt(ctx, wire.DecryptRequest{Label: "web", Ciphertext: []byte("x"), SessionKeyLen: 1_500_000_000})
			return err
		}(), wire.CodeUnsupported},
	} {
		var ce *client.Error
		require.ErrorAs(t, c.err, &ce)
		require.Equal(t, c.code, ce.Code, ce.Message)
		answers = append(answers, ce.Message)
	}
	answers = append(answers, list.Warnings...)
	for _, internal := range []string{data, "software:", "pin-source", "keystore.pass", "00ff00ff", "keystore.age"} {
		require.NotContains(t, strings.Join(answers, "\n"), internal)
	}
	_, err = admin.DeleteSecret(ctx, user.ID)
	require.NoError(t, err)
	_, err = anon.WithCredential(client.UserSecret(secret.Secret)).Sign(ctx, wire.SignRequest{Label: "web", Message: msg})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "a deleted secret is refused")
	require.NoError(t, anon.WithCredential(client.Bearer(kmSess.AccessToken)).DeleteKey(ctx, "web"))
	_, err = opKeySign(ctx, anon, rotated.Key)
	require.ErrorIs(t, err, backend.ErrKeyNotFound)
	srv.stop(t)

	// Nothing secret in any output: standard error (the operational log,
	// with authn's refusals) and the audit log, of both runs.
	audit, err := os.ReadFile(auditLog)
	require.NoError(t, err)
	require.Contains(t, string(audit), `"msg":"request"`)
	outputs := map[string]string{"the audit log": string(audit), "standard error": srv.stderr.String() + firstStderr}
	secrets := []string{password, secret.Secret, pin.PIN, rtok.Token, rotated.Key, reg.APIKeys[0].Key, adminSess.AccessToken,
		kmSess.AccessToken, liveSess.AccessToken, doomedSess.AccessToken, certSess.AccessToken, re.AccessToken}
	for _, k := range keyFor {
		secrets = append(secrets, k)
	}
	for name, out := range outputs {
		for _, v := range secrets {
			requireNoSecret(t, out, name, v)
		}
	}
}

func opKeySign(ctx context.Context, c *client.Client, key string) ([]byte, error) {
	return c.WithCredential(client.APIKey(key)).Sign(ctx, wire.SignRequest{Label: "web", Digest: make([]byte, 32), Hash: crypto.SHA256.String()})
}
