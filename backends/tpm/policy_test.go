package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	keyfile "github.com/foxboron/go-tpm-keyfiles"
	"github.com/google/go-tpm/tpm2"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
	"github.com/cryptoplug/cryptoplug/seal"
)

// signWith signs a fresh SHA-256 digest with k and checks the signature.
func signWith(t *testing.T, k backend.Key) error {
	t.Helper()
	s, err := k.Signer()
	require.NoError(t, err)
	d := digestOf(crypto.SHA256)
	sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
	if err == nil {
		require.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d, sig))
	}
	return err
}

// readKeyFileOf decodes the TSS2 key file of k in dir.
func readKeyFileOf(t *testing.T, dir string, k backend.Key) (*keyfile.TPMKey, *tpm2.TPMTPublic) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, k.ID().String()+keyFileExt))
	require.NoError(t, err)
	tk, err := keyfile.Decode(data)
	require.NoError(t, err)
	pub, err := tk.Pubkey.Contents()
	require.NoError(t, err)
	return tk, pub
}

// pcrExtend extends PCR index of the SHA-256 bank with data.
func pcrExtend(t *testing.T, b *Backend, index int, data []byte) {
	t.Helper()
	tpm, _, unlock := rawTPM(t, b, nil)
	defer unlock()
	d := sha256.Sum256(data)
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(index), Auth: tpm2.PasswordAuth(nil)},
		Digests:   tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{HashAlg: tpm2.TPMAlgSHA256, Digest: d[:]}}},
	}.Execute(tpm)
	require.NoError(t, err)
}

// pcrReset resets a resettable PCR (16, the debug PCR, from locality 0).
func pcrReset(t *testing.T, b *Backend, index int) {
	t.Helper()
	tpm, _, unlock := rawTPM(t, b, nil)
	defer unlock()
	_, err := tpm2.PCRReset{PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(index), Auth: tpm2.PasswordAuth(nil)}}.Execute(tpm)
	require.NoError(t, err)
}

// daParameters reads the TPM's dictionary-attack settings: failures
// counted, failures allowed, seconds per forgiven failure, seconds of
// lockout-auth lockout.
func daParameters(t *testing.T, b *Backend) (counter, maxTries, interval, recovery uint32) {
	t.Helper()
	tpm, _, unlock := rawTPM(t, b, nil)
	defer unlock()
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapTPMProperties, Property: uint32(tpm2.TPMPTLockoutCounter), PropertyCount: 4}.Execute(tpm)
	require.NoError(t, err)
	props, err := rsp.CapabilityData.Data.TPMProperties()
	require.NoError(t, err)
	for _, p := range props.TPMProperty {
		switch p.Property {
		case tpm2.TPMPTLockoutCounter:
			counter = p.Value
		case tpm2.TPMPTMaxAuthFail:
			maxTries = p.Value
		case tpm2.TPMPTLockoutInterval:
			interval = p.Value
		case tpm2.TPMPTLockoutRecovery:
			recovery = p.Value
		}
	}
	return counter, maxTries, interval, recovery
}

// dictionaryLockout runs tpm2-tools' tpm2_dictionarylockout on sw with
// args (the lockout hierarchy's auth is empty on a fresh TPM).
func dictionaryLockout(t *testing.T, sw *swtpmtest.TPM, args ...string) {
	t.Helper()
	cmd := exec.Command("tpm2_dictionarylockout", args...)
	cmd.Env = append(os.Environ(), sw.Env()...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "tpm2_dictionarylockout %v (Debian package tpm2-tools; run `make deps`): %s", args, out)
}

func TestAuthValueKey(t *testing.T) {
	sw := swtpmtest.Start(t)
	dir := t.TempDir()
	ctx := testContext(t)
	b, err := Open(ctx, sw.URI(dir))
	require.NoError(t, err)
	defer b.Close()
	// This test tries several wrong values; lockout has its own test.
	dictionaryLockout(t, sw, "--setup-parameters", "--max-tries=32", "--recovery-time=1", "--lockout-recovery-time=1")
	pw := backend.Secret("correct horse")
	k, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "pw", Policy: &backend.KeyPolicy{AuthValue: pw}})
	require.NoError(t, err)

	tk, pub := readKeyFileOf(t, dir, k)
	require.False(t, tk.EmptyAuth, "the key file says the key has an auth value")
	require.Empty(t, tk.Policy, "an auth value alone needs no policy entries")
	require.True(t, pub.ObjectAttributes.UserWithAuth)
	require.False(t, pub.ObjectAttributes.NoDA, "keys with an auth value are under dictionary-attack protection")

	require.ErrorIs(t, signWith(t, k), backend.ErrAuth, "without its auth value")
	ak := k.(backend.AuthValueKey)
	require.ErrorIs(t, signWith(t, ak.WithAuthValue(backend.Secret("wrong"))), backend.ErrAuth)
	require.NoError(t, signWith(t, ak.WithAuthValue(pw)))

	rk, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.RSA2048, Label: "pw-rsa", Usage: backend.UsageDecrypt, Policy: &backend.KeyPolicy{AuthValue: pw}})
	require.NoError(t, err)
	c, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, rk.Public().(*rsa.PublicKey), []byte("for the key holder"), nil)
	require.NoError(t, err)
	for _, tc := range []struct {
		key  backend.Key
		want error
	}{
		{rk, backend.ErrAuth},
		{rk.(backend.AuthValueKey).WithAuthValue(backend.Secret("wrong")), backend.ErrAuth},
		{rk.(backend.AuthValueKey).WithAuthValue(pw), nil},
	} {
		d, err := tc.key.Decrypter()
		require.NoError(t, err)
		pt, err := d.Decrypt(rand.Reader, c, &rsa.OAEPOptions{Hash: crypto.SHA256})
		if tc.want != nil {
			require.ErrorIs(t, err, tc.want)
			require.NotErrorIs(t, err, rsa.ErrDecryption, "a refused auth value is not a bad ciphertext")
			continue
		}
		require.NoError(t, err)
		require.Equal(t, []byte("for the key holder"), pt)
	}

	// Auth values with a zero byte are refused before the TPM sees them.
	_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "nul", Policy: &backend.KeyPolicy{AuthValue: backend.Secret("a\x00b")}})
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	require.ErrorIs(t, signWith(t, ak.WithAuthValue(backend.Secret("correct\x00horse"))), backend.ErrAuth)

	// The policy is read back from the file.
	b2, err := Open(ctx, sw.URI(dir))
	require.NoError(t, err)
	defer b2.Close()
	again, err := b2.Key(ctx, backend.ByLabel("pw"))
	require.NoError(t, err)
	require.ErrorIs(t, signWith(t, again), backend.ErrAuth)
	require.NoError(t, signWith(t, again.(backend.AuthValueKey).WithAuthValue(pw)))

	// Imported keys take an auth value too.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	ik, err := b.ImportKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "pw-imported", Policy: &backend.KeyPolicy{AuthValue: pw}}, priv)
	require.NoError(t, err)
	require.ErrorIs(t, signWith(t, ik.(backend.AuthValueKey).WithAuthValue(backend.Secret("wrong"))), backend.ErrAuth)
	require.NoError(t, signWith(t, ik.(backend.AuthValueKey).WithAuthValue(pw)))
}

// TestDictionaryAttackLockout shows what wrong auth values do on swtpm:
// each counts; at the TPM's limit it refuses every key that has an auth
// value, with ErrLockout, even given the right one, while keys without one
// (noDA) keep working; TPM2_DictionaryAttackLockReset ends it.
func TestDictionaryAttackLockout(t *testing.T) {
	sw := swtpmtest.Start(t)
	ctx := testContext(t)
	b, err := Open(ctx, sw.URI(t.TempDir()))
	require.NoError(t, err)
	defer b.Close()
	_, maxTries, interval, recovery := daParameters(t, b)
	t.Logf("swtpm's dictionary-attack defaults: %d failures allowed, one forgiven every %d s, lockout-auth lockout %d s", maxTries, interval, recovery)
	// A long recovery interval, so that no failure is forgiven during the
	// test.
	dictionaryLockout(t, sw, "--setup-parameters", "--max-tries=3", "--recovery-time=3600", "--lockout-recovery-time=3600")

	pw := backend.Secret("s3cret")
	k, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "guarded", Policy: &backend.KeyPolicy{AuthValue: pw}})
	require.NoError(t, err)
	plain := generate(t, b, backend.ECDSAP256, "plain", 0)
	right := k.(backend.AuthValueKey).WithAuthValue(pw)
	wrong := k.(backend.AuthValueKey).WithAuthValue(backend.Secret("guess"))

	require.ErrorIs(t, signWith(t, k), backend.ErrAuth)
	counter, _, _, _ := daParameters(t, b)
	require.Zero(t, counter, "a missing auth value is refused before the TPM sees it: no failure counted")

	for i := 1; i <= 3; i++ {
		err := signWith(t, wrong)
		require.ErrorIs(t, err, backend.ErrAuth)
		require.NotErrorIs(t, err, ErrLockout, "attempt %d", i)
		counter, _, _, _ := daParameters(t, b)
		require.Equal(t, uint32(i), counter)
	}
	err = signWith(t, right)
	require.ErrorIs(t, err, ErrLockout, "in lockout even the right value is refused")
	require.ErrorIs(t, err, backend.ErrAuth)
	require.NoError(t, signWith(t, plain), "keys without an auth value are noDA and keep working")
	require.ErrorIs(t, signDAProtectedEmptyAuthKey(t, b), tpm2.TPMRCLockout, "why: a key with an empty auth value but noDA clear is locked out too")

	dictionaryLockout(t, sw, "--clear-lockout")
	require.NoError(t, signWith(t, right))
	counter, _, _, _ = daParameters(t, b)
	require.Zero(t, counter)
}

// signDAProtectedEmptyAuthKey makes a key with an empty auth value and
// noDA clear, as the backend made them before, and signs with it.
func signDAProtectedEmptyAuthKey(t *testing.T, b *Backend) error {
	t.Helper()
	tmpl, err := keyTemplate(backend.ECDSAP256, backend.UsageSign, keyPolicy{})
	require.NoError(t, err)
	tmpl.ObjectAttributes.NoDA = false
	tpm, _, unlock := rawTPM(t, b, nil)
	defer unlock()
	for _, h := range b.dev.lru.drain() { // room for one more object
		flush(tpm, h.Handle)
	}
	rsp, err := tpm2.CreateLoaded{ParentHandle: b.dev.srk, InPublic: tpm2.New2BTemplate(&tmpl)}.Execute(tpm)
	require.NoError(t, err)
	defer flush(tpm, rsp.ObjectHandle)
	d := digestOf(crypto.SHA256)
	_, err = tpm2.Sign{
		KeyHandle:  tpm2.AuthHandle{Handle: rsp.ObjectHandle, Name: rsp.Name, Auth: tpm2.PasswordAuth(nil)},
		Digest:     tpm2.TPM2BDigest{Buffer: d},
		InScheme:   tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgECDSA, Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256})},
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}.Execute(tpm)
	return err
}

// TestPCRPolicy binds keys to the resettable PCR 16: they work while it
// holds the value they were bound to, refuse with ErrPolicy once it is
// extended, and work again after it is reset, all enforced by the TPM.
func TestPCRPolicy(t *testing.T) {
	sw := swtpmtest.Start(t)
	dir := t.TempDir()
	ctx := testContext(t)
	b, err := Open(ctx, sw.URI(dir))
	require.NoError(t, err)
	defer b.Close()
	dictionaryLockout(t, sw, "--setup-parameters", "--max-tries=32", "--recovery-time=1", "--lockout-recovery-time=1")
	pcr16 := &backend.PCRPolicy{Indexes: []int{16}}

	k, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "bound", Policy: &backend.KeyPolicy{PCRs: pcr16}})
	require.NoError(t, err)
	tk, pub := readKeyFileOf(t, dir, k)
	require.True(t, tk.EmptyAuth)
	require.Len(t, tk.Policy, 1)
	require.Equal(t, int(tpm2.TPMCCPolicyPCR), tk.Policy[0].CommandCode)
	require.False(t, pub.ObjectAttributes.UserWithAuth, "only a policy session can use the key")
	require.NotEmpty(t, pub.AuthPolicy.Buffer)

	pw := backend.Secret("and a password")
	both, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "bound+pw", Policy: &backend.KeyPolicy{PCRs: pcr16, AuthValue: pw}})
	require.NoError(t, err)
	tk, _ = readKeyFileOf(t, dir, both)
	require.False(t, tk.EmptyAuth)
	require.Len(t, tk.Policy, 2)
	require.Equal(t, int(tpm2.TPMCCPolicyAuthValue), tk.Policy[1].CommandCode)
	bothPW := both.(backend.AuthValueKey).WithAuthValue(pw)

	rk, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.RSA2048, Label: "bound-rsa", Usage: backend.UsageDecrypt, Policy: &backend.KeyPolicy{PCRs: pcr16}})
	require.NoError(t, err)
	c, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, rk.Public().(*rsa.PublicKey), []byte("sealed to the boot state"), nil)
	require.NoError(t, err)
	decrypt := func() ([]byte, error) {
		d, err := rk.Decrypter()
		require.NoError(t, err)
		return d.Decrypt(rand.Reader, c, &rsa.OAEPOptions{Hash: crypto.SHA256})
	}

	// A secret sealed to the bound key (backend.OpenSealed, as sealed:
	// sources read it) is refused as such when the policy fails.
	blob, err := seal.SealWith(rk.Public(), []byte("sealed secret"), seal.Options{OAEPHash: crypto.SHA256})
	require.NoError(t, err)

	// A key bound to a value PCR 16 will hold after one extend.
	future := sha256.Sum256(append(make([]byte, 32), sha256Of("next stage")...))
	later, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "later",
		Policy: &backend.KeyPolicy{PCRs: &backend.PCRPolicy{Indexes: []int{16}, Values: [][]byte{future[:]}}}})
	require.NoError(t, err)

	works := func(when string) {
		t.Helper()
		require.NoError(t, signWith(t, k), when)
		require.NoError(t, signWith(t, bothPW), when)
		pt, err := decrypt()
		require.NoError(t, err, when)
		require.Equal(t, []byte("sealed to the boot state"), pt)
		pt, err = backend.OpenSealed(ctx, rk, blob)
		require.NoError(t, err, when)
		require.Equal(t, []byte("sealed secret"), pt)
	}
	works("PCR 16 as bound")
	require.ErrorIs(t, signWith(t, later), backend.ErrPolicy, "not yet in the state it is bound to")
	require.ErrorIs(t, signWith(t, both.(backend.AuthValueKey).WithAuthValue(backend.Secret("wrong"))), backend.ErrAuth, "both conditions hold")
	require.ErrorIs(t, signWith(t, both), backend.ErrAuth)

	pcrExtend(t, b, 16, []byte("next stage"))
	for _, key := range []backend.Key{k, bothPW} {
		err := signWith(t, key)
		require.ErrorIs(t, err, backend.ErrPolicy)
		require.NotErrorIs(t, err, backend.ErrAuth)
	}
	_, err = decrypt()
	require.ErrorIs(t, err, backend.ErrPolicy)
	require.NotErrorIs(t, err, rsa.ErrDecryption, "a refused policy is not a bad ciphertext")
	_, err = backend.OpenSealed(ctx, rk, blob)
	require.ErrorIs(t, err, backend.ErrUnsealRefused, "a sealed secret whose key's policy fails is refused, not corrupt")
	require.ErrorIs(t, err, backend.ErrPolicy)
	require.NotErrorIs(t, err, seal.ErrCorrupt)
	require.NoError(t, signWith(t, later), "now in the state it is bound to")

	pcrReset(t, b, 16)
	works("PCR 16 reset")
	require.Empty(t, leakedSessions(t, b), "failed policy sessions are flushed")

	// A restarted TPM starts with PCR 16 reset, and the policy is read
	// back from the file.
	pcrExtend(t, b, 16, []byte("something else"))
	require.ErrorIs(t, signWith(t, k), backend.ErrPolicy)
	sw.Restart()
	works("after a restart")
	b2, err := Open(ctx, sw.URI(dir))
	require.NoError(t, err)
	defer b2.Close()
	again, err := b2.Key(ctx, backend.ByLabel("bound"))
	require.NoError(t, err)
	require.NoError(t, signWith(t, again))
	pcrExtend(t, b2, 16, []byte("again"))
	require.ErrorIs(t, signWith(t, again), backend.ErrPolicy)
}

func sha256Of(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// leakedSessions lists the sessions loaded in the TPM (none should be
// between operations).
func leakedSessions(t *testing.T, b *Backend) []tpm2.TPMHandle {
	t.Helper()
	tpm, _, unlock := rawTPM(t, b, nil)
	defer unlock()
	var out []tpm2.TPMHandle
	for _, ht := range []tpm2.TPMHT{tpm2.TPMHTHMACSession, tpm2.TPMHTPolicySession} {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: uint32(ht) << 24, PropertyCount: 64}.Execute(tpm)
		require.NoError(t, err)
		hs, err := rsp.CapabilityData.Data.Handles()
		require.NoError(t, err)
		for _, h := range hs.Handle {
			if uint32(h)>>24 == uint32(ht) {
				out = append(out, h)
			}
		}
	}
	return out
}
