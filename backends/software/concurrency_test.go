package software_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

// signOnce signs testMessage with s in the plainest scheme of alg and
// verifies the result; it returns the Sign error, or a verification error.
func signOnce(s backend.Signer, alg backend.Algorithm) error {
	msg, opts := testMessage, crypto.SignerOpts(crypto.Hash(0))
	if h := hashFor(alg); h != 0 {
		d := h.New()
		d.Write(testMessage)
		msg, opts = d.Sum(nil), h
	}
	sig, err := s.Sign(rand.Reader, msg, opts)
	if err != nil {
		return err
	}
	if err := verify(s.Public(), msg, sig, opts); err != nil {
		return fmt.Errorf("a signature that does not verify: %w", err)
	}
	return nil
}

func stores(t *testing.T) map[string]func(t *testing.T) (backend.Backend, string) {
	return map[string]func(t *testing.T) (backend.Backend, string){
		"memory": func(t *testing.T) (backend.Backend, string) { return openMemory(t), "" },
		"directory": func(t *testing.T) (backend.Backend, string) {
			uri, _ := newDirURI(t)
			return openDir(t, uri), uri
		},
		"postgres": func(t *testing.T) (backend.Backend, string) {
			uri := newPGURI(t, "")
			return openDir(t, uri), uri
		},
	}
}

func TestConcurrentUse(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			b, uri := open(t)
			ctx := context.Background()
			shared, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "shared"})
			require.NoError(t, err)
			sharedSigner, err := shared.Signer()
			require.NoError(t, err)

			const goroutines, perGoroutine = 8, 6
			errs := make(chan error, goroutines*perGoroutine*4)
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range perGoroutine {
						alg := []backend.Algorithm{backend.Ed25519, backend.ECDSAP256, backend.MLDSA44}[i%3]
						label := fmt.Sprintf("g%d-k%d", g, i)
						k, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: alg, Label: label})
						if err != nil {
							errs <- err
							continue
						}
						s, err := k.Signer()
						if err == nil {
							err = signOnce(s, alg)
						}
						errs <- err
						errs <- signOnce(sharedSigner, backend.ECDSAP256)
						if i%2 == 1 {
							errs <- b.DeleteKey(ctx, backend.ByLabel(label))
						}
						_, err = b.Keys(ctx)
						errs <- err
					}
				})
			}
			// Meanwhile, everyone races for one label: exactly one wins.
			var won, lost atomic.Int32
			for range goroutines {
				wg.Go(func() {
					_, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: "contested"})
					switch {
					case err == nil:
						won.Add(1)
					case errors.Is(err, backend.ErrKeyExists):
						lost.Add(1)
					default:
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			require.Equal(t, int32(1), won.Load())
			require.Equal(t, int32(goroutines-1), lost.Load())

			want := 1 + goroutines*perGoroutine/2 + 1 // shared, the kept half, contested
			keys, err := b.Keys(ctx)
			require.NoError(t, err)
			require.Len(t, keys, want)
			if uri == "" {
				return
			}
			require.NoError(t, b.Close())
			b = openDir(t, uri)
			keys, err = b.Keys(ctx)
			require.NoError(t, err)
			require.Len(t, keys, want, "what concurrent writers stored is on disk")
			for _, k := range keys {
				exercise(t, k)
			}
		})
	}
}

// TestRetireWhileSigning closes the store (or deletes the key) while
// goroutines sign with it. Every Sign must return either a signature that
// verifies or the documented error: never a signature made with a
// half-wiped key. Under -race it also checks that wiping waits for
// operations in flight.
func TestRetireWhileSigning(t *testing.T) {
	algs := []backend.Algorithm{backend.ECDSAP256, backend.Ed25519, backend.RSA2048, backend.MLDSA44, backend.Ed448}
	for _, how := range []struct {
		name   string
		retire func(b backend.Backend, k backend.Key) error
		want   error
	}{
		{"Close", func(b backend.Backend, _ backend.Key) error { return b.Close() }, backend.ErrClosed},
		{"DeleteKey", func(b backend.Backend, k backend.Key) error {
			return b.DeleteKey(context.Background(), backend.ByID(k.ID()))
		}, backend.ErrKeyNotFound},
	} {
		for _, alg := range algs {
			open := stores(t)["memory"]
			if alg == backend.ECDSAP256 {
				open = stores(t)["postgres"] // the shared store's confirm is on the same path
			}
			t.Run(how.name+"/"+string(alg), func(t *testing.T) {
				b, _ := open(t)
				k, err := b.(backend.Importer).ImportKey(context.Background(), backend.KeySpec{Algorithm: alg, Label: "k"}, rawKeys()[alg])
				require.NoError(t, err)
				s, err := k.Signer()
				require.NoError(t, err)

				var signed, refused atomic.Int32
				stop := make(chan struct{})
				errs := make(chan error, 4)
				var wg sync.WaitGroup
				for range 4 {
					wg.Go(func() {
						for {
							select {
							case <-stop:
								errs <- nil
								return
							default:
							}
							switch err := signOnce(s, alg); {
							case err == nil:
								signed.Add(1)
							case errors.Is(err, how.want):
								refused.Add(1)
							default:
								errs <- err
								return
							}
						}
					})
				}
				for signed.Load() < 8 {
					time.Sleep(time.Millisecond)
				}
				require.NoError(t, how.retire(b, k))
				// Once retire has returned, nothing signs any more.
				require.ErrorIs(t, signOnce(s, alg), how.want)
				close(stop)
				wg.Wait()
				close(errs)
				for err := range errs {
					require.NoError(t, err)
				}
				require.Positive(t, signed.Load())
			})
		}
	}
}

func TestConcurrentDecrypt(t *testing.T) {
	k := generatedKey(t, backend.RSA2048)
	d, err := k.Decrypter()
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := range 32 {
		wg.Go(func() {
			msg := fmt.Appendf(nil, "message %d", i)
			ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public().(*rsa.PublicKey), msg, nil)
			if err == nil {
				var pt []byte
				pt, err = d.Decrypt(nil, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
				if err == nil && string(pt) != string(msg) {
					err = errors.New("wrong plaintext")
				}
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
