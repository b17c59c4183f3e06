package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/cryptoplug/cryptoplug/sealedfile"
	"github.com/cryptoplug/cryptoplug/wire"
)

// TestSoftHSM drives every key command against a real SoftHSM2 token and
// checks the results with the tools operators use: openssl, pkcs11-tool,
// ssh-keygen.
func TestSoftHSM(t *testing.T) {
	tok := softhsmtest.Create(t)
	uri := tok.URI
	dir := t.TempDir()
	msg := writeFile(t, "msg", []byte("a release to sign\n"), 0o644)

	t.Run("info and capabilities without login", func(t *testing.T) {
		noPIN := fmt.Sprintf("pkcs11:token=%s?module-path=%s", tok.Label, softhsmtest.ModulePath)
		r := run(t, "info", noPIN).ok(t)
		require.Contains(t, r.stdout, "kind:")
		require.Contains(t, r.stdout, "SoftHSM")
		var caps map[string][]string
		run(t, "capabilities", "-o", "json", noPIN).ok(t).jsonOut(t, &caps)
		require.Contains(t, caps["ECDSA-P256"], "sign")
		require.Contains(t, caps["RSA-2048"], "decrypt")
		require.NotContains(t, caps, "ML-DSA-65", "SoftHSM 2.6 has no ML-DSA")
	})

	keys := map[string]string{"ec": "ECDSA-P256", "rsa": "RSA-2048", "ed": "Ed25519"}
	t.Run("generate", func(t *testing.T) {
		for label, alg := range keys {
			var ki keyInfo
			run(t, "keys", "generate", uri, "--algorithm", alg, "--label", label, "-o", "json").ok(t).jsonOut(t, &ki)
			require.Equal(t, label, ki.Label)
			require.Equal(t, alg, ki.Algorithm)
			require.Equal(t, []string{"sign"}, ki.Usage)
			require.True(t, strings.HasPrefix(ki.URI, "pkcs11:token="+tok.Label+";object="+label+";id="), ki.URI)
		}
		require.ElementsMatch(t, []string{"ec", "rsa", "ed"}, listKeys(t, uri).labels())
		// pkcs11-tool sees the same objects on the token.
		objs := tool(t, nil, "pkcs11-tool", "--module", softhsmtest.ModulePath, "--token-label", tok.Label,
			"--login", "--pin", tok.PIN, "--list-objects", "--type", "privkey")
		for label := range keys {
			require.Contains(t, objs, "label:      "+label)
		}
	})

	pubs := map[string]string{}
	t.Run("pubkey", func(t *testing.T) {
		for label := range keys {
			r := run(t, "pubkey", uri, "--key", label).ok(t)
			pubs[label] = filepath.Join(dir, label+".pub.pem") // outlives this subtest
			require.NoError(t, os.WriteFile(pubs[label], []byte(r.stdout), 0o644))
			// openssl reads it, and it is the key keys show fingerprints.
			der := tool(t, []byte(r.stdout), "openssl", "pkey", "-pubin", "-outform", "DER")
			var ki keyInfo
			run(t, "keys", "show", uri, "-k", label, "-o", "json").ok(t).jsonOut(t, &ki)
			require.Equal(t, ki.SPKISHA256, sha256Hex([]byte(der)))

			pub, err := wire.ParsePublicKey(r.stdout)
			require.NoError(t, err)
			var j jwk
			run(t, "pubkey", uri, "--key", label, "--format", "jwk").ok(t).jsonOut(t, &j)
			want, err := newJWK(pub)
			require.NoError(t, err)
			require.Equal(t, *want, j)

			line := run(t, "pubkey", uri, "--key", label, "--format", "ssh").ok(t).stdout
			require.True(t, strings.HasSuffix(line, " "+label+"\n"), line)
			authorized := writeFile(t, label+".ssh", []byte(line), 0o644)
			fp := tool(t, nil, "ssh-keygen", "-l", "-E", "sha256", "-f", authorized)
			sp, err := ssh.NewPublicKey(pub)
			require.NoError(t, err)
			require.Contains(t, fp, ssh.FingerprintSHA256(sp))
		}
	})

	t.Run("sign and verify", func(t *testing.T) {
		for _, tc := range []struct {
			key     string
			flags   []string
			openssl []string // openssl's verification, with {pub} {sig} {msg}
		}{
			{"ec", nil, []string{"dgst", "-sha256", "-verify", "{pub}", "-signature", "{sig}", "{msg}"}},
			{"ec", []string{"--hash", "SHA-384"}, []string{"dgst", "-sha384", "-verify", "{pub}", "-signature", "{sig}", "{msg}"}},
			{"ec", []string{"--hash", "sha512"}, []string{"dgst", "-sha512", "-verify", "{pub}", "-signature", "{sig}", "{msg}"}},
			{"rsa", nil, []string{"dgst", "-sha256", "-verify", "{pub}", "-signature", "{sig}", "{msg}"}},
			{"rsa", []string{"--scheme", "PSS"}, []string{"dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:digest", "-verify", "{pub}", "-signature", "{sig}", "{msg}"}},
			{"rsa", []string{"--scheme", "pss", "--hash", "SHA-512", "--pss-salt", "auto"}, []string{"dgst", "-sha512", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:auto", "-verify", "{pub}", "-signature", "{sig}", "{msg}"}},
			{"rsa", []string{"--scheme", "PSS", "--pss-salt", "20"}, []string{"dgst", "-sha256", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:20", "-verify", "{pub}", "-signature", "{sig}", "{msg}"}},
			{"ed", nil, []string{"pkeyutl", "-verify", "-pubin", "-inkey", "{pub}", "-rawin", "-in", "{msg}", "-sigfile", "{sig}"}},
		} {
			name := tc.key + " " + strings.Join(tc.flags, " ")
			t.Run(name, func(t *testing.T) {
				sig := filepath.Join(t.TempDir(), "sig")
				args := append([]string{"sign", uri, "--key", tc.key, "--in", msg, "--out", sig}, tc.flags...)
				run(t, args...).ok(t)
				var ossl []string
				for _, a := range tc.openssl {
					a = strings.NewReplacer("{pub}", pubs[tc.key], "{sig}", sig, "{msg}", msg).Replace(a)
					ossl = append(ossl, a)
				}
				tool(t, nil, "openssl", ossl...)
				// cryptoplug verifies it with the key in the token and
				// with the PEM public key, and refuses a tampered message.
				run(t, append([]string{"verify", uri, "--key", tc.key, "--in", msg, "--signature", sig}, tc.flags...)...).ok(t)
				run(t, append([]string{"verify", "--pubkey", pubs[tc.key], "--in", msg, "--signature", sig}, tc.flags...)...).ok(t)
				other := writeFile(t, "other", []byte("a release to sign!\n"), 0o644)
				run(t, append([]string{"verify", "--pubkey", pubs[tc.key], "--in", other, "--signature", sig}, tc.flags...)...).
					fails(t, exitBadSig, "signature does not verify")
			})
		}
	})

	t.Run("sign from standard input, base64 and JSON", func(t *testing.T) {
		r := runWith(t, runOpts{stdin: "a release to sign\n"}, "sign", uri, "-k", "ec", "--signature-format", "base64").ok(t)
		sig := writeFile(t, "sig.b64", []byte(r.stdout), 0o644)
		run(t, "verify", uri, "-k", "ec", "--in", msg, "--signature", sig, "--signature-format", "base64").ok(t)
		var j signatureJSON
		runWith(t, runOpts{stdin: "a release to sign\n"}, "sign", uri, "-k", "rsa", "--scheme", "PSS", "-o", "json").ok(t).jsonOut(t, &j)
		require.Equal(t, "PSS", j.Scheme)
		require.Equal(t, "SHA-256", j.Hash)
		require.Equal(t, 32, j.SaltLength)
		raw := writeFile(t, "sig.raw", j.Signature, 0o644)
		run(t, "verify", uri, "-k", "rsa", "--scheme", "PSS", "--in", msg, "--signature", raw).ok(t)
	})

	t.Run("schemes SoftHSM refuses", func(t *testing.T) {
		// SoftHSM 2.6 has no Ed25519ph or Ed25519ctx (CKM_EDDSA ignores
		// the parameters, which the backend detects).
		run(t, "sign", uri, "-k", "ed", "--in", msg, "--scheme", "Ed25519ph").fails(t, exitUnsupported, "ed")
		run(t, "sign", uri, "-k", "ed", "--in", msg, "--context", "v1").fails(t, exitUnsupported)
		run(t, "keys", "generate", uri, "-a", "ML-DSA-65", "-l", "pq").fails(t, exitUnsupported, "pq")
		run(t, "sign", uri, "-k", "ec", "--in", msg, "--scheme", "PSS").fails(t, exitUsage, "ECDSA-P256 key signs with ECDSA")
	})

	t.Run("import keys openssl made", func(t *testing.T) {
		for _, tc := range []struct {
			label, alg string
			gen        []string
		}{
			{"imp-ed25519", "Ed25519", []string{"genpkey", "-algorithm", "ed25519"}},
			{"imp-p384", "ECDSA-P384", []string{"ecparam", "-name", "secp384r1", "-genkey", "-noout"}}, // SEC 1 "EC PRIVATE KEY"
			{"imp-rsa", "RSA-2048", []string{"genrsa", "-traditional", "2048"}},                        // PKCS #1 "RSA PRIVATE KEY"
			{"imp-p256", "ECDSA-P256", []string{"genpkey", "-algorithm", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"}},
		} {
			t.Run(tc.alg, func(t *testing.T) {
				keyPEM := tool(t, nil, "openssl", tc.gen...)
				keyFile := writeFile(t, "key.pem", []byte(keyPEM), 0o600)
				var ki keyInfo
				run(t, "keys", "import", uri, "--label", tc.label, "--in", keyFile, "-o", "json").ok(t).jsonOut(t, &ki)
				require.Equal(t, tc.alg, ki.Algorithm)
				// The token's key is the file's: a signature it makes
				// verifies under the public key openssl derives from the file.
				pub := writeFile(t, "pub.pem", []byte(tool(t, []byte(keyPEM), "openssl", "pkey", "-pubout")), 0o644)
				sig := filepath.Join(t.TempDir(), "sig")
				run(t, "sign", uri, "--key", tc.label, "--in", msg, "--out", sig).ok(t)
				if tc.alg == "Ed25519" {
					tool(t, nil, "openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msg, "-sigfile", sig)
				} else {
					h := map[string]string{"ECDSA-P384": "-sha384"}[tc.alg]
					if h == "" {
						h = "-sha256"
					}
					tool(t, nil, "openssl", "dgst", h, "-verify", pub, "-signature", sig, msg)
				}
			})
		}
		// From standard input, as `openssl genpkey | cryptoplug keys import` does.
		keyPEM := tool(t, nil, "openssl", "genpkey", "-algorithm", "ed25519")
		runWith(t, runOpts{stdin: keyPEM}, "keys", "import", uri, "--label", "imp-stdin").ok(t)
	})

	t.Run("csr and selfsign", func(t *testing.T) {
		csr := filepath.Join(dir, "ec.csr")
		run(t, "csr", uri, "-k", "ec", "--subject", "CN=www.example.com,O=Example\\, Inc.", "--dns", "www.example.com", "--out", csr).ok(t)
		out := tool(t, nil, "openssl", "req", "-in", csr, "-noout", "-verify", "-subject")
		require.Contains(t, out, "verify OK")
		require.Contains(t, out, "Example, Inc.")

		for _, key := range []string{"ec", "rsa", "ed"} {
			crt := filepath.Join(dir, key+".crt")
			run(t, "selfsign", uri, "-k", key, "--subject", "/CN="+key+" root/O=Example", "--ca", "--days", "30", "--out", crt).ok(t)
			require.Contains(t, tool(t, nil, "openssl", "verify", "-CAfile", crt, crt), ": OK")
			text := tool(t, nil, "openssl", "x509", "-in", crt, "-noout", "-text")
			require.Contains(t, text, "CA:TRUE")
		}
		// An existing file is never overwritten.
		run(t, "csr", uri, "-k", "ec", "--subject", "CN=x", "--out", csr).fails(t, exitUsage, "file exists")
	})

	t.Run("delete", func(t *testing.T) {
		run(t, "keys", "delete", uri, "--key", "imp-stdin").fails(t, exitUsage, "--yes")
		require.Contains(t, listKeys(t, uri).labels(), "imp-stdin", "nothing deleted without confirmation")
		r := run(t, "keys", "delete", uri, "--key", "imp-stdin", "--yes").ok(t)
		require.Contains(t, r.stdout, `deleted Ed25519 key "imp-stdin"`)
		run(t, "keys", "show", uri, "--key", "imp-stdin").fails(t, exitNotFound, "imp-stdin")
		objs := tool(t, nil, "pkcs11-tool", "--module", softhsmtest.ModulePath, "--token-label", tok.Label,
			"--login", "--pin", tok.PIN, "--list-objects")
		require.NotContains(t, objs, "imp-stdin")
	})

	// Bad input: a clear one-line error, a non-zero exit, and nothing
	// changed on the token.
	t.Run("bad input", func(t *testing.T) {
		before := listKeys(t, uri)
		wrongPIN := writeFile(t, "wrong.pin", []byte("99999999\n"), 0o600)
		badPEM := writeFile(t, "bad.pem", []byte("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"), 0o600)
		for _, tc := range []struct {
			name string
			args []string
			code int
			want []string
		}{
			{"unknown URI attribute", []string{"keys", "generate", uri + "&pin-sorce=file:/x", "-a", "ECDSA-P256", "-l", "new"}, exitUsage, []string{`unknown attribute "pin-sorce"`}},
			{"missing PIN file", []string{"keys", "generate", tok.URIWith("") + ".missing", "-a", "ECDSA-P256", "-l", "new"}, exitUsage, []string{"pin-source", "no such file"}},
			{"wrong PIN file", []string{"keys", "generate", strings.Replace(uri, tok.PINFile, wrongPIN, 1), "-a", "ECDSA-P256", "-l", "new"}, exitAuth, []string{"authentication failed"}},
			{"missing key", []string{"sign", uri, "--key", "no-such-key", "--in", msg}, exitNotFound, []string{"no-such-key", "not found"}},
			{"missing key to delete", []string{"keys", "delete", uri, "--key", "no-such-key", "--yes"}, exitNotFound, []string{"no-such-key"}},
			{"malformed PEM", []string{"keys", "import", uri, "--label", "new", "--in", badPEM}, exitUsage, []string{"malformed PKCS #8"}},
			{"duplicate label", []string{"keys", "generate", uri, "-a", "ECDSA-P256", "-l", "ec"}, exitExists, []string{"ec"}},
			{"PIN on the command line", []string{"keys", "list", strings.Replace(uri, "pin-source=file:"+tok.PINFile, "pin-value="+tok.PIN, 1)}, exitUsage, []string{"pin-value=REDACTED", "pin-source"}},
			{"unknown algorithm", []string{"keys", "generate", uri, "-a", "ECDSA-P999", "-l", "new"}, exitUsage, []string{"ECDSA-P999"}},
			{"no such token", []string{"keys", "list", strings.Replace(uri, tok.Label, "no-such-token", 1)}, exitNotFound, []string{"no-such-token"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				line := run(t, tc.args...).fails(t, tc.code, tc.want...)
				require.NotContains(t, line, tok.PIN, "the PIN never appears in an error")
				require.NotContains(t, line, "99999999")
			})
		}
		require.Equal(t, before, listKeys(t, uri), "bad input changed nothing on the token")
	})
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// A token PIN sealed to a key in another backend (pin-source=sealed:…)
// opens the token; a file sealed to another key, or tampered with, fails
// with its own exit code and changes nothing.
func TestSealedPIN(t *testing.T) {
	ctx := context.Background()
	tok := softhsmtest.Create(t)
	store, _ := newStore(t)
	b, err := backend.Open(ctx, store)
	require.NoError(t, err)
	for _, label := range []string{"seal-key", "other-key"} {
		_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.MLKEM768, Label: label})
		require.NoError(t, err)
	}
	require.NoError(t, b.Close())

	dir := t.TempDir()
	src := backend.SealedSource{Path: filepath.Join(dir, "pin.sealed"), By: store, Key: "seal-key"}
	_, err = sealedfile.Seal(ctx, src, []byte(tok.PIN), sealedfile.Options{})
	require.NoError(t, err)
	base := fmt.Sprintf("pkcs11:token=%s?module-path=%s&pin-source=", tok.Label, softhsmtest.ModulePath)

	run(t, "keys", "generate", base+src.AttrValue(), "-a", "ECDSA-P256", "-l", "sealed-ok").ok(t)
	require.Equal(t, []string{"sealed-ok"}, listKeys(t, tok.URI).labels())

	wrong := src
	wrong.Key = "other-key"
	run(t, "keys", "generate", base+wrong.AttrValue(), "-a", "ECDSA-P256", "-l", "x").fails(t, exitWrongKey, "sealed")

	blob, err := os.ReadFile(src.Path)
	require.NoError(t, err)
	tampered := src
	tampered.Path = filepath.Join(dir, "tampered.sealed")
	require.NoError(t, os.WriteFile(tampered.Path, blob[:len(blob)/2], 0o600))
	run(t, "keys", "generate", base+tampered.AttrValue(), "-a", "ECDSA-P256", "-l", "x").fails(t, exitCorrupt, "tampered.sealed")

	require.Equal(t, []string{"sealed-ok"}, listKeys(t, tok.URI).labels(), "the refused runs created nothing")
}
