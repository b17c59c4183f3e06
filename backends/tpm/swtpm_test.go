package tpm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxudstpm"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
)

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
	sw := swtpmtest.Start(t)
	ctx := testContext(t)
	b, err := Open(ctx, sw.URI(t.TempDir()))
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
	sw := swtpmtest.Start(t)
	ctx := testContext(t)
	b, err := Open(ctx, sw.URI(t.TempDir()))
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

	sw.Stop()
	require.Error(t, sign(), "signing with swtpm down must fail, not hang")
	sw.Restart()
	require.NoError(t, sign(), "the backend must reconnect to the restarted swtpm")
	require.NoError(t, sign())

	// Restart again without a failure in between: the stale handles are
	// noticed by the TPM's answer alone.
	sw.Restart()
	require.NoError(t, sign())
}

// TestSwtpmNeedsStartup runs swtpm without startup-clear: the backend must
// send TPM2_Startup itself.
func TestSwtpmNeedsStartup(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.WithoutStartup())
	b, err := Open(testContext(t), sw.URI(t.TempDir()))
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
	sw := swtpmtest.Start(t)
	raw, err := linuxudstpm.Open(sw.Socket)
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

	b, err := Open(testContext(t), sw.URI(t.TempDir()))
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
	raw, err = linuxudstpm.Open(sw.Socket)
	require.NoError(t, err)
	defer raw.Close()
	require.Empty(t, transients(t, raw))
}

// TestAHungTPMHoldsUpNoOtherTPM stops one swtpm with SIGSTOP while a
// backend is opening on it: the Open waits only as long as its context
// allows, and backends on another swtpm open, sign and close meanwhile.
func TestAHungTPMHoldsUpNoOtherTPM(t *testing.T) {
	hung, healthy := swtpmtest.Start(t), swtpmtest.Start(t)
	hung.Signal(syscall.SIGSTOP)
	t.Cleanup(func() { hung.Signal(syscall.SIGCONT) })

	hungOpen := make(chan error, 1)
	go func() {
		b, err := Open(testContext(t), hung.URI(t.TempDir()))
		if err == nil {
			err = b.Close()
		}
		hungOpen <- err
	}()
	// Wait until that Open holds its TPM's slot, connecting.
	sl := slotFor("swtpm:" + hung.Socket)
	for deadline := time.Now().Add(10 * time.Second); len(sl.turn) == 0; runtime.Gosched() {
		require.False(t, time.Now().After(deadline), "the Open on the stopped TPM never started")
	}

	ctx, cancel := context.WithTimeout(testContext(t), 20*time.Second)
	defer cancel()
	b, err := Open(ctx, healthy.URI(t.TempDir()))
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
	_, err = Open(short, hung.URI(t.TempDir()))
	require.ErrorIs(t, err, context.DeadlineExceeded)

	hung.Signal(syscall.SIGCONT)
	require.NoError(t, <-hungOpen, "the first Open completes once the TPM answers again")
}
