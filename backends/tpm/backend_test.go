package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestKeysSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := testContext(t)
	b, err := backend.Open(ctx, "tpm:simulator;dir="+dir)
	require.NoError(t, err)
	k := generate(t, b, backend.ECDSAP384, "long-lived", 0)
	pub := k.Public().(*ecdsa.PublicKey)
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "Close is idempotent")
	_, err = k.Signer()
	require.NoError(t, err)
	s, _ := k.Signer()
	_, err = s.Sign(rand.Reader, digestOf(crypto.SHA384), crypto.SHA384)
	require.ErrorIs(t, err, backend.ErrClosed)

	// The simulator itself was stopped (last user closed); a reopen
	// restarts it and must derive the same SRK.
	b2, err := backend.Open(ctx, "tpm:simulator;dir="+dir)
	require.NoError(t, err)
	defer b2.Close()
	k2, err := b2.Key(ctx, backend.ByLabel("long-lived"))
	require.NoError(t, err)
	require.Equal(t, k.ID(), k2.ID())
	require.True(t, pub.Equal(k2.Public()))
	s2, err := k2.Signer()
	require.NoError(t, err)
	digest := digestOf(crypto.SHA384)
	sig, err := s2.Sign(rand.Reader, digest, crypto.SHA384)
	require.NoError(t, err)
	require.True(t, ecdsa.VerifyASN1(pub, digest, sig))
}

func TestLifecycle(t *testing.T) {
	ctx := testContext(t)
	b := openSim(t, "")
	info := b.Info()
	require.Equal(t, "tpm", info.Name)
	require.True(t, info.Persistent)
	require.NotEmpty(t, info.Manufacturer)
	caps := b.Capabilities()
	require.True(t, caps.Supports(backend.ECDSAP256, backend.OpGenerate|backend.OpSign))
	require.True(t, caps.Supports(backend.RSA2048, backend.OpGenerate|backend.OpSign|backend.OpDecrypt))
	require.True(t, caps.Supports(backend.ECDSAP256, backend.OpImport))
	require.True(t, caps.Supports(backend.RSA2048, backend.OpImport))

	for _, alg := range []backend.Algorithm{backend.Ed25519, backend.Ed448, backend.MLDSA65, backend.MLKEM768, backend.RSA4096} {
		_, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: alg, Label: "x-" + alg.String()})
		require.ErrorIs(t, err, backend.ErrUnsupported, "%s", alg)
	}
	_, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256})
	require.ErrorIs(t, err, backend.ErrInvalidInput)

	id := backend.KeyID{1, 2, 3}
	k, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "one", ID: id})
	require.NoError(t, err)
	require.Equal(t, id, k.ID())
	_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "one"})
	require.ErrorIs(t, err, backend.ErrKeyExists)
	_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "two", ID: id})
	require.ErrorIs(t, err, backend.ErrKeyExists)

	got, err := b.Key(ctx, backend.KeyRef{ID: id, Label: "one"})
	require.NoError(t, err)
	require.Equal(t, "one", got.Label())
	_, err = b.Key(ctx, backend.KeyRef{ID: id, Label: "other"})
	require.ErrorIs(t, err, backend.ErrKeyNotFound)
	_, err = b.Key(ctx, backend.ByLabel("missing"))
	require.ErrorIs(t, err, backend.ErrKeyNotFound)

	s, err := got.Signer()
	require.NoError(t, err)
	require.NoError(t, b.DeleteKey(ctx, backend.ByLabel("one")))
	_, err = s.Sign(rand.Reader, digestOf(crypto.SHA256), crypto.SHA256)
	require.ErrorIs(t, err, backend.ErrKeyNotFound)
	require.ErrorIs(t, b.DeleteKey(ctx, backend.ByLabel("one")), backend.ErrKeyNotFound)
	keys, err := b.Keys(ctx)
	require.NoError(t, err)
	require.Empty(t, keys)
}

// TestLRUEviction uses more keys than the TPM has transient slots and
// signs with them in interleaved order, from several goroutines.
func TestLRUEviction(t *testing.T) {
	b := openSim(t, "")
	n := keySlots(b) + 3
	keys := make([]backend.Key, n)
	for i := range keys {
		keys[i] = generate(t, b, backend.ECDSAP256, fmt.Sprintf("lru-%d", i), 0)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*n*3)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 3; round++ {
				for i := range keys {
					k := keys[(i*(g+1)+round)%n]
					s, err := k.Signer()
					if err != nil {
						errs <- err
						continue
					}
					digest := digestOf(crypto.SHA256)
					sig, err := s.Sign(rand.Reader, digest, crypto.SHA256)
					if err != nil {
						errs <- err
						continue
					}
					if !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest, sig) {
						errs <- fmt.Errorf("key %s: signature does not verify", k.Label())
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.LessOrEqual(t, b.dev.lru.len(), keySlots(b))
}

func TestSharedSimulator(t *testing.T) {
	ctx := testContext(t)
	b1 := openSim(t, "")
	k1 := generate(t, b1, backend.ECDSAP256, "a", 0)
	// Fill every key slot, so that the second open's owner-auth check
	// (a CreatePrimary) must make room.
	for i := range keySlots(b1) + 1 {
		k := generate(t, b1, backend.ECDSAP256, fmt.Sprintf("fill-%d", i), 0)
		s, err := k.Signer()
		require.NoError(t, err)
		_, err = s.Sign(rand.Reader, digestOf(crypto.SHA256), crypto.SHA256)
		require.NoError(t, err)
	}
	b2 := openSim(t, "")
	k2 := generate(t, b2, backend.ECDSAP256, "a", 0) // another dir: same label is fine
	require.NoError(t, b1.Close())
	s2, err := k2.Signer()
	require.NoError(t, err)
	_, err = s2.Sign(rand.Reader, digestOf(crypto.SHA256), crypto.SHA256)
	require.NoError(t, err, "closing one backend leaves the other working")
	_, err = b1.Key(ctx, backend.ByID(k1.ID()))
	require.ErrorIs(t, err, backend.ErrClosed)
}

// TestConcurrentLookups has many goroutines find the same keys at once in
// a backend that has not read them yet; every Key value must stay usable.
func TestConcurrentLookups(t *testing.T) {
	dir := t.TempDir()
	ctx := testContext(t)
	b1 := openSim(t, dir)
	for i := range 3 {
		generate(t, b1, backend.ECDSAP256, fmt.Sprintf("k%d", i), 0)
	}
	b2 := openSim(t, dir)
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := b2.Key(ctx, backend.ByLabel(fmt.Sprintf("k%d", i%3)))
			if err == nil {
				var s backend.Signer
				if s, err = k.Signer(); err == nil {
					_, err = s.Sign(rand.Reader, digestOf(crypto.SHA256), crypto.SHA256)
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
