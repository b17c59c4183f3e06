package software_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/mlkem"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/cloudflare/circl/sign/mldsa/mldsa44"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
	"github.com/cryptoplug/cryptoplug/internal/scryptcost"
)

// TestMain creates keystores at scrypt's lowest cost: the tests create
// hundreds, and the cost is not what they test.
func TestMain(m *testing.M) {
	scryptcost.SetForTests(scryptcost.Min)
	pgtest.Main(m) // stops the PostgreSQL cluster the PostgreSQL store's tests start
}

// rawKeys returns one standard-library (or circl) private key per algorithm,
// generated once per test binary: RSA-4096 generation is slow.
var rawKeys = sync.OnceValue(func() map[backend.Algorithm]crypto.PrivateKey {
	keys := map[backend.Algorithm]crypto.PrivateKey{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, alg := range backend.Algorithms() {
		wg.Go(func() {
			k := newRawKey(alg)
			mu.Lock()
			keys[alg] = k
			mu.Unlock()
		})
	}
	wg.Wait()
	return keys
})

func newRawKey(alg backend.Algorithm) crypto.PrivateKey {
	var (
		k   crypto.PrivateKey
		err error
	)
	switch alg {
	case backend.RSA2048, backend.RSA3072, backend.RSA4096:
		k, err = rsa.GenerateKey(rand.Reader, alg.Bits())
	case backend.ECDSAP256, backend.ECDSAP384, backend.ECDSAP521:
		k, err = ecdsa.GenerateKey(alg.Curve(), rand.Reader)
	case backend.Ed25519:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case backend.Ed448:
		_, k, err = ed448.GenerateKey(rand.Reader)
	case backend.MLDSA44:
		_, k, err = mldsa44.GenerateKey(rand.Reader)
	case backend.MLDSA65:
		_, k, err = mldsa65.GenerateKey(rand.Reader)
	case backend.MLDSA87:
		_, k, err = mldsa87.GenerateKey(rand.Reader)
	case backend.MLKEM768:
		k, err = mlkem.GenerateKey768()
	case backend.MLKEM1024:
		k, err = mlkem.GenerateKey1024()
	}
	if err != nil || k == nil {
		panic(fmt.Sprintf("generate %s: %v", alg, err))
	}
	return k
}

// rawPublic returns the public key of a raw private key.
func rawPublic(priv crypto.PrivateKey) crypto.PublicKey {
	switch k := priv.(type) {
	case *mlkem.DecapsulationKey768:
		return k.EncapsulationKey()
	case *mlkem.DecapsulationKey1024:
		return k.EncapsulationKey()
	}
	return priv.(crypto.Signer).Public()
}

// publicEqual compares public keys; ML-KEM keys have no Equal method.
func publicEqual(a, b crypto.PublicKey) bool {
	if ea, ok := a.(crypto.Encapsulator); ok {
		eb, ok := b.(crypto.Encapsulator)
		return ok && bytes.Equal(ea.Bytes(), eb.Bytes())
	}
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}

// usageFor gives RSA keys both usages, so one key serves sign and decrypt tests.
func usageFor(alg backend.Algorithm) backend.Usage {
	if alg.Decrypts() {
		return backend.UsageSign | backend.UsageDecrypt
	}
	return 0
}

// generatedStore is a memory store holding one generated key of every
// algorithm, labelled by algorithm name; made once per test binary. Tests
// must not close it or delete its keys.
var generatedStore = sync.OnceValues(func() (backend.Backend, error) {
	b, err := backend.Open(context.Background(), "software:")
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	errs := make([]error, len(backend.Algorithms()))
	for i, alg := range backend.Algorithms() {
		wg.Go(func() {
			_, errs[i] = b.GenerateKey(context.Background(), backend.KeySpec{Algorithm: alg, Label: string(alg), Usage: usageFor(alg)})
		})
	}
	wg.Wait()
	return b, errors.Join(errs...)
})

func generatedKey(t testing.TB, alg backend.Algorithm) backend.Key {
	t.Helper()
	b, err := generatedStore()
	require.NoError(t, err)
	k, err := b.Key(context.Background(), backend.ByLabel(string(alg)))
	require.NoError(t, err)
	return k
}

// openMemory opens a fresh in-memory store, closed when the test ends.
func openMemory(t testing.TB) backend.Backend {
	t.Helper()
	b, err := backend.Open(context.Background(), "software:")
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

const testPassphrase = "correct horse battery staple"

// newDirURI returns the URI of a directory store in a fresh temporary
// directory, its passphrase in a file outside it, at a test work factor.
func newDirURI(t testing.TB) (uri, dir string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "keys")
	return dirURI(t, dir, testPassphrase), dir
}

func dirURI(t testing.TB, dir, pass string) string {
	t.Helper()
	passFile := filepath.Join(t.TempDir(), "pass")
	require.NoError(t, os.WriteFile(passFile, []byte(pass+"\n"), 0o600))
	return "software:dir=" + dir + "?pin-source=file:" + passFile
}

// openDir opens uri, closing the store when the test ends.
func openDir(t testing.TB, uri string) backend.Backend {
	t.Helper()
	b, err := backend.Open(context.Background(), uri)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// requireErr checks that err is a *backend.Error wrapping want.
func requireErr(t testing.TB, err error, want error) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, want)
	var be *backend.Error
	require.ErrorAs(t, err, &be, "every error is a *backend.Error")
}

var testMessage = []byte("cryptoplug software backend test message")

// signDefault signs testMessage with k in the algorithm's plainest scheme
// and returns what verify needs.
func signDefault(t testing.TB, k backend.Key) (msg, sig []byte, opts crypto.SignerOpts) {
	t.Helper()
	s, err := k.Signer()
	require.NoError(t, err)
	msg, opts = testMessage, crypto.Hash(0)
	if h := hashFor(k.Algorithm()); h != 0 {
		d := h.New()
		d.Write(testMessage)
		msg, opts = d.Sum(nil), h
	}
	sig, err = s.Sign(rand.Reader, msg, opts)
	require.NoError(t, err)
	return msg, sig, opts
}

func hashFor(alg backend.Algorithm) crypto.Hash {
	switch alg.Family() {
	case backend.FamilyRSA:
		return crypto.SHA256
	case backend.FamilyECDSA:
		return alg.CurveHash()
	}
	return 0
}

// verify checks sig with the standard library or circl: never with the
// backend under test.
func verify(pub crypto.PublicKey, msg, sig []byte, opts crypto.SignerOpts) error {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			return rsa.VerifyPSS(p, pss.Hash, msg, sig, pss)
		}
		return rsa.VerifyPKCS1v15(p, opts.HashFunc(), msg, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(p, msg, sig) {
			return errors.New("ECDSA signature invalid")
		}
		return nil
	case ed25519.PublicKey:
		o, ok := opts.(*ed25519.Options)
		if !ok {
			o = &ed25519.Options{Hash: opts.HashFunc()}
		}
		return ed25519.VerifyWithOptions(p, msg, sig, o)
	case ed448.PublicKey:
		o, ok := opts.(ed448.SignerOptions)
		if !ok {
			o = ed448.SignerOptions{Hash: opts.HashFunc()}
		}
		if !ed448.VerifyAny(p, msg, sig, o) {
			return errors.New("Ed448 signature invalid")
		}
		return nil
	case *mldsa44.PublicKey:
		return boolErr(mldsa44.Verify(p, msg, nil, sig))
	case *mldsa65.PublicKey:
		return boolErr(mldsa65.Verify(p, msg, nil, sig))
	case *mldsa87.PublicKey:
		return boolErr(mldsa87.Verify(p, msg, nil, sig))
	}
	return fmt.Errorf("verify: unexpected public key %T", pub)
}

func boolErr(ok bool) error {
	if !ok {
		return errors.New("ML-DSA signature invalid")
	}
	return nil
}

// signAndVerify signs with k and verifies the signature against its public key.
func signAndVerify(t testing.TB, k backend.Key) {
	t.Helper()
	msg, sig, opts := signDefault(t, k)
	require.NoError(t, verify(k.Public(), msg, sig, opts), "%s signature verifies", k.Algorithm())
}

// exercise proves that k's private key works: it signs, or decapsulates a
// ciphertext made with its public key.
func exercise(t testing.TB, k backend.Key) {
	t.Helper()
	if k.Algorithm().Signs() {
		signAndVerify(t, k)
		return
	}
	d, err := k.Decapsulator()
	require.NoError(t, err)
	shared, ct := d.Encapsulator().Encapsulate()
	got, err := d.Decapsulate(ct)
	require.NoError(t, err)
	require.Equal(t, shared, got)
}
