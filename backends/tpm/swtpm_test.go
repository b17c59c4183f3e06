package tpm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxudstpm"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

// swtpm is a swtpm daemon run by a test on a state directory that outlives
// restarts.
type swtpm struct {
	t      testing.TB
	state  string
	socket string
	cmd    *exec.Cmd
}

// startSwtpm starts swtpm in a temporary directory and stops it when the
// test ends. A machine without swtpm fails the test: run `make deps`.
func startSwtpm(t testing.TB) *swtpm {
	t.Helper()
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Fatalf("swtpm is not installed (%v): run `make deps` (Debian packages swtpm and swtpm-tools)", err)
	}
	dir := t.TempDir()
	s := &swtpm{t: t, state: filepath.Join(dir, "state"), socket: filepath.Join(dir, "tpm.sock")}
	require.NoError(t, os.Mkdir(s.state, 0o700))
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *swtpm) start() {
	s.t.Helper()
	_ = os.Remove(s.socket)
	s.cmd = exec.Command("swtpm", "socket", "--tpm2",
		"--tpmstate", "dir="+s.state,
		"--server", "type=unixio,path="+s.socket,
		"--ctrl", "type=unixio,path="+s.socket+".ctrl",
		"--flags", "not-need-init,startup-clear")
	// swtpm logs every client disconnect, and linuxudstpm connects per
	// command: keep its output for a failing test only.
	var log bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &log, &log
	t := s.t
	t.Cleanup(func() {
		s.stop() // before reading what it wrote
		if t.Failed() {
			t.Logf("swtpm output:\n%s", log.String())
		}
	})
	require.NoError(s.t, s.cmd.Start())
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := os.Stat(s.socket); err == nil && st.Mode()&os.ModeSocket != 0 {
			return
		}
		if time.Now().After(deadline) {
			s.stop()
			s.t.Fatalf("swtpm did not create its socket within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills swtpm, as a crash would.
func (s *swtpm) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

func (s *swtpm) uri(dir string) string { return "tpm:swtpm=" + s.socket + ";dir=" + dir }

// transients lists the transient handles loaded in the TPM.
func transients(t testing.TB, tpm transport.TPM) []tpm2.TPMHandle {
	t.Helper()
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: uint32(tpm2.TPMHTTransient) << 24, PropertyCount: 64}.Execute(tpm)
	require.NoError(t, err)
	hs, err := rsp.CapabilityData.Data.Handles()
	require.NoError(t, err)
	return hs.Handle
}

func TestSwtpmSignDecrypt(t *testing.T) {
	sw := startSwtpm(t)
	ctx := testContext(t)
	b, err := Open(ctx, sw.uri(t.TempDir()))
	require.NoError(t, err)
	defer b.Close()
	t.Logf("swtpm: %+v caps %v", b.Info(), b.Capabilities())

	ec := generate(t, b, backend.ECDSAP256, "ec", 0)
	s, err := ec.Signer()
	require.NoError(t, err)
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		d := digestOf(h)
		sig, err := s.Sign(rand.Reader, d, h)
		require.NoError(t, err)
		require.True(t, ecdsa.VerifyASN1(ec.Public().(*ecdsa.PublicKey), d, sig))
	}

	rk := generate(t, b, backend.RSA2048, "rsa", backend.UsageSign|backend.UsageDecrypt)
	rs, err := rk.Signer()
	require.NoError(t, err)
	pub := rk.Public().(*rsa.PublicKey)
	d := digestOf(crypto.SHA256)
	sig, err := rs.Sign(rand.Reader, d, &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash})
	if err != nil {
		require.ErrorIs(t, err, backend.ErrUnsupported) // a TPM with maximal salts
	} else {
		require.NoError(t, rsa.VerifyPSS(pub, crypto.SHA256, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}))
	}
	rd, err := rk.Decrypter()
	require.NoError(t, err)
	c, err := rsa.EncryptOAEP(crypto.SHA256.New(), rand.Reader, pub, []byte("secret"), nil)
	require.NoError(t, err)
	got, err := rd.Decrypt(rand.Reader, c, &rsa.OAEPOptions{Hash: crypto.SHA256})
	require.NoError(t, err)
	require.Equal(t, []byte("secret"), got)
}

// TestSwtpmRestartRecovery kills swtpm under an open backend, starts it
// again on the same state, and expects the next signature to succeed with
// the same key.
func TestSwtpmRestartRecovery(t *testing.T) {
	sw := startSwtpm(t)
	ctx := testContext(t)
	b, err := Open(ctx, sw.uri(t.TempDir()))
	require.NoError(t, err)
	defer b.Close()
	k := generate(t, b, backend.ECDSAP256, "survivor", 0)
	s, err := k.Signer()
	require.NoError(t, err)
	sign := func() error {
		d := digestOf(crypto.SHA256)
		sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
		if err == nil && !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d, sig) {
			t.Fatal("signature after recovery does not verify")
		}
		return err
	}
	require.NoError(t, sign())

	sw.stop()
	require.Error(t, sign(), "signing with swtpm down must fail, not hang")
	sw.start()
	require.NoError(t, sign(), "the backend must reconnect to the restarted swtpm")
	require.NoError(t, sign())

	// Restart again without a failure in between: the stale handles are
	// noticed by the TPM's answer alone.
	sw.stop()
	sw.start()
	require.NoError(t, sign())
}

// TestSwtpmNeedsStartup runs swtpm without startup-clear: the backend must
// send TPM2_Startup itself.
func TestSwtpmNeedsStartup(t *testing.T) {
	sw := startSwtpm(t)
	sw.stop()
	_ = os.Remove(sw.socket)
	sw.cmd = exec.Command("swtpm", "socket", "--tpm2", "--tpmstate", "dir="+sw.state,
		"--server", "type=unixio,path="+sw.socket, "--ctrl", "type=unixio,path="+sw.socket+".ctrl",
		"--flags", "not-need-init")
	require.NoError(t, sw.cmd.Start())
	require.Eventually(t, func() bool { _, err := os.Stat(sw.socket); return err == nil }, 10*time.Second, 20*time.Millisecond)
	b, err := Open(testContext(t), sw.uri(t.TempDir()))
	require.NoError(t, err)
	defer b.Close()
	k := generate(t, b, backend.ECDSAP256, "started", 0)
	s, err := k.Signer()
	require.NoError(t, err)
	_, err = s.Sign(rand.Reader, digestOf(crypto.SHA256), crypto.SHA256)
	require.NoError(t, err)
}

// TestSwtpmLeakedTransientsCleaned leaks objects through a raw connection,
// as a crashed process would, and expects Open to flush them.
func TestSwtpmLeakedTransientsCleaned(t *testing.T) {
	sw := startSwtpm(t)
	raw, err := linuxudstpm.Open(sw.socket)
	require.NoError(t, err)
	for range 2 {
		_, err := tpm2.CreatePrimary{
			PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
			InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
		}.Execute(raw)
		require.NoError(t, err)
	}
	leaked := transients(t, raw)
	require.Len(t, leaked, 2)

	b, err := Open(testContext(t), sw.uri(t.TempDir()))
	require.NoError(t, err)
	defer b.Close()
	after := transients(t, raw)
	require.Len(t, after, 1, "only the backend's SRK is loaded")
	require.Equal(t, b.dev.srk.Handle, after[0])
	require.NoError(t, raw.Close())

	// Closing flushes everything the backend loaded.
	k := generate(t, b, backend.ECDSAP256, "k", 0)
	s, _ := k.Signer()
	_, err = s.Sign(rand.Reader, digestOf(crypto.SHA256), crypto.SHA256)
	require.NoError(t, err)
	require.NoError(t, b.Close())
	raw, err = linuxudstpm.Open(sw.socket)
	require.NoError(t, err)
	defer raw.Close()
	require.Empty(t, transients(t, raw))
}

// TestAHungTPMHoldsUpNoOtherTPM stops one swtpm with SIGSTOP while a
// backend is opening on it: the Open waits only as long as its context
// allows, and backends on another swtpm open, sign and close meanwhile.
func TestAHungTPMHoldsUpNoOtherTPM(t *testing.T) {
	hung, healthy := startSwtpm(t), startSwtpm(t)
	require.NoError(t, hung.cmd.Process.Signal(syscall.SIGSTOP))
	t.Cleanup(func() { _ = hung.cmd.Process.Signal(syscall.SIGCONT) })

	hungOpen := make(chan error, 1)
	go func() {
		b, err := Open(testContext(t), hung.uri(t.TempDir()))
		if err == nil {
			err = b.Close()
		}
		hungOpen <- err
	}()
	// Wait until that Open holds its TPM's slot, connecting.
	sl := slotFor("swtpm:" + hung.socket)
	for deadline := time.Now().Add(10 * time.Second); len(sl.turn) == 0; runtime.Gosched() {
		require.False(t, time.Now().After(deadline), "the Open on the stopped TPM never started")
	}

	ctx, cancel := context.WithTimeout(testContext(t), 20*time.Second)
	defer cancel()
	b, err := Open(ctx, healthy.uri(t.TempDir()))
	require.NoError(t, err, "a stopped TPM must not hold up another one's Open")
	k := generate(t, b, backend.ECDSAP256, "ec", 0)
	s, err := k.Signer()
	require.NoError(t, err)
	_, err = s.SignContext(ctx, nil, digestOf(crypto.SHA256), crypto.SHA256)
	require.NoError(t, err)
	require.NoError(t, b.Close(), "nor its Close")

	// A second Open on the stopped TPM waits its turn, bounded by its own
	// context, instead of joining the first one's hang.
	short, cancelShort := context.WithTimeout(testContext(t), 200*time.Millisecond)
	defer cancelShort()
	_, err = Open(short, hung.uri(t.TempDir()))
	require.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, hung.cmd.Process.Signal(syscall.SIGCONT))
	require.NoError(t, <-hungOpen, "the first Open completes once the TPM answers again")
}
