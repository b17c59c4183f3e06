package main

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
	"github.com/cryptoplug/cryptoplug/cmd/internal/sealcmd"
	"github.com/cryptoplug/cryptoplug/seal"
)

// sealedStore is a backend with a key "kek" to seal to, and another store
// with a key of the same label (another key to the file).
type sealedStore struct {
	uri, other string
	alg        string // what the file's algorithm line says
	wrongPIN   string // uri with a pin-source holding a wrong PIN; empty: the store has none
}

// The sealed-secret commands against each kind of store: a software
// keystore (ML-KEM, HPKE), SoftHSM2 (RSA-OAEP with SHA-1, all it offers)
// and swtpm (RSA-OAEP with SHA-256). The secret appears in no output but
// unseal's.
func TestSealCommands(t *testing.T) {
	const secret = "1234-token-pin-5678"
	gen := func(t *testing.T, uri, alg, usage string) string {
		run(t, "keys", "generate", uri, "-a", alg, "-l", "kek", "--usage", usage).ok(t)
		return uri
	}
	stores := map[string]func(t *testing.T) sealedStore{
		"software": func(t *testing.T) sealedStore {
			a, _ := newStore(t)
			b, _ := newStore(t)
			path, _, _ := strings.Cut(a, "?")
			wrong := path + "?pin-source=file:" + writeFile(t, "wrong", []byte("not the passphrase"), 0o600)
			return sealedStore{gen(t, a, "ML-KEM-768", "decapsulate"), gen(t, b, "ML-KEM-768", "decapsulate"), "HPKE ML-KEM-768", wrong}
		},
		"SoftHSM2": func(t *testing.T) sealedStore {
			tok := softhsmtest.Create(t)
			wrong := strings.Replace(tok.URI, tok.PINFile, writeFile(t, "wrong", []byte("00000000"), 0o600), 1)
			return sealedStore{gen(t, tok.URI, "RSA-2048", "decrypt"), gen(t, softhsmtest.Create(t).URI, "RSA-2048", "decrypt"), "RSA-OAEP-SHA-1", wrong}
		},
		"swtpm": func(t *testing.T) sealedStore {
			return sealedStore{gen(t, swtpmtest.Start(t).URI(t.TempDir()), "RSA-2048", "decrypt"), gen(t, swtpmtest.Start(t).URI(t.TempDir()), "RSA-2048", "decrypt"), "RSA-OAEP-SHA-256", ""}
		},
	}
	for name, newStores := range stores {
		t.Run(name, func(t *testing.T) {
			s := newStores(t)
			dir := t.TempDir()
			file := filepath.Join(dir, "pin.sealed")
			noSecret := func(t *testing.T, r result) result {
				t.Helper()
				require.NotContains(t, r.stdout+r.stderr, secret)
				return r
			}

			r := noSecret(t, runWith(t, runOpts{stdin: secret + "\n"}, "seal", s.uri, "-k", "kek", file).ok(t))
			require.Contains(t, r.stdout, "algorithm: "+s.alg)
			require.Contains(t, r.stdout, "in a URI: pin-source=sealed:")
			fi, err := os.Stat(file)
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

			var j sealcmd.JSON
			checked := noSecret(t, run(t, "seal", "check", s.uri, "-k", "kek", file, "-o", "json").ok(t))
			checked.jsonOut(t, &j)
			var fields map[string]any
			checked.jsonOut(t, &fields)
			require.ElementsMatch(t, []string{"file", "scheme", "algorithm", "key_id", "source", "pin_source"}, slices.Collect(maps.Keys(fields)),
				"the JSON fields scripts read (docs/sealing.md)")
			require.Equal(t, file, j.File)
			require.Contains(t, j.Algorithm, s.alg)
			require.NotEmpty(t, j.KeyID)
			require.True(t, strings.HasPrefix(j.Source, "sealed:"), j.Source)
			var inspected sealcmd.JSON
			noSecret(t, run(t, "seal", "inspect", file, "--json").ok(t)).jsonOut(t, &inspected)
			require.Equal(t, j.KeyID, inspected.KeyID, "the framing names the key check opened it with")
			require.Empty(t, inspected.Source, "inspect uses no key")
			require.Contains(t, noSecret(t, run(t, "seal", "source", s.uri, "-k", "kek", file).ok(t)).stdout, "in a URI: pin-source="+j.PINSource)

			require.Equal(t, secret, run(t, "unseal", s.uri, "-k", "kek", file).ok(t).stdout, "unseal prints the secret and only it")

			// Bad input: one clear line, a non-zero exit, the file as it was.
			before, err := os.ReadFile(file)
			require.NoError(t, err)
			tampered := filepath.Join(dir, "tampered.sealed")
			blob, err := seal.Dearmor(before)
			require.NoError(t, err)
			blob[len(blob)-1] ^= 1
			require.NoError(t, os.WriteFile(tampered, seal.Armor(blob), 0o600))
			notSealed := writeFile(t, "key.pem", []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), 0o600)
			cases := []sealCase{
				{"file exists", []string{"seal", s.uri, "-k", "kek", file}, "other", exitExists, []string{"exists"}},
				{"another store's key", []string{"unseal", s.other, "-k", "kek", file}, "", exitWrongKey, []string{"sealed to another key"}},
				{"missing key", []string{"seal", "check", s.uri, "-k", "nope", file}, "", exitNotFound, []string{"nope"}},
				{"tampered", []string{"seal", "check", s.uri, "-k", "kek", tampered}, "", exitCorrupt, []string{"tampered.sealed"}},
				{"not a sealed file", []string{"seal", "check", s.uri, "-k", "kek", notSealed}, "", exitCorrupt, []string{"key.pem"}},
				{"empty secret", []string{"seal", s.uri, "-k", "kek", filepath.Join(dir, "empty.sealed")}, "\n", exitUsage, []string{"empty"}},
				{"no --key", []string{"seal", "check", s.uri, file}, "", exitUsage, []string{"--key"}},
				{"unknown URI attribute", []string{"seal", "check", withAttr(s.uri, ";", "colour=blue"), "-k", "kek", file}, "", exitUsage, []string{`"colour"`}},
				{"pin-value on the command line", []string{"unseal", withAttr(s.uri, "?", "pin-value="+secret), "-k", "kek", file}, "", exitUsage, []string{"pin-value="}},
			}
			if s.wrongPIN != "" {
				cases = append(cases, sealCase{"wrong PIN", []string{"seal", "check", s.wrongPIN, "-k", "kek", file}, "", exitAuth, []string{"kek"}})
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					noSecret(t, runWith(t, runOpts{stdin: tc.stdin}, tc.args...)).fails(t, tc.code, tc.want...)
				})
			}
			after, err := os.ReadFile(file)
			require.NoError(t, err)
			require.Equal(t, before, after, "bad input changed nothing")
			require.NoFileExists(t, filepath.Join(dir, "empty.sealed"))
		})
	}

	t.Run("rotate, and a store that needs a PIN the URI does not name", func(t *testing.T) {
		uri, _ := newStore(t)
		run(t, "keys", "generate", uri, "-a", "ML-KEM-768", "-l", "kek", "--usage", "decapsulate").ok(t)
		run(t, "keys", "generate", uri, "-a", "RSA-2048", "-l", "kek2", "--usage", "decrypt").ok(t)
		file := filepath.Join(t.TempDir(), "pin.sealed")
		runWith(t, runOpts{stdin: secret}, "seal", uri, "-k", "kek", "--in", writeFile(t, "pin", []byte(secret+"\r\n"), 0o600), file).ok(t)
		r := run(t, "seal", "rotate", uri, "-k", "kek", "--to-key", "kek2", "--keep-old", file).ok(t)
		require.Contains(t, r.stdout, "algorithm: RSA-OAEP-SHA-256")
		require.Equal(t, secret, run(t, "unseal", uri, "-k", "kek2", file).ok(t).stdout)
		require.Equal(t, secret, run(t, "unseal", uri, "-k", "kek", file+".old").ok(t).stdout)
		run(t, "seal", "rotate", uri, "-k", "kek", file).fails(t, exitUsage, "--to-key")

		noPIN, _, _ := strings.Cut(uri, "?")
		run(t, "seal", "check", noPIN, "-k", "kek", file).fails(t, exitAuth, "pin-source=")
	})
}

// withAttr adds attr to uri's path (sep ";") or query (sep "?").
func withAttr(uri, sep, attr string) string {
	path, query, hasQuery := strings.Cut(uri, "?")
	switch {
	case sep == ";" && hasQuery:
		return path + ";" + attr + "?" + query
	case sep == ";":
		return uri + ";" + attr
	case hasQuery:
		return uri + "&" + attr
	}
	return uri + "?" + attr
}

// sealCase is a command line that must fail with code, its error line
// holding want.
type sealCase struct {
	name  string
	args  []string
	stdin string
	code  int
	want  []string
}
