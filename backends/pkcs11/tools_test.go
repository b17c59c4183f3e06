//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/stretchr/testify/require"
)

// tool runs a SoftHSM2 or OpenSC command line tool and returns its output.
func tool(t *testing.T, name string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed: run `make deps` (or `apt-get install softhsm2 opensc`)", name)
	}
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
	return string(out)
}

func pkcs11Tool(t *testing.T, tok *softhsmtest.Token, args ...string) string {
	t.Helper()
	base := []string{"--module", softhsmtest.ModulePath, "--token-label", tok.Label, "--login", "--pin", tok.PIN}
	return tool(t, "pkcs11-tool", append(base, args...)...)
}

// TestKeysFromOtherTools uses keys that pkcs11-tool generated and
// softhsm2-util imported, found by label, by ID and by key URI.
func TestKeysFromOtherTools(t *testing.T) {
	ctx := context.Background()
	b, tok := newToken(t, "")
	// Opened before the tools run: objects they add must still be found.
	pkcs11Tool(t, tok, "--keypairgen", "--key-type", "EC:prime256v1", "--label", "tool-ec", "--id", "0a0b", "--usage-sign")
	pkcs11Tool(t, tok, "--keypairgen", "--key-type", "rsa:2048", "--label", "tool-rsa", "--id", "0c0d", "--usage-sign")
	pkcs11Tool(t, tok, "--keypairgen", "--key-type", "EC:edwards25519", "--label", "tool-ed", "--id", "0e0f", "--usage-sign")

	imported, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(imported)
	require.NoError(t, err)
	pemFile := filepath.Join(t.TempDir(), "key.pem")
	require.NoError(t, os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	tool(t, "softhsm2-util", "--import", pemFile, "--token", tok.Label, "--label", "util-ec", "--id", "1234", "--pin", tok.PIN)

	tests := []struct {
		uri string
		alg backend.Algorithm
	}{
		{"pkcs11:object=tool-ec", backend.ECDSAP256},
		{"pkcs11:id=%0a%0b", backend.ECDSAP256},
		{"pkcs11:object=tool-rsa;id=%0c%0d;type=private", backend.RSA2048},
		{"pkcs11:object=tool-ed", backend.Ed25519},
		{"pkcs11:object=util-ec", backend.ECDSAP384},
		{"pkcs11:token=" + tok.Label + ";id=%12%34?module-path=" + softhsmtest.ModulePath, backend.ECDSAP384},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			ref, err := KeyRefFromURI(tt.uri)
			require.NoError(t, err)
			k, err := b.Key(ctx, ref)
			require.NoError(t, err)
			require.Equal(t, tt.alg, k.Algorithm())
			if k.Label() == "util-ec" {
				require.True(t, imported.PublicKey.Equal(k.Public()))
				s, err := k.Signer()
				require.NoError(t, err)
				d := sha256.Sum256([]byte("imported"))
				sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
				require.NoError(t, err)
				require.True(t, ecdsa.VerifyASN1(&imported.PublicKey, d[:], sig))
				return
			}
			signAndVerify(t, k)
		})
	}
	keys, err := b.Keys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 4)
}

// TestKeysSeenByOtherTools checks that pkcs11-tool lists keys made here
// with their label and ID, signs with them, and reads the same public key.
func TestKeysSeenByOtherTools(t *testing.T) {
	b, tok := newToken(t, "")
	ec := generate(t, b, backend.ECDSAP256, "ours-ec", 0)
	rsaKey := generate(t, b, backend.RSA2048, "ours-rsa", 0)

	list := pkcs11Tool(t, tok, "--list-objects", "--type", "privkey")
	for _, k := range []backend.Key{ec, rsaKey} {
		require.Contains(t, list, k.Label())
		require.Contains(t, list, hex.EncodeToString(k.ID()))
	}

	dir := t.TempDir()
	digest := sha256.Sum256([]byte("signed by pkcs11-tool"))
	in, sigFile, pubFile := filepath.Join(dir, "digest"), filepath.Join(dir, "sig"), filepath.Join(dir, "pub.der")
	require.NoError(t, os.WriteFile(in, digest[:], 0o600))

	id := hex.EncodeToString(ec.ID())
	pkcs11Tool(t, tok, "--sign", "--mechanism", "ECDSA", "--id", id, "--input-file", in, "--output-file", sigFile)
	raw, err := os.ReadFile(sigFile)
	require.NoError(t, err)
	require.Len(t, raw, 64)
	r, s := new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])
	require.True(t, ecdsa.Verify(ec.Public().(*ecdsa.PublicKey), digest[:], r, s), "pkcs11-tool's signature with our key")

	pkcs11Tool(t, tok, "--read-object", "--type", "pubkey", "--id", id, "--output-file", pubFile)
	pubDER, err := os.ReadFile(pubFile)
	require.NoError(t, err)
	pub, err := x509.ParsePKIXPublicKey(pubDER)
	require.NoError(t, err)
	require.True(t, ec.Public().(*ecdsa.PublicKey).Equal(pub))

	id = hex.EncodeToString(rsaKey.ID())
	pkcs11Tool(t, tok, "--sign", "--mechanism", "SHA256-RSA-PKCS", "--id", id, "--input-file", in, "--output-file", sigFile)
	sig, err := os.ReadFile(sigFile)
	require.NoError(t, err)
	inner := sha256.Sum256(digest[:]) // SHA256-RSA-PKCS hashes its input
	require.NoError(t, rsa.VerifyPKCS1v15(rsaKey.Public().(*rsa.PublicKey), crypto.SHA256, inner[:], sig))
}
