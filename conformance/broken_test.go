//lint:file-ignore SA1019 PKCS #1 v1.5 decryption is part of the backend contract, so the suite must exercise it

package conformance

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
)

// The suite must catch broken backends, or it proves nothing. Each case
// below wraps the real software backend and breaks one behaviour the way
// real stores get it wrong, runs the suite on it through a recordingT, and
// asserts that the matching checks FAIL while unrelated ones still pass.

// brokenBackend wraps a working backend; the non-nil hooks replace one
// behaviour each.
type brokenBackend struct {
	backend.Backend
	generate  func(ctx context.Context, spec backend.KeySpec) (backend.Key, error)
	key       func(ctx context.Context, ref backend.KeyRef) (backend.Key, error)
	signer    func(a backend.Algorithm, s backend.Signer) backend.Signer
	decrypter func(d backend.Decrypter) backend.Decrypter
}

func (b *brokenBackend) wrap(k backend.Key, err error) (backend.Key, error) {
	if err != nil {
		return nil, err
	}
	return brokenKey{k, b}, nil
}

func (b *brokenBackend) GenerateKey(ctx context.Context, spec backend.KeySpec) (backend.Key, error) {
	if b.generate != nil {
		return b.wrap(b.generate(ctx, spec))
	}
	return b.wrap(b.Backend.GenerateKey(ctx, spec))
}

func (b *brokenBackend) ImportKey(ctx context.Context, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
	return b.wrap(b.Backend.(backend.Importer).ImportKey(ctx, spec, priv))
}

func (b *brokenBackend) Key(ctx context.Context, ref backend.KeyRef) (backend.Key, error) {
	if b.key != nil {
		return b.wrap(b.key(ctx, ref))
	}
	return b.wrap(b.Backend.Key(ctx, ref))
}

func (b *brokenBackend) Keys(ctx context.Context) ([]backend.Key, error) {
	keys, err := b.Backend.Keys(ctx)
	for i, k := range keys {
		keys[i] = brokenKey{k, b}
	}
	return keys, err
}

type brokenKey struct {
	backend.Key
	b *brokenBackend
}

func (k brokenKey) Signer() (backend.Signer, error) {
	s, err := k.Key.Signer()
	if err != nil || k.b.signer == nil {
		return s, err
	}
	return k.b.signer(k.Algorithm(), s), nil
}

func (k brokenKey) Decrypter() (backend.Decrypter, error) {
	d, err := k.Key.Decrypter()
	if err != nil || k.b.decrypter == nil {
		return d, err
	}
	return k.b.decrypter(d), nil
}

// signerFunc is a Signer whose Sign and SignContext both call sign.
type signerFunc struct {
	backend.Signer
	sign func(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error)
}

func (s signerFunc) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.sign(context.Background(), rand, digest, opts)
}

func (s signerFunc) SignContext(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.sign(ctx, rand, digest, opts)
}

// decrypterFunc is a Decrypter whose Decrypt and DecryptContext both call
// decrypt.
type decrypterFunc struct {
	backend.Decrypter
	decrypt func(ctx context.Context, rand io.Reader, ct []byte, opts crypto.DecrypterOpts) ([]byte, error)
}

func (d decrypterFunc) Decrypt(rand io.Reader, ct []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return d.decrypt(context.Background(), rand, ct, opts)
}

func (d decrypterFunc) DecryptContext(ctx context.Context, rand io.Reader, ct []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return d.decrypt(ctx, rand, ct, opts)
}

// openBroken returns an Opener for the in-memory software backend wrapped by
// breaking.
func openBroken(breaking func(b *brokenBackend)) Opener {
	return func(ctx context.Context) (backend.Backend, error) {
		inner, err := backend.Open(ctx, "software:")
		if err != nil {
			return nil, err
		}
		b := &brokenBackend{Backend: inner}
		breaking(b)
		return b, nil
	}
}

// fastOptions keeps the runs on broken backends short.
func fastOptions(algs ...backend.Algorithm) []Option {
	return []Option{
		WithAlgorithms(algs...),
		WithSignatureBudget(300),
		WithConcurrency(4, 6),
		WithWycheproofLimit(0),
	}
}

type cellRef struct{ check, alg string }

func TestSuiteCatchesBrokenBackends(t *testing.T) {
	for _, tc := range []struct {
		name   string
		algs   []backend.Algorithm
		wyche  int // Wycheproof cases per file; 0 disables them
		breaks func(b *brokenBackend)
		fail   []cellRef
		pass   []cellRef
	}{
		{
			name: "ECDSA signatures as raw r||s instead of DER",
			algs: []backend.Algorithm{backend.ECDSAP256},
			breaks: func(b *brokenBackend) {
				b.signer = func(a backend.Algorithm, s backend.Signer) backend.Signer {
					return signerFunc{s, func(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
						der, err := s.SignContext(ctx, rand, digest, opts)
						if err != nil {
							return nil, err
						}
						return backend.ECDSADERToRaw(s.Public().(*ecdsa.PublicKey).Curve, der)
					}}
				}
			},
			fail: []cellRef{{"sign-ecdsa-sha256", "ECDSA-P256"}, {"ecdsa-der", "ECDSA-P256"},
				{"x509-certificate", "ECDSA-P256"}, {"tls13-server", "ECDSA-P256"}},
			pass: []cellRef{{"public-key", "ECDSA-P256"}, {"lifecycle", "ECDSA-P256"}, {"context-canceled", "ECDSA-P256"}},
		},
		{
			name: "PSS options ignored: PKCS#1 v1.5 signatures instead",
			algs: []backend.Algorithm{backend.RSA2048},
			breaks: func(b *brokenBackend) {
				b.signer = func(a backend.Algorithm, s backend.Signer) backend.Signer {
					return signerFunc{s, func(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
						if p, ok := opts.(*rsa.PSSOptions); ok {
							opts = p.HashFunc()
						}
						return s.SignContext(ctx, rand, digest, opts)
					}}
				}
			},
			fail: []cellRef{{"sign-pss-sha256", "RSA-2048"}, {"sign-pss-sha384", "RSA-2048"}, {"sign-pss-sha512", "RSA-2048"},
				{"sign-repeat", "RSA-2048"}, {"x509-certificate", "RSA-2048"}, {"tls13-server", "RSA-2048"}},
			pass: []cellRef{{"sign-pkcs1v15-sha256", "RSA-2048"}, {"decrypt-oaep-sha1", "RSA-2048"}},
		},
		{
			name: "PSS always with the largest salt, even for PSSSaltLengthEqualsHash",
			algs: []backend.Algorithm{backend.RSA2048},
			breaks: func(b *brokenBackend) {
				b.signer = func(a backend.Algorithm, s backend.Signer) backend.Signer {
					return signerFunc{s, func(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
						if p, ok := opts.(*rsa.PSSOptions); ok && p.SaltLength == rsa.PSSSaltLengthEqualsHash {
							opts = &rsa.PSSOptions{Hash: p.Hash, SaltLength: rsa.PSSSaltLengthAuto}
						}
						return s.SignContext(ctx, rand, digest, opts)
					}}
				}
			},
			fail: []cellRef{{"sign-pss-sha256", "RSA-2048"}, {"x509-certificate", "RSA-2048"}, {"tls13-server", "RSA-2048"}},
			pass: []cellRef{{"sign-pkcs1v15-sha256", "RSA-2048"}},
		},
		{
			name: "claims Ed448 but cannot generate it",
			algs: []backend.Algorithm{backend.Ed25519, backend.Ed448},
			breaks: func(b *brokenBackend) {
				b.generate = func(ctx context.Context, spec backend.KeySpec) (backend.Key, error) {
					if spec.Algorithm == backend.Ed448 {
						return nil, backend.Errorf("generate key", "broken", spec.Label, backend.ErrUnsupported)
					}
					return b.Backend.GenerateKey(ctx, spec)
				}
			},
			fail: []cellRef{{"generate", "Ed448"}},
			pass: []cellRef{{"generate", "Ed25519"}, {"sign-message", "Ed25519"}},
		},
		{
			name: "done contexts ignored",
			algs: []backend.Algorithm{backend.ECDSAP256},
			breaks: func(b *brokenBackend) {
				b.generate = func(_ context.Context, spec backend.KeySpec) (backend.Key, error) {
					return b.Backend.GenerateKey(context.Background(), spec)
				}
				b.key = func(_ context.Context, ref backend.KeyRef) (backend.Key, error) {
					return b.Backend.Key(context.Background(), ref)
				}
				b.signer = func(a backend.Algorithm, s backend.Signer) backend.Signer {
					return signerFunc{s, func(_ context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
						return s.Sign(rand, digest, opts)
					}}
				}
			},
			fail: []cellRef{{"context-canceled", "ECDSA-P256"}},
			pass: []cellRef{{"sign-ecdsa-sha256", "ECDSA-P256"}, {"lifecycle", "ECDSA-P256"}},
		},
		{
			name: "Sign overwrites the caller's digest",
			algs: []backend.Algorithm{backend.ECDSAP256},
			breaks: func(b *brokenBackend) {
				b.signer = func(a backend.Algorithm, s backend.Signer) backend.Signer {
					return signerFunc{s, func(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
						sig, err := s.SignContext(ctx, rand, digest, opts)
						clear(digest)
						return sig, err
					}}
				}
			},
			fail: []cellRef{{"sign-ecdsa-sha256", "ECDSA-P256"}, {"sign-invalid", "ECDSA-P256"}},
			pass: []cellRef{{"public-key", "ECDSA-P256"}},
		},
		{
			name: "SessionKeyLen ignored: bad padding is an error",
			algs: []backend.Algorithm{backend.RSA2048},
			breaks: func(b *brokenBackend) {
				b.decrypter = func(d backend.Decrypter) backend.Decrypter {
					return decrypterFunc{d, func(ctx context.Context, rand io.Reader, ct []byte, opts crypto.DecrypterOpts) ([]byte, error) {
						if _, ok := opts.(*rsa.PKCS1v15DecryptOptions); ok {
							opts = nil
						}
						return d.DecryptContext(ctx, rand, ct, opts)
					}}
				}
			},
			fail: []cellRef{{"decrypt-pkcs1v15-session", "RSA-2048"}},
			pass: []cellRef{{"decrypt-pkcs1v15", "RSA-2048"}, {"decrypt-invalid", "RSA-2048"}},
		},
		{
			name:  "decryption failures that do not wrap rsa.ErrDecryption",
			algs:  []backend.Algorithm{backend.RSA2048},
			wyche: 16,
			breaks: func(b *brokenBackend) {
				b.decrypter = func(d backend.Decrypter) backend.Decrypter {
					return decrypterFunc{d, func(ctx context.Context, rand io.Reader, ct []byte, opts crypto.DecrypterOpts) ([]byte, error) {
						pt, err := d.DecryptContext(ctx, rand, ct, opts)
						if errors.Is(err, rsa.ErrDecryption) {
							err = errors.New("token said CKR_ENCRYPTED_DATA_INVALID")
						}
						return pt, err
					}}
				}
			},
			fail: []cellRef{{"decrypt-invalid", "RSA-2048"}, {"decrypt-oaep-sha1", "RSA-2048"}, {"wycheproof-pkcs1-decrypt", "RSA-2048"}},
			pass: []cellRef{{"decrypt-pkcs1v15", "RSA-2048"}, {"sign-pkcs1v15-sha256", "RSA-2048"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := fastOptions(tc.algs...)
			if tc.wyche != 0 {
				opts = append(opts, WithWycheproofLimit(tc.wyche))
			}
			rep, rt := runRecorded(t, openBroken(tc.breaks), opts...)
			require.True(t, rt.Failed(), "the suite passed a broken backend")
			for _, want := range tc.fail {
				res, ok := rep.Lookup(want.check, want.alg)
				require.True(t, ok, "no result for %s/%s", want.check, want.alg)
				require.Equal(t, StatusFail, res.Status, "%s/%s: %s\n%s", want.check, want.alg, res.Detail, rt.transcript())
			}
			for _, want := range tc.pass {
				res, ok := rep.Lookup(want.check, want.alg)
				require.True(t, ok, "no result for %s/%s", want.check, want.alg)
				require.Equal(t, StatusPass, res.Status, "%s/%s: %s", want.check, want.alg, res.Detail)
			}
		})
	}
}

// TestSuitePassesOnSoftware is the control for the broken cases: the same
// harness and options on the unmodified backend record no failure, and
// every result has a status and, unless it passed, a reason.
func TestSuitePassesOnSoftware(t *testing.T) {
	algs := []backend.Algorithm{backend.RSA2048, backend.ECDSAP256, backend.Ed25519, backend.MLKEM768}
	rep, rt := runRecorded(t, openBroken(func(*brokenBackend) {}), append(fastOptions(algs...), WithWycheproofLimit(8))...)
	require.False(t, rt.Failed(), "%v\n%s", rep.Failures(), rt.transcript())
	require.NotEmpty(t, rep.Results())
	for _, res := range rep.Results() {
		require.Contains(t, []Status{StatusPass, StatusUnsupported, StatusSkip}, res.Status, "%+v", res)
		if res.Status != StatusPass {
			require.NotEmpty(t, res.Detail, "%s/%s has no reason", res.Check, res.Algorithm)
		}
	}
	for _, a := range algs {
		res, ok := rep.Lookup("generate", string(a))
		require.True(t, ok)
		require.Equal(t, StatusPass, res.Status)
	}
}

// The safety promise: on a persistent store, the suite leaves no key of its
// own behind, also when checks fail, and never touches a key it did not
// make.
func TestSuiteCleansUpAndLeavesOtherKeysAlone(t *testing.T) {
	for _, tc := range []struct {
		name     string
		breaks   func(b *brokenBackend)
		wantFail bool
	}{
		{"working backend", nil, false},
		{"backend failing checks", func(b *brokenBackend) {
			b.signer = func(a backend.Algorithm, s backend.Signer) backend.Signer {
				return signerFunc{s, func(ctx context.Context, rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
					if p, ok := opts.(*rsa.PSSOptions); ok {
						opts = p.HashFunc()
					}
					return s.SignContext(ctx, rand, digest, opts)
				}}
			}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			pass := filepath.Join(dir, "passphrase")
			require.NoError(t, os.WriteFile(pass, []byte("cleanup test"), 0o600))
			uri := "software:dir=" + filepath.Join(dir, "keys") + "?pin-source=file:" + pass

			b, err := backend.Open(ctx, uri)
			require.NoError(t, err)
			foreign, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "someone else's key"})
			require.NoError(t, err)
			require.NoError(t, b.Close())

			open := OpenURI(uri)
			if tc.breaks != nil {
				open = func(ctx context.Context) (backend.Backend, error) {
					inner, err := backend.Open(ctx, uri)
					if err != nil {
						return nil, err
					}
					bb := &brokenBackend{Backend: inner}
					tc.breaks(bb)
					return bb, nil
				}
			}
			rep, rt := runRecorded(t, open, append(fastOptions(backend.ECDSAP256, backend.RSA2048, backend.MLKEM768),
				WithWycheproofLimit(8))...)
			require.Equal(t, tc.wantFail, rt.Failed(), "%v", rep.Failures())

			b, err = backend.Open(ctx, uri)
			require.NoError(t, err)
			defer b.Close()
			keys, err := b.Keys(ctx)
			require.NoError(t, err)
			require.Len(t, keys, 1, "only the foreign key may remain")
			require.Equal(t, foreign.ID(), keys[0].ID())
			require.Equal(t, "someone else's key", keys[0].Label())
			require.True(t, publicEqual(foreign.Public(), keys[0].Public()))
		})
	}
}

// An Opener that fails is a failed run with the reason in the report, not a
// crash or a silent pass.
func TestSuiteReportsAnOpenerError(t *testing.T) {
	rep, rt := runRecorded(t, func(context.Context) (backend.Backend, error) {
		return nil, errors.New("no token in slot 0")
	})
	require.True(t, rt.Failed())
	res, ok := rep.Lookup("open", "backend")
	require.True(t, ok)
	require.Equal(t, StatusFail, res.Status)
	require.Contains(t, res.Detail, "no token in slot 0")
}
