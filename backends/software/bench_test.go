package software_test

import (
	"context"
	"crypto"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

// The benchmarks compare each backend operation with the same operation on
// the standard library key it wraps ("baseline"): the difference is the
// backend's overhead (validation, the closed/deleted gate, error wrapping).
// Compare with: go test -run '^$' -bench . -benchmem -count 10 | go tool benchstat -col /impl -

// benchKey imports a fresh raw key of alg into a memory store.
func benchKey(b *testing.B, alg backend.Algorithm, usage backend.Usage) (crypto.PrivateKey, backend.Key) {
	b.Helper()
	raw := newRawKey(alg)
	k, err := openMemory(b).(backend.Importer).ImportKey(context.Background(), backend.KeySpec{Algorithm: alg, Label: "bench", Usage: usage}, raw)
	require.NoError(b, err)
	return raw, k
}

func BenchmarkSign(b *testing.B) {
	digest := sha256.Sum256(testMessage)
	for _, c := range []struct {
		name  string
		alg   backend.Algorithm
		input []byte
		opts  crypto.SignerOpts
	}{
		{"ECDSA-P256", backend.ECDSAP256, digest[:], crypto.SHA256},
		{"Ed25519", backend.Ed25519, testMessage, crypto.Hash(0)},
		{"RSA-2048", backend.RSA2048, digest[:], crypto.SHA256},
		{"RSA-2048-PSS", backend.RSA2048, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}},
		{"ML-DSA-65", backend.MLDSA65, testMessage, crypto.Hash(0)},
	} {
		raw, k := benchKey(b, c.alg, 0)
		s, err := k.Signer()
		require.NoError(b, err)
		b.Run(c.name+"/impl=backend", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(rand.Reader, c.input, c.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/impl=baseline", func(b *testing.B) {
			rs := raw.(crypto.Signer)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rs.Sign(rand.Reader, c.input, c.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecrypt(b *testing.B) {
	raw, k := benchKey(b, backend.RSA2048, backend.UsageDecrypt)
	d, err := k.Decrypter()
	require.NoError(b, err)
	opts := &rsa.OAEPOptions{Hash: crypto.SHA256}
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public().(*rsa.PublicKey), []byte("session key"), nil)
	require.NoError(b, err)
	b.Run("RSA-2048-OAEP/impl=backend", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Decrypt(rand.Reader, ct, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RSA-2048-OAEP/impl=baseline", func(b *testing.B) {
		rd := raw.(crypto.Decrypter)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := rd.Decrypt(rand.Reader, ct, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDecapsulate(b *testing.B) {
	raw, k := benchKey(b, backend.MLKEM768, 0)
	d, err := k.Decapsulator()
	require.NoError(b, err)
	_, ct := d.Encapsulator().Encapsulate()
	b.Run("ML-KEM-768/impl=backend", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := d.Decapsulate(ct); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ML-KEM-768/impl=baseline", func(b *testing.B) {
		dk := raw.(*mlkem.DecapsulationKey768)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := dk.Decapsulate(ct); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkOverhead runs backend and baseline in alternating batches, so
// that both see the same load on a shared machine, and reports the median
// of the per-pair time ratios as backend/baseline (1.00 = no overhead). Two
// separate benchmarks on a busy machine differ by more than the overhead
// being measured; paired batches do not.
func BenchmarkOverhead(b *testing.B) {
	digest := sha256.Sum256(testMessage)
	type pair struct{ backend, baseline func() error }
	sign := func(alg backend.Algorithm, input []byte, opts crypto.SignerOpts) pair {
		raw, k := benchKey(b, alg, 0)
		s, err := k.Signer()
		require.NoError(b, err)
		return pair{
			func() error { _, err := s.Sign(rand.Reader, input, opts); return err },
			func() error { _, err := raw.(crypto.Signer).Sign(rand.Reader, input, opts); return err },
		}
	}
	cases := []struct {
		name string
		pair pair
	}{
		{"Sign/ECDSA-P256", sign(backend.ECDSAP256, digest[:], crypto.SHA256)},
		{"Sign/Ed25519", sign(backend.Ed25519, testMessage, crypto.Hash(0))},
		{"Sign/RSA-2048", sign(backend.RSA2048, digest[:], crypto.SHA256)},
	}
	raw, k := benchKey(b, backend.RSA2048, backend.UsageDecrypt)
	d, err := k.Decrypter()
	require.NoError(b, err)
	opts := &rsa.OAEPOptions{Hash: crypto.SHA256}
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Public().(*rsa.PublicKey), []byte("session key"), nil)
	require.NoError(b, err)
	cases = append(cases, struct {
		name string
		pair pair
	}{"Decrypt/RSA-2048-OAEP", pair{
		func() error { _, err := d.Decrypt(rand.Reader, ct, opts); return err },
		func() error { _, err := raw.(crypto.Decrypter).Decrypt(rand.Reader, ct, opts); return err },
	}})

	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			const batch = 8
			run := func(f func() error) time.Duration {
				start := time.Now()
				for range batch {
					if err := f(); err != nil {
						b.Fatal(err)
					}
				}
				return time.Since(start)
			}
			var ratios []float64
			for i := 0; b.Loop(); i++ {
				var tb, tl time.Duration
				if i%2 == 0 { // alternate which goes first
					tb, tl = run(c.pair.backend), run(c.pair.baseline)
				} else {
					tl, tb = run(c.pair.baseline), run(c.pair.backend)
				}
				ratios = append(ratios, float64(tb)/float64(tl))
			}
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "backend/baseline")
		})
	}
}

// BenchmarkSignSharedStore compares signing through the PostgreSQL store
// (which confirms, before each operation, that its cache may still trust
// the key: two atomic loads and a clock read while notifications flow)
// with the memory store, on the same key.
func BenchmarkSignSharedStore(b *testing.B) {
	digest := sha256.Sum256(testMessage)
	raw := newRawKey(backend.ECDSAP256)
	for _, store := range []struct {
		name string
		open func() backend.Backend
	}{
		{"memory", func() backend.Backend { return openMemory(b) }},
		{"postgres", func() backend.Backend { return openDir(b, newPGURI(b, "")) }},
	} {
		k, err := store.open().(backend.Importer).ImportKey(context.Background(), backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "bench"}, raw)
		require.NoError(b, err)
		s, err := k.Signer()
		require.NoError(b, err)
		b.Run("ECDSA-P256/store="+store.name, func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			for b.Loop() {
				if _, err := s.SignContext(ctx, rand.Reader, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
