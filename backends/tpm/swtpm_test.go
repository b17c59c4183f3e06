//lint:file-ignore SA1019 PKCS #1 v1.5 encryption makes a ciphertext for the decryption the backend contract requires
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

	// Decryption keeps a salted session open: after a restart it is gone
	// with the keys, and a new one is started.
	rk := generate(t, b, backend.RSA2048, "decrypter", backend.UsageDecrypt)
	d, err := rk.Decrypter()
	require.NoError(t, err)
	decrypt := func() error {
		c, err := rsa.EncryptOAEP(crypto.SHA256.New(), rand.Reader, rk.Public().(*rsa.PublicKey), []byte("after restart"), nil)
		require.NoError(t, err)
		pt, err := d.Decrypt(rand.Reader, c, &rsa.OAEPOptions{Hash: crypto.SHA256})
		if err == nil && string(pt) != "after restart" {
			t.Fatal("wrong plaintext after recovery")
		}
		return err
	}
	require.NoError(t, decrypt())
	sw.Restart()
	require.NoError(t, decrypt(), "the session lost in the restart is replaced, not taken for a bad ciphertext")
	require.NoError(t, sign())
	sw.Restart()
	require.NoError(t, sign(), "a restart noticed by a signature")
	require.NoError(t, decrypt())
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
	_, closeSession, err := tpm2.HMACSession(raw, tpm2.TPMAlgSHA256, 16)
	require.NoError(t, err)
	_ = closeSession // leaked, as by a crashed process

	b, err := Open(testContext(t), sw.URI(t.TempDir()))
	require.NoError(t, err)
	defer b.Close()
	after := transients(t, raw)
	require.Len(t, after, 1, "only the backend's SRK is loaded")
	require.Equal(t, b.dev.srk.Handle, after[0])
	require.Empty(t, leakedSessions(t, b), "the leaked session is flushed")
	require.NoError(t, raw.Close())

	// Closing flushes everything the backend loaded, and the session it
	// keeps for decryptions.
	k := generate(t, b, backend.ECDSAP256, "k", 0)
	s, _ := k.Signer()
	_, err = s.Sign(rand.Reader, digestOf(crypto.SHA256), crypto.SHA256)
	require.NoError(t, err)
	rk := generate(t, b, backend.RSA2048, "rk", backend.UsageDecrypt)
	c, err := rsa.EncryptPKCS1v15(rand.Reader, rk.Public().(*rsa.PublicKey), []byte("x"))
	require.NoError(t, err)
	d, _ := rk.Decrypter()
	_, err = d.Decrypt(rand.Reader, c, nil)
	require.NoError(t, err)
	require.Len(t, leakedSessions(t, b), 1, "the shared decryption session")
	require.NoError(t, b.Close())
	raw, err = linuxudstpm.Open(sw.Socket)
	require.NoError(t, err)
	defer raw.Close()
	require.Empty(t, transients(t, raw))
	for _, ht := range []tpm2.TPMHT{tpm2.TPMHTHMACSession, tpm2.TPMHTPolicySession} {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: uint32(ht) << 24, PropertyCount: 64}.Execute(raw)
		require.NoError(t, err)
		hs, err := rsp.CapabilityData.Data.Handles()
		require.NoError(t, err)
		for _, h := range hs.Handle {
			require.NotEqual(t, uint32(ht), uint32(h)>>24, "session %#x left loaded", uint32(h))
		}
	}
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
