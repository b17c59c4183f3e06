package backend_test

import (
	"context"
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
	"github.com/cryptoplug/cryptoplug/internal/scryptcost"
	"github.com/cryptoplug/cryptoplug/seal"
)

// keystore is a software directory store whose passphrase comes from an
// environment variable: the root of the chains these tests build.
type keystore struct {
	uri string
}

func newKeystore(t *testing.T, keys map[string]backend.Algorithm) keystore {
	t.Helper()
	t.Cleanup(scryptcost.SetForTests(scryptcost.Min))
	env := "CRYPTOPLUG_TEST_KS_" + strings.ToUpper(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()))
	t.Setenv(env, "keystore passphrase of "+t.Name())
	ks := keystore{uri: "software:dir=" + t.TempDir() + "?pin-source=env:" + env}
	b, err := backend.Open(t.Context(), ks.uri)
	require.NoError(t, err)
	defer b.Close()
	for label, alg := range keys {
		usage := backend.Usage(0)
		if alg.Decrypts() {
			usage = backend.UsageDecrypt
		}
		_, err := b.GenerateKey(t.Context(), backend.KeySpec{Algorithm: alg, Label: label, Usage: usage})
		require.NoError(t, err)
	}
	return ks
}

func (ks keystore) public(t *testing.T, label string) crypto.PublicKey {
	t.Helper()
	b, err := backend.Open(t.Context(), ks.uri)
	require.NoError(t, err)
	defer b.Close()
	k, err := b.Key(t.Context(), backend.ByLabel(label))
	require.NoError(t, err)
	return k.Public()
}

// sealTo writes secret sealed to the key and returns the file's path.
func sealTo(t *testing.T, pub crypto.PublicKey, secret string, opts seal.Options) string {
	t.Helper()
	blob, err := seal.SealWith(pub, []byte(secret), opts)
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "secret.sealed")
	require.NoError(t, os.WriteFile(p, seal.Armor(blob), 0o600))
	return p
}

func TestSealedSourceOpens(t *testing.T) {
	ks := newKeystore(t, map[string]backend.Algorithm{"kem": backend.MLKEM768, "rsa": backend.RSA2048})
	const secret = "token PIN 1234"
	for _, c := range []struct {
		name, key string
		opts      seal.Options
	}{
		{"ML-KEM-768", "kem", seal.Options{}},
		{"RSA-OAEP scheme 2", "rsa", seal.Options{}},
		{"RSA-OAEP-SHA1 scheme 3", "rsa", seal.Options{OAEPHash: crypto.SHA1}},
		{"RSA-OAEP-SHA256 scheme 3", "rsa", seal.Options{OAEPHash: crypto.SHA256}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := backend.SealedSource{Path: sealTo(t, ks.public(t, c.key), secret, c.opts), By: ks.uri, Key: c.key}
			got, err := backend.ReadSecret(t.Context(), src.String())
			require.NoError(t, err)
			require.Equal(t, secret, string(got))

			// The same source as a pin-source inside another URI: the
			// outer URI percent-encodes it once more and still parses.
			outer := &backend.URI{Scheme: "pkcs11", Path: []backend.Attr{{Name: "token", Value: "a;b", HasValue: true}},
				Query: []backend.Attr{{Name: "pin-source", Value: src.String(), HasValue: true}}}
			u, err := backend.ParseURI(outer.String())
			require.NoError(t, err)
			pin, ok, err := u.PIN()
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, secret, string(pin))
		})
	}
}

// A chain: a secret sealed to a key in keystore B, whose passphrase is
// sealed to a key in keystore A, whose passphrase is the chain's root.
func TestSealedSourceChain(t *testing.T) {
	a := newKeystore(t, map[string]backend.Algorithm{"root": backend.MLKEM768})
	dirB := t.TempDir()
	const passB = "passphrase of B"
	passBFile := sealTo(t, a.public(t, "root"), passB, seal.Options{})
	bURI := (&backend.URI{Scheme: "software", Path: []backend.Attr{{Name: "dir", Value: dirB, HasValue: true}},
		Query: []backend.Attr{{Name: "pin-source", Value: backend.SealedSource{Path: passBFile, By: a.uri, Key: "root"}.String(), HasValue: true}}}).String()
	b, err := backend.Open(t.Context(), bURI)
	require.NoError(t, err, "B opens with its unsealed passphrase")
	k, err := b.GenerateKey(t.Context(), backend.KeySpec{Algorithm: backend.RSA2048, Label: "leaf", Usage: backend.UsageDecrypt})
	require.NoError(t, err)
	require.NoError(t, b.Close())

	leaf := backend.SealedSource{Path: sealTo(t, k.Public(), "the pepper", seal.Options{OAEPHash: crypto.SHA256}), By: bURI, Key: "leaf"}
	got, err := backend.ReadSecret(t.Context(), leaf.String())
	require.NoError(t, err)
	require.Equal(t, "the pepper", string(got))
}

func TestSealedSourceRefuses(t *testing.T) {
	ks := newKeystore(t, map[string]backend.Algorithm{"kem": backend.MLKEM768, "rsa": backend.RSA2048, "ec": backend.ECDSAP256})
	other := newKeystore(t, map[string]backend.Algorithm{"kem": backend.MLKEM768})
	const secret = "never-in-an-error-4711"
	good := sealTo(t, ks.public(t, "kem"), secret, seal.Options{})
	armored, err := os.ReadFile(good)
	require.NoError(t, err)
	blob, err := seal.Dearmor(armored)
	require.NoError(t, err)
	write := func(data []byte) string {
		p := filepath.Join(t.TempDir(), "bad.sealed")
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	tampered := append([]byte(nil), blob...)
	tampered[len(tampered)-3] ^= 1
	newer := append([]byte(nil), blob...)
	newer[3] = '9'

	cases := []struct {
		name      string
		src       backend.SealedSource
		want      error
		wantInMsg string
	}{
		{"wrong key", backend.SealedSource{Path: good, By: other.uri, Key: "kem"}, seal.ErrWrongKey, "sealed to key ID"},
		{"no such key", backend.SealedSource{Path: good, By: ks.uri, Key: "nope"}, backend.ErrKeyNotFound, "find the unsealing key"},
		{"a signing key", backend.SealedSource{Path: good, By: ks.uri, Key: "ec"}, backend.ErrUnsupported, "cannot unseal"},
		{"an RSA key for an ML-KEM blob", backend.SealedSource{Path: good, By: ks.uri, Key: "rsa"}, seal.ErrUnsupportedKey, ""},
		{"tampered", backend.SealedSource{Path: write(seal.Armor(tampered)), By: ks.uri, Key: "kem"}, seal.ErrCorrupt, "tampered"},
		{"truncated file", backend.SealedSource{Path: write(armored[:len(armored)/2]), By: ks.uri, Key: "kem"}, seal.ErrTruncated, "truncated"},
		{"truncated blob", backend.SealedSource{Path: write(blob[:100]), By: ks.uri, Key: "kem"}, seal.ErrTruncated, "truncated"},
		{"unknown version", backend.SealedSource{Path: write(seal.Armor(newer)), By: ks.uri, Key: "kem"}, seal.ErrUnknownFormat, "unknown format"},
		{"plaintext file", backend.SealedSource{Path: write([]byte(secret + "\n")), By: ks.uri, Key: "kem"}, seal.ErrCorrupt, ""},
		{"missing file", backend.SealedSource{Path: filepath.Join(t.TempDir(), "nope"), By: ks.uri, Key: "kem"}, backend.ErrInvalidInput, "no such file"},
		{"too large", backend.SealedSource{Path: write(make([]byte, seal.MaxArmoredLen+1)), By: ks.uri, Key: "kem"}, backend.ErrInvalidInput, "more than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := os.ReadFile(c.src.Path)
			_, err := backend.ReadSecret(t.Context(), c.src.String())
			require.ErrorIs(t, err, c.want)
			require.Contains(t, err.Error(), c.wantInMsg)
			require.Contains(t, err.Error(), filepath.Base(c.src.Path), "the error names the file")
			require.NotContains(t, err.Error(), secret)
			require.NotContains(t, err.Error(), "passphrase of", "the unsealing backend's secret")
			after, _ := os.ReadFile(c.src.Path)
			require.Equal(t, before, after, "reading never rewrites the file")
		})
	}
}

func TestParseSealedSource(t *testing.T) {
	ok := backend.SealedSource{Path: "/var/lib/cp/a b;c?.sealed", By: "software:dir=/k;x?pin-source=env:P", Key: "seal key&1"}
	got, err := backend.ParseSealedSource(ok.String())
	require.NoError(t, err)
	require.Equal(t, ok, got)
	require.Equal(t, "sealed:/var/lib/cp/a%20b%3Bc%3F.sealed?by=software:dir%3D/k%3Bx%3Fpin-source%3Denv:P&key=seal%20key%261", ok.String())

	nest := func(inner string) string {
		return backend.SealedSource{Path: "/s", By: "software:dir=/k?pin-source=" + strings.ReplaceAll(strings.ReplaceAll(inner, "%", "%25"), "&", "%26"), Key: "k"}.String()
	}
	depth3 := nest(nest(ok.String()))
	_, err = backend.ParseSealedSource(depth3)
	require.NoError(t, err, "depth %d is allowed", backend.MaxSealedDepth)

	for name, src := range map[string]string{
		"not sealed":        "file:/x",
		"relative path":     "sealed:x?by=software:&key=k",
		"no path":           "sealed:?by=software:&key=k",
		"control in path":   "sealed:/a%0Ab?by=software:&key=k",
		"no by":             "sealed:/x?key=k",
		"no key":            "sealed:/x?by=software:",
		"empty key":         "sealed:/x?by=software:&key=",
		"unknown attribute": "sealed:/x?by=software:&key=k&pin=1",
		"twice":             "sealed:/x?by=software:&key=k&key=j",
		"malformed by":      "sealed:/x?by=%%&key=k",
		"pin-value in by":   backend.SealedSource{Path: "/x", By: "software:dir=/k?pin-value=1234", Key: "k"}.String(),
		"pin-value deeper":  nest(backend.SealedSource{Path: "/x", By: "software:dir=/k?pin-value=1234", Key: "k"}.String()),
		"too deep":          nest(depth3),
		"unescaped & in by": "sealed:/x?by=software:dir=/k?pin-source=env:P&other=1&key=k",
		"too long":          "sealed:/" + strings.Repeat("a", 9000) + "?by=software:&key=k",
	} {
		_, err := backend.ParseSealedSource(src)
		require.ErrorIs(t, err, backend.ErrInvalidInput, name)
		require.NotContains(t, err.Error(), "1234", name)
	}
	_, err = backend.ReadSecret(context.Background(), "sealed:/x?by=nosuch:&key=k")
	require.ErrorIs(t, err, backend.ErrUnsupported, "an unregistered scheme is named as such")
}

// FuzzParseSealedSource: any text parses or fails cleanly, and what parses
// prints back to the same source.
func FuzzParseSealedSource(f *testing.F) {
	f.Add(backend.SealedSource{Path: "/a b", By: "software:dir=/k?pin-source=env:P", Key: "k"}.String())
	f.Add("sealed:/x?by=software:&key=k")
	f.Add("sealed:/x?by=software:%3Fpin-source%3Dsealed:/y%253Fby%253Dsoftware:%2526key%253Dk&key=k")
	f.Fuzz(func(t *testing.T, s string) {
		src, err := backend.ParseSealedSource(s)
		if err != nil {
			return
		}
		again, err := backend.ParseSealedSource(src.String())
		if err != nil {
			t.Fatalf("%q parsed, its String %q does not: %v", s, src.String(), err)
		}
		if again != src {
			t.Fatalf("round trip changed %+v to %+v", src, again)
		}
	})
}

// A URI never prints a secret nested in one of its values: the by= URI of
// a sealed pin-source, or a backend URI given as a value.
func TestRedactedHidesNestedSecrets(t *testing.T) {
	inner := backend.SealedSource{Path: "/s", By: "software:dir=/k?pin-value=s3cr3t-1234", Key: "k"}
	twice := backend.SealedSource{Path: "/t", By: (&backend.URI{Scheme: "software", Query: []backend.Attr{{Name: "pin-source", Value: inner.String(), HasValue: true}}}).String(), Key: "k"}
	for _, v := range []string{inner.String(), twice.String(), "software:dir=/k?pin-value=s3cr3t-1234"} {
		u := &backend.URI{Scheme: "remote", Path: []backend.Attr{{Name: "https://h:1"}},
			Query: []backend.Attr{{Name: "pin-source", Value: v, HasValue: true}, {Name: "client-key-by", Value: v, HasValue: true}}}
		require.NotContains(t, u.Redacted(), "s3cr3t")
		require.Contains(t, u.Redacted(), "REDACTED")
		parsed, err := backend.ParseURI(u.Redacted())
		require.NoError(t, err, "the redacted form still parses")
		require.Equal(t, "remote", parsed.Scheme)
	}
	_, err := backend.ParseSealedSource(twice.String())
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	require.NotContains(t, err.Error(), "s3cr3t")
}

// Redacting a URI without secrets changes none of its values, so a URI
// built with String opens what it names.
func TestRedactedKeepsValuesWithoutSecrets(t *testing.T) {
	src := backend.SealedSource{Path: "/a b%c", By: "software:dir=/k l?pin-source=file:/p q", Key: "k 1"}
	u := &backend.URI{Scheme: "software", Query: []backend.Attr{
		{Name: "pin-source", Value: src.String(), HasValue: true},
		{Name: "ca-file", Value: "file:/x y%z", HasValue: true},
		{Name: "client-key-by", Value: "software:dir=/k l", HasValue: true},
	}}
	parsed, err := backend.ParseURI(u.String())
	require.NoError(t, err)
	require.Equal(t, u.Query, parsed.Query)
}

func TestSealedSourceAttrValue(t *testing.T) {
	src := backend.SealedSource{Path: "/a b", By: "tpm:swtpm=/s;dir=/k", Key: "seal"}
	u, err := backend.ParseURI("pkcs11:token=t?pin-source=" + src.AttrValue() + "&max-sessions=2")
	require.NoError(t, err)
	v, ok := u.Get("pin-source")
	require.True(t, ok)
	require.Equal(t, src.String(), v)
}

// A file: source's file sealed as it is reads the same through sealed:.
func TestSealedSourceDropsATrailingNewlineAsFileDoes(t *testing.T) {
	ks := newKeystore(t, map[string]backend.Algorithm{"kem": backend.MLKEM768})
	for _, content := range []string{"pin\n", "pin\r\n", "pin"} {
		plain := filepath.Join(t.TempDir(), "pin")
		require.NoError(t, os.WriteFile(plain, []byte(content), 0o600))
		viaFile, err := backend.ReadSecret(t.Context(), "file:"+plain)
		require.NoError(t, err)
		src := backend.SealedSource{Path: sealTo(t, ks.public(t, "kem"), content, seal.Options{}), By: ks.uri, Key: "kem"}
		viaSealed, err := backend.ReadSecret(t.Context(), src.String())
		require.NoError(t, err)
		require.Equal(t, viaFile, viaSealed)
		raw, err := src.Open(t.Context())
		require.NoError(t, err)
		require.Equal(t, content, string(raw), "Open gives the bytes as sealed")
	}
}

// refusingKey is a real software key whose store refuses to decrypt with
// ErrAuth, as a TPM key with a wrong authValue does; it pins the
// classification here without a TPM. The TPM backend's own test
// (TestPCRPolicy in backends/tpm) covers a refused PCR policy.
type refusingKey struct{ backend.Key }

func (k refusingKey) Decapsulator() (backend.Decapsulator, error) {
	d, err := k.Key.Decapsulator()
	return refusingDecapsulator{d}, err
}

type refusingDecapsulator struct{ backend.Decapsulator }

func (refusingDecapsulator) DecapsulateContext(context.Context, []byte) ([]byte, error) {
	return nil, fmt.Errorf("TPM_RC_POLICY_FAIL: %w", backend.ErrAuth)
}

func TestOpenSealedReportsARefusalAsSuch(t *testing.T) {
	ks := newKeystore(t, map[string]backend.Algorithm{"kem": backend.MLKEM768})
	b, err := backend.Open(t.Context(), ks.uri)
	require.NoError(t, err)
	defer b.Close()
	k, err := b.Key(t.Context(), backend.ByLabel("kem"))
	require.NoError(t, err)
	blob, err := seal.Seal(k.Public(), []byte("s"))
	require.NoError(t, err)
	_, err = backend.OpenSealed(t.Context(), refusingKey{k}, blob)
	require.ErrorIs(t, err, backend.ErrUnsealRefused)
	require.ErrorIs(t, err, backend.ErrAuth)
	require.NotErrorIs(t, err, seal.ErrCorrupt, "a refusal is not a damaged file")
}
