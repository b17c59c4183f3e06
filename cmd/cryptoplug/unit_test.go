package main

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cloudflare/circl/sign/ed448"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11"
	"github.com/cryptoplug/cryptoplug/conformance"
	"github.com/cryptoplug/cryptoplug/seal"
)

func TestExitCodeOfErrors(t *testing.T) {
	wrap := func(err error) error {
		return &opError{cmd: "x", err: backend.Errorf("sign", "software", "k", fmt.Errorf("deep: %w", err))}
	}
	for _, tc := range []struct {
		err  error
		code int
	}{
		{nil, exitOK},
		{errors.New("disk full"), exitFailure},
		{usageErr("bad flag"), exitUsage},
		{wrap(backend.ErrInvalidInput), exitUsage},
		{wrap(backend.ErrKeyNotFound), exitNotFound},
		{wrap(pkcs11.ErrTokenNotFound), exitNotFound},
		{wrap(backend.ErrAuth), exitAuth},
		{wrap(fmt.Errorf("%w: %w", backend.ErrAuth, backend.ErrInvalidInput)), exitAuth},
		{fmt.Errorf("%w: no tty", errNoPIN), exitAuth},
		{wrap(backend.ErrUnsupported), exitUnsupported},
		{wrap(backend.ErrNotExtractable), exitUnsupported},
		{wrap(backend.ErrKeyExists), exitExists},
		{wrap(errBadSignature), exitBadSig},
		{wrap(errConformanceFail), exitConfFail},
		{wrap(backend.ErrCorrupt), exitCorrupt},
		{wrap(context.DeadlineExceeded), exitTimeout},
		{wrap(backend.ErrClosed), exitFailure},
		{wrap(backend.ErrUnsealRefused), exitAuth},
		{wrap(seal.ErrWrongKey), exitWrongKey},
		{wrap(seal.ErrCorrupt), exitCorrupt},
	} {
		require.Equal(t, tc.code, exitCode(tc.err), "%v", tc.err)
	}
	// Every code has a kind and a description, and kinds are distinct.
	kinds := map[string]bool{}
	for _, c := range exitCodes {
		require.NotEmpty(t, c.what)
		require.False(t, kinds[c.kind], c.kind)
		kinds[c.kind] = true
	}
}

func TestOneLine(t *testing.T) {
	require.Equal(t, "a; b c", oneLine("a\n\tb  c"))
	require.Equal(t, "bell?", oneLine("bell\a"))
	require.Equal(t, "pin [REDACTED] refused", oneLine("pin 4711x refused", []byte("4711x")))
	long := oneLine(strings.Repeat("é", maxErrorLen))
	require.LessOrEqual(t, len(long), maxErrorLen)
	require.True(t, utf8.ValidString(long))
	require.True(t, strings.HasSuffix(long, "..."))
}

func TestOpErrorNamesCommandURIAndKey(t *testing.T) {
	be := backend.Errorf("find key", "pkcs11:token=t", "web", backend.ErrKeyNotFound)
	e := &opError{cmd: "keys show", uri: "pkcs11:token=t", key: "web", err: be}
	require.Equal(t, "cryptoplug keys show: pkcs11:token=t: find key web: key not found", e.Error())
	e = &opError{cmd: "pubkey", uri: "tpm:simulator;dir=/k", key: "my key", err: errors.New("no SSH format")}
	require.Equal(t, `cryptoplug pubkey: tpm:simulator;dir=/k key "my key": no SSH format`, e.Error())
}

func TestWithPINValue(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"software:dir=/k", "software:dir=/k?pin-value=a%20b%26c%3Bd%25"},
		{"pkcs11:token=t?module-path=/m.so", "pkcs11:token=t?module-path=/m.so&pin-value=a%20b%26c%3Bd%25"},
		{"pkcs11:token=t?", "pkcs11:token=t?pin-value=a%20b%26c%3Bd%25"},
	} {
		got := withPINValue(tc.in, []byte("a b&c;d%"))
		require.Equal(t, tc.want, got)
		u, err := backend.ParseURI(got)
		require.NoError(t, err)
		pin, ok, err := u.PIN()
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "a b&c;d%", string(pin), "the PIN survives the URI grammar")
		require.NotContains(t, u.Redacted(), "a%20b")
	}
}

func TestWantsJSON(t *testing.T) {
	for args, want := range map[string]bool{
		"keys list -o json":     true,
		"keys list --json":      true,
		"--output=json keys":    true,
		"keys -ojson":           true,
		"keys list -o text":     false,
		"sign -- -o json":       false,
		"keys list --output":    false,
		"keys list json":        false,
		"keys list --output js": false,
	} {
		require.Equal(t, want, wantsJSON(strings.Fields(args)), args)
	}
}

// RFC 7638 §3.1 and RFC 8037 A.3 give the thumbprints of their example keys.
func TestJWKThumbprint(t *testing.T) {
	rsaJWK := jwk{Kty: "RSA", E: "AQAB", N: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}
	require.Equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", rsaJWK.thumbprint())
	okp := jwk{Kty: "OKP", Crv: "Ed25519", X: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
	require.Equal(t, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", okp.thumbprint())

	// newJWK of that Ed25519 key gives the same.
	x, err := b64.DecodeString(okp.X)
	require.NoError(t, err)
	j, err := newJWK(ed25519.PublicKey(x))
	require.NoError(t, err)
	require.Equal(t, okp.thumbprint(), j.Kid)
	pub, _, err := ed448.GenerateKey(rand.Reader)
	require.NoError(t, err)
	j, err = newJWK(pub)
	require.NoError(t, err)
	require.Equal(t, "Ed448", j.Crv)
	require.Equal(t, []byte(pub), must(b64.DecodeString(j.X)))
}

func TestParseSubject(t *testing.T) {
	n, err := parseSubject(`CN=www.example.com, O=Example\, Inc.,OU=ops,OU=web,C=DE,ST=Berlin,L=Berlin,DC=example`)
	require.NoError(t, err)
	require.Equal(t, "www.example.com", n.CommonName)
	require.Equal(t, []string{"Example, Inc."}, n.Organization)
	require.Equal(t, []string{"ops", "web"}, n.OrganizationalUnit)
	require.Equal(t, []string{"DE"}, n.Country)
	require.Len(t, n.ExtraNames, 1)
	n, err = parseSubject("/CN=a/O=b")
	require.NoError(t, err)
	require.Equal(t, "a", n.CommonName)
	require.Equal(t, []string{"b"}, n.Organization)
	for _, bad := range []string{"", "CN", "CN=", "XX=1", "CN=a,CN=b", "C=Germany", `CN=a\`, "CN=" + strings.Repeat("a", maxRDNValue+1), "CN=a\x01b", strings.Repeat("O=a,", 2000)} {
		_, err := parseSubject(bad)
		require.ErrorIs(t, err, errUsage, "%q", bad)
	}
}

func FuzzParseSubject(f *testing.F) {
	for _, s := range []string{"CN=a,O=b\\,c", "/CN=x/OU=y", "cn=é,dc=z", `CN=a\=b`, "C=DE"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSubject(s)
		if err != nil {
			require.ErrorIs(t, err, errUsage)
			return
		}
		for _, v := range append(append(append([]string{n.CommonName, n.SerialNumber}, n.Organization...), n.OrganizationalUnit...), n.Locality...) {
			require.LessOrEqual(t, len(v), maxRDNValue)
			require.True(t, utf8.ValidString(v))
			for _, r := range v {
				require.False(t, r < 0x20 || r == 0x7f, "control character in %q", v)
			}
		}
	})
}

// The scheme flags become exactly the standard option types a Go caller
// would pass, and the software backend (the reference) signs with them
// what backend.VerifySignature accepts.
func TestSchemeFlags(t *testing.T) {
	ctx := context.Background()
	b, err := backend.Open(ctx, "software:")
	require.NoError(t, err)
	defer b.Close()
	keys := map[backend.Algorithm]backend.Key{}
	for _, a := range []backend.Algorithm{backend.RSA2048, backend.ECDSAP384, backend.Ed25519, backend.Ed448, backend.MLDSA44} {
		keys[a], err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: a, Label: string(a)})
		require.NoError(t, err)
	}
	for _, tc := range []struct {
		alg   backend.Algorithm
		flags schemeFlags
		opts  crypto.SignerOpts // what the flags must mean
		err   error
	}{
		{backend.RSA2048, schemeFlags{}, crypto.SHA256, nil},
		{backend.RSA2048, schemeFlags{hash: "sha3-256"}, crypto.SHA3_256, nil},
		{backend.RSA2048, schemeFlags{scheme: "pss"}, &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 32}, nil},
		{backend.RSA2048, schemeFlags{scheme: "PSS", hash: "SHA-512", salt: "auto"}, &rsa.PSSOptions{Hash: crypto.SHA512, SaltLength: rsa.PSSSaltLengthAuto}, nil},
		{backend.RSA2048, schemeFlags{scheme: "PSS", salt: "7"}, &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 7}, nil},
		{backend.ECDSAP384, schemeFlags{}, crypto.SHA384, nil},
		{backend.Ed25519, schemeFlags{}, crypto.Hash(0), nil},
		{backend.Ed25519, schemeFlags{scheme: "Ed25519ctx", context: "app"}, &ed25519.Options{Context: "app"}, nil},
		{backend.Ed25519, schemeFlags{scheme: "ed25519ph"}, &ed25519.Options{Hash: crypto.SHA512}, nil},
		{backend.Ed25519, schemeFlags{scheme: "Ed25519ph", contextHex: "00ff"}, &ed25519.Options{Hash: crypto.SHA512, Context: "\x00\xff"}, nil},
		{backend.Ed448, schemeFlags{context: "c"}, ed448.SignerOptions{Scheme: ed448.ED448, Context: "c"}, nil},
		{backend.Ed448, schemeFlags{scheme: "Ed448ph"}, ed448.SignerOptions{Scheme: ed448.ED448Ph}, nil},
		{backend.MLDSA44, schemeFlags{}, crypto.Hash(0), nil},
		{backend.MLDSA44, schemeFlags{scheme: "ml-dsa", context: "v2"}, backend.MLDSAOptions{Context: []byte("v2")}, nil},

		{backend.ECDSAP384, schemeFlags{scheme: "PSS"}, nil, errUsage},
		{backend.ECDSAP384, schemeFlags{context: "x"}, nil, errUsage},
		{backend.RSA2048, schemeFlags{hash: "sha1"}, nil, errUsage},
		{backend.RSA2048, schemeFlags{salt: "auto"}, nil, errUsage},
		{backend.RSA2048, schemeFlags{scheme: "PSS", salt: "0"}, nil, errUsage},
		{backend.Ed25519, schemeFlags{hash: "sha256"}, nil, errUsage},
		{backend.Ed448, schemeFlags{prehashed: true}, nil, errUsage},
		{backend.MLDSA44, schemeFlags{context: strings.Repeat("c", 256)}, nil, errUsage},
		{backend.MLDSA44, schemeFlags{context: "a", contextHex: "00"}, nil, errUsage},
		{backend.MLKEM768, schemeFlags{}, nil, backend.ErrUnsupported},
	} {
		t.Run(fmt.Sprintf("%s %+v", tc.alg, tc.flags), func(t *testing.T) {
			if tc.flags.salt == "" {
				tc.flags.salt = "hash"
			}
			p, err := tc.flags.plan(tc.alg)
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.opts, p.req.Options())
			require.NoError(t, p.readSignInput(strings.NewReader("message"), "-"))
			k := keys[tc.alg]
			s, err := k.Signer()
			require.NoError(t, err)
			sig, err := s.SignContext(ctx, rand.Reader, p.req.Input, p.req.Options())
			require.NoError(t, err)
			req, err := backend.ParseSignOptions(tc.alg, k.Public(), p.req.Input, p.req.Options(), false)
			require.NoError(t, err)
			require.True(t, backend.VerifySignature(k.Public(), &req, sig))
		})
	}
}

func sampleReport(t *testing.T, hostile string) *conformance.Report {
	t.Helper()
	raw, err := json.Marshal(map[string]any{
		"backend": "pkcs11:token=" + hostile,
		"info":    map[string]any{"name": "pkcs11", "kind": "hsm", "model": hostile},
		"results": []map[string]any{
			{"check": "capabilities", "algorithm": "backend", "status": "pass", "seconds": 0.01},
			{"check": "sign-pss-sha256", "algorithm": "RSA-2048", "status": "fail", "detail": "salt ignored " + hostile,
				"fault": "store", "expected": "PSS with a 32-byte salt", "got": "PKCS #1 v1.5 " + hostile, "seconds": 1.5},
			{"check": "sign-pss-sha256", "algorithm": "ECDSA-P256", "status": "", "seconds": 0},
			{"check": "wycheproof-oaep", "algorithm": "RSA-2048", "status": "unsupported", "detail": "OAEP-SHA256 refused"},
			{"check": "reopen", "algorithm": "backend", "status": "skip", "detail": "not persistent"},
			{"check": hostile, "algorithm": hostile, "status": "pass", "detail": "remark " + hostile},
		},
	})
	require.NoError(t, err)
	reps, err := parseReports(raw)
	require.NoError(t, err)
	require.Len(t, reps, 1)
	return reps[0]
}

const hostile = `<script>alert(1)</script> | ![x](http://evil/) *bold* ` + "`code`\nnext line"

// Reports are anyone's JSON: the renderings show their text as text.
func TestReportRendering(t *testing.T) {
	rep := sampleReport(t, hostile)
	var md strings.Builder
	require.NoError(t, renderMarkdown(&md, []*conformance.Report{rep}))
	out := md.String()
	require.Contains(t, out, "**FAIL**: 1 of 6 results failed")
	require.Contains(t, out, "### sign-pss-sha256 / RSA-2048")
	require.Contains(t, out, "- **Fault:** the store")
	require.Contains(t, out, "- **Expected:** PSS with a 32-byte salt")
	require.Contains(t, out, "| wycheproof-oaep | RSA-2048 | unsupported | OAEP-SHA256 refused |")
	requireInert(t, out)

	var html strings.Builder
	require.NoError(t, renderHTML(&html, []*conformance.Report{rep}))
	h := html.String()
	require.Contains(t, h, `<span class="verdict FAIL">FAIL</span>`)
	require.Contains(t, h, `<td class="fail" title="salt ignored`)
	require.NotContains(t, h, "<script>")
	require.Contains(t, h, "&lt;script&gt;")
}

// requireInert checks Markdown for markup that came from the report: tags,
// links, images, and table-breaking newlines inside a row.
func requireInert(t *testing.T, md string) {
	t.Helper()
	require.NotRegexp(t, regexp.MustCompile(`<[A-Za-z/!?]`), md, "raw HTML")
	require.NotRegexp(t, regexp.MustCompile(`(^|[^\\])\]\(`), md, "a link")
	require.NotRegexp(t, regexp.MustCompile("(^|[^\\\\])`"), md, "code")
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "|") {
			require.True(t, strings.HasSuffix(line, "|"), "a table row broken by report text: %q", line)
		}
	}
}

func FuzzRenderReport(f *testing.F) {
	f.Add([]byte(`{"backend":"software:","results":[{"check":"a","algorithm":"b","status":"fail","detail":"<b>"}]}`))
	f.Add([]byte(`[{"backend":"x","results":[]},{"backend":"y","info":{"model":"|"},"results":[{"check":"c","algorithm":"backend","status":"skip"}]}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		reps, err := parseReports(data)
		if err != nil {
			require.ErrorIs(t, err, errUsage)
			return
		}
		var md, html strings.Builder
		require.NoError(t, renderMarkdown(&md, reps))
		require.NoError(t, renderHTML(&html, reps))
		requireInert(t, md.String())
		require.NotContains(t, strings.ToLower(html.String()), "<script")
	})
}

// A digest scheme hashes its input as it streams, so there is no size
// limit; a pure scheme reads the message whole, up to a bound.
func TestInputLimits(t *testing.T) {
	p, err := (&schemeFlags{salt: "hash"}).plan(backend.ECDSAP256)
	require.NoError(t, err)
	big := io.LimitReader(zeros{}, maxInputLen+1)
	require.NoError(t, p.readSignInput(big, "-"))
	require.Len(t, p.req.Input, 32)

	_, err = readInput(strings.NewReader("12345"), "-", 4)
	require.ErrorIs(t, err, errUsage)
	b, err := readInput(strings.NewReader("1234"), "-", 4)
	require.NoError(t, err)
	require.Equal(t, "1234", string(b))
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
