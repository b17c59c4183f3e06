package conformance

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
)

// The campaign proves the checks on the software backend. The same classes
// of bug must be caught where the suite meets them in production: through
// the remote backend, with the bug in the store behind the server, and on a
// PKCS #11 token, with the bug in a wrapper around the real pkcs11 backend
// on SoftHSM2. These tests take one mutant per class that can occur there.

// servedMutants are the mutations the "mutant" scheme opens, by name, for
// the reference server to serve.
var servedMutants sync.Map // name → *mutation

func init() {
	backend.Register("mutant", func(ctx context.Context, uri string) (backend.Backend, error) {
		m, ok := servedMutants.Load(strings.TrimPrefix(uri, "mutant:"))
		if !ok {
			return nil, fmt.Errorf("no mutant %q: %w", uri, backend.ErrInvalidInput)
		}
		return openMutant(m.(*mutation))(ctx)
	})
}

func mutantNamed(tb testing.TB, name string) mutant {
	tb.Helper()
	for _, mu := range mutants {
		if mu.name == name {
			return mu
		}
	}
	tb.Fatalf("no mutant named %q", name)
	return mutant{}
}

// requireCaught runs the suite with opts and requires the cells of mu.want
// to FAIL.
func requireCaught(t *testing.T, mu mutant, open Opener, opts ...Option) {
	t.Helper()
	rep, rt := runRecorded(t, open, append(append(campaignOptions(mu.algs, mu.checks), mu.opts...), opts...)...)
	for _, f := range rep.Failures() {
		t.Logf("FAIL %s", failLine(f))
	}
	require.True(t, rt.Failed(), "mutant not caught")
	for _, w := range mu.want {
		res, ok := rep.Lookup(w.check, w.alg)
		require.True(t, ok && res.Status == StatusFail, "%s/%s did not FAIL\n%s", w.check, w.alg, rt.transcript())
	}
}

// Store bugs behind the reference server, seen through the remote backend:
// signing, options, decryption, KEMs, lifecycle and concurrency. (Padding
// oracles, leaks and error types behind the server are the server's to
// hide, and contexts never reach it.)
func TestMutantsCaughtThroughRemote(t *testing.T) {
	truncate4K := mutant{
		name: "Ed25519 signs only the first 4 KiB of a message", class: "signing",
		algs: []backend.Algorithm{ed25}, checks: []string{"sign-long-message"}, want: cells("sign-long-message", ed25),
		m: mutation{sign: truncating(4 << 10)},
	}
	for _, mu := range []mutant{
		mutantNamed(t, "ECDSA nonce constant for every signature"),
		truncate4K,
		mutantNamed(t, "Ed448: the token drops the context"),
		mutantNamed(t, "OAEP label ignored"),
		mutantNamed(t, "PKCS#1 v1.5 block without the zero separator accepted"),
		mutantNamed(t, "ML-KEM implicit-rejection key constant (all zero)"),
		mutantNamed(t, "Keys() drops keys whose label is not ASCII"),
		mutantNamed(t, "ECDSA nonce shared by overlapping calls (an RNG state read twice)"),
	} {
		// No "#" in the name: the server's SQLite path is made from it.
		t.Run(mu.class+"/"+strings.ReplaceAll(mu.name, "#", ""), func(t *testing.T) {
			name := fmt.Sprintf("%p", &mu.m)
			servedMutants.Store(name, &mu.m)
			defer servedMutants.Delete(name)
			in := refservertest.Start(t, refservertest.Options{BackendURI: "mutant:" + name})
			requireCaught(t, mu, OpenURI(in.RemoteURI(t)))
		})
	}
}

// Bugs in a backend's own wrapper around a real PKCS #11 token (SoftHSM2):
// signing, options, padding, decryption, lifecycle, errors, contexts and
// concurrency. (SoftHSM2 offers no ML-KEM.)
func TestMutantsCaughtOnSoftHSM(t *testing.T) {
	hashAgain := mutant{
		name: "ECDSA over the hash of the digest, hashed again by the wrapper", class: "signing",
		algs: []backend.Algorithm{p256}, checks: []string{"sign-ecdsa-sha256"}, want: cells("sign-ecdsa-sha256", p256),
		m: mutation{signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
			if c.opts != nil && c.opts.HashFunc() == crypto.SHA256 {
				c.input = hashOf(crypto.SHA256, c.input)
			}
			return next(c)
		}},
	}
	sharedSession := mutant{
		name: "One session for all callers, in the wrapper", class: "concurrency",
		model: "https://github.com/aws/amazon-freertos/issues/262",
		algs:  []backend.Algorithm{p256}, checks: []string{"concurrency"}, want: cells("concurrency"),
		m: mutation{signCall: func(k *mkey, c signCall, next func(signCall) ([]byte, error)) ([]byte, error) {
			o := keyState(k, func() *overlap { return &overlap{} })
			o.mu.Lock()
			o.shared = bytes.Clone(c.input)
			o.mu.Unlock()
			o.enter()
			defer o.leave()
			o.mu.Lock()
			c.input = bytes.Clone(o.shared)
			o.mu.Unlock()
			return next(c)
		}},
	}
	leakOnImport := mutant{
		name: "ImportKey errors print the private key in hex, in the wrapper", class: "errors",
		algs: []backend.Algorithm{p256}, checks: []string{"errors", "error-leak"}, want: append(cells("errors", p256), cells("error-leak")...),
		m: mutation{importKey: func(b *mutantBackend, ctx context.Context, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
			k, err := b.importKey(ctx, spec, priv)
			if err != nil {
				der, _ := x509.MarshalPKCS8PrivateKey(priv)
				return nil, backend.Errorf("import key", "pkcs11", spec.Label, fmt.Errorf("%w (key %x)", err, der))
			}
			return k, nil
		}},
	}
	for _, mu := range []mutant{
		hashAgain,
		mutantNamed(t, "(*rsa.PSSOptions)(nil) dereferenced: a panic"),
		mutantNamed(t, "SessionKeyLen fallback all zero"),
		mutantNamed(t, "Ciphertexts longer than the modulus accepted when the extra bytes are zero"),
		mutantNamed(t, "DeleteKey matches the ID and ignores the label"),
		mutantNamed(t, "Store errors passed through raw, not as *backend.Error"),
		leakOnImport,
		mutantNamed(t, "DecryptContext with a nil context panics"),
		sharedSession,
	} {
		t.Run(mu.class+"/"+mu.name, func(t *testing.T) {
			requireCaught(t, mu, openWrapped(&mu.m, OpenURI(softhsmtest.NewToken(t))))
		})
	}
}
