package tpm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"

	keyfile "github.com/foxboron/go-tpm-keyfiles"
	"github.com/google/go-tpm/tpm2"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

func TestKeyFileFormat(t *testing.T) {
	dir := t.TempDir()
	b := openSim(t, dir)
	k := generate(t, b, backend.ECDSAP256, "web server", 0)

	path := filepath.Join(dir, k.ID().String()+".tss2.pem")
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	// The label is a line before the PEM block, where every PEM reader
	// skips text; the TSS2 structure has no optional field tpm2-openssl
	// would refuse.
	require.True(t, bytes.HasPrefix(data, []byte("Label: web server\n-----BEGIN TSS2 PRIVATE KEY-----\n")), "%s", data)

	tk, err := keyfile.Decode(data)
	require.NoError(t, err)
	require.True(t, tk.Keytype.Equal(keyfile.OIDLoadableKey))
	require.Equal(t, tpm2.TPMRHOwner, tk.Parent)
	require.True(t, tk.EmptyAuth)
	require.Empty(t, tk.Description)
	require.Empty(t, tk.Policy)
	require.Empty(t, tk.AuthPolicy)
	pub, err := tk.PublicKey()
	require.NoError(t, err)
	require.True(t, pub.(*ecdsa.PublicKey).Equal(k.Public()))

	tpub, err := tk.Pubkey.Contents()
	require.NoError(t, err)
	a := tpub.ObjectAttributes
	require.True(t, a.FixedTPM && a.FixedParent && a.SensitiveDataOrigin && a.UserWithAuth && a.SignEncrypt)
	require.False(t, a.Decrypt || a.Restricted)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, []string{k.ID().String() + ".tss2.pem", srkPinFile}, names, "no temporary files left behind")
}

// TestKeyFileLoadsWithKeyfiles checks interoperability: go-tpm-keyfiles
// loads our file under the SRK it derives itself (the TSS2 convention for
// parent 0x40000001) and signs with it.
func TestKeyFileLoadsWithKeyfiles(t *testing.T) {
	dir := t.TempDir()
	b := openSim(t, dir)
	k := generate(t, b, backend.ECDSAP256, "interop", 0)
	data, err := os.ReadFile(filepath.Join(dir, k.ID().String()+".tss2.pem"))
	require.NoError(t, err)
	tk, err := keyfile.Decode(data)
	require.NoError(t, err)

	tpm, _, unlock := rawTPM(t, b, nil)
	defer unlock()
	digest := digestOf(crypto.SHA256)
	sess := keyfile.NewTPMSession(nopCloser{tpm})
	sig, err := keyfile.SignASN1(sess, tk, nil, nil, digest, tpm2.TPMAlgSHA256, tpm2.TPMAlgECC)
	require.NoError(t, err)
	require.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest, sig))
	flushTransients(tpm) // keyfiles leaves its SRK and key loaded
	b.dev.stale = true   // and so did we lose ours: reconnect next time
}

type nopCloser struct{ tpm2Transport }

func (nopCloser) Close() error { return nil }

func TestCorruptKeyFile(t *testing.T) {
	dir := t.TempDir()
	b := openSim(t, dir)
	good := generate(t, b, backend.ECDSAP256, "good", 0)
	id := backend.KeyID{0xba, 0xd0}
	require.NoError(t, os.WriteFile(filepath.Join(dir, id.String()+".tss2.pem"), []byte("-----BEGIN TSS2 PRIVATE KEY-----\nAAAA\n-----END TSS2 PRIVATE KEY-----\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a key"), 0o600))

	keys, err := b.Keys(testContext(t))
	require.ErrorIs(t, err, backend.ErrCorrupt, "the damaged file is reported, not hidden")
	require.Contains(t, err.Error(), id.String()+".tss2.pem", "the error names the file")
	require.NotContains(t, err.Error(), "notes.txt", "files that are not key files are not keys")
	require.Len(t, keys, 1, "the usable keys come with the error")
	require.Equal(t, good.ID(), keys[0].ID())

	_, err = b.Key(testContext(t), backend.ByID(id))
	require.ErrorIs(t, err, backend.ErrCorrupt)
	_, err = b.GenerateKey(testContext(t), backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "shadow", ID: id})
	require.ErrorIs(t, err, backend.ErrKeyExists)

	s, err := good.Signer()
	require.NoError(t, err)
	_, err = s.Sign(rand.Reader, digestOf(crypto.SHA256), crypto.SHA256)
	require.NoError(t, err)
}

// legacyKeyFile is a key file as versions before the label line wrote it:
// the label in the TSS2 description, which tpm2-openssl refuses.
func legacyKeyFile(t *testing.T, data []byte, label string) []byte {
	t.Helper()
	tk, err := keyfile.Decode(data)
	require.NoError(t, err)
	tk.AddOptions(keyfile.WithDescription(label))
	var b bytes.Buffer
	require.NoError(t, keyfile.Encode(&b, tk))
	return b.Bytes()
}

// TestLegacyKeyFileMigrated checks that a key file with the label in its
// description is read with that label and rewritten in today's form: the
// same key, a label line, no description.
func TestLegacyKeyFileMigrated(t *testing.T) {
	dir := t.TempDir()
	b := openSim(t, dir)
	k := generate(t, b, backend.ECDSAP256, "legacy key", 0)
	path := filepath.Join(dir, k.ID().String()+".tss2.pem")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, legacyKeyFile(t, data, "legacy key"), 0o600))

	// The parse alone keeps the label and marks the file for rewriting.
	old, err := os.ReadFile(path)
	require.NoError(t, err)
	obj, err := parseKeyFile(filepath.Base(path), old)
	require.NoError(t, err)
	require.Equal(t, "legacy key", obj.label)
	require.True(t, obj.legacy)

	keys, err := b.Keys(testContext(t))
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Equal(t, "legacy key", keys[0].Label())
	require.Equal(t, k.ID(), keys[0].ID())

	now, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(now, []byte("Label: legacy key\n-----BEGIN TSS2 PRIVATE KEY-----\n")), "%s", now)
	tk, err := keyfile.Decode(now)
	require.NoError(t, err)
	require.Empty(t, tk.Description)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	s, err := keys[0].Signer()
	require.NoError(t, err)
	d := digestOf(crypto.SHA256)
	sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
	require.NoError(t, err)
	require.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d, sig))
}

// TestKeyFileNamesAndLabels checks how a key file's name and contents give
// its ID and label, for files this backend wrote and files other tools
// wrote, and which files are not keys.
func TestKeyFileNamesAndLabels(t *testing.T) {
	dir := t.TempDir()
	b := openSim(t, dir)
	k := generate(t, b, backend.ECDSAP256, "ours", 0)
	ours, err := os.ReadFile(filepath.Join(dir, k.ID().String()+".tss2.pem"))
	require.NoError(t, err)
	bare := ours[bytes.Index(ours, []byte("-----BEGIN")):] // as tpm2-openssl writes it
	tk, err := keyfile.Decode(bare)
	require.NoError(t, err)
	tpub, err := tk.Pubkey.Contents()
	require.NoError(t, err)
	name, err := tpm2.ObjectName(tpub)
	require.NoError(t, err)
	tpmName := backend.KeyID(name.Buffer)
	needsAuth := func() []byte {
		tk, err := keyfile.Decode(bare)
		require.NoError(t, err)
		tk.EmptyAuth = false
		var out bytes.Buffer
		require.NoError(t, keyfile.Encode(&out, tk))
		return out.Bytes()
	}()
	signedPolicy := func() []byte {
		tk, err := keyfile.Decode(bare)
		require.NoError(t, err)
		tk.Policy = []*keyfile.TPMPolicy{{CommandCode: int(tpm2.TPMCCPolicySigned), CommandPolicy: []byte{1}}}
		var out bytes.Buffer
		require.NoError(t, keyfile.Encode(&out, tk))
		return out.Bytes()
	}()
	certPEM := []byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n")

	tests := []struct {
		name, file string
		data       []byte
		label      string
		id         backend.KeyID
		err        error // nil, errNotKeyFile, backend.ErrUnsupported or backend.ErrCorrupt
		authValue  bool  // the file says the key has an auth value
	}{
		{name: "ours", file: k.ID().String() + ".tss2.pem", data: ours, label: "ours", id: k.ID()},
		{name: "foreign, named", file: "web.pem", data: bare, label: "web", id: tpmName},
		{name: "foreign, label line", file: "web.pem", data: append([]byte("Label: Web Server ✓\r\n"), bare...), label: "Web Server ✓", id: tpmName},
		{name: "label line after other text", file: "x.pem", data: append([]byte("made by hand\nLabel: x-ray\n"), bare...), label: "x-ray", id: tpmName},
		{name: "description", file: "web.pem", data: legacyKeyFile(t, bare, "from the description"), label: "from the description", id: tpmName},
		{name: "description not a label", file: "web.pem", data: legacyKeyFile(t, bare, "two\nlines"), label: "web", id: tpmName},
		{name: "hex name", file: "cafe.pem", data: bare, label: "cafe", id: backend.KeyID{0xca, 0xfe}},
		{name: "label line not a label", file: "web.pem", data: append([]byte("Label: \t\n"), bare...), err: backend.ErrCorrupt},
		{name: "empty label line", file: "web.pem", data: append([]byte("Label: \n"), bare...), err: backend.ErrCorrupt},
		{name: "certificate", file: "cert.pem", data: certPEM, err: errNotKeyFile},
		{name: "not PEM", file: "notes.pem", data: []byte("hello"), err: errNotKeyFile},
		{name: "not PEM, our name", file: "beef.tss2.pem", data: []byte("hello"), err: backend.ErrCorrupt},
		{name: "damaged TSS2", file: "web.pem", data: []byte("-----BEGIN TSS2 PRIVATE KEY-----\nAAAA\n-----END TSS2 PRIVATE KEY-----\n"), err: backend.ErrCorrupt},
		{name: "needs auth", file: "web.pem", data: needsAuth, label: "web", id: tpmName, authValue: true},
		{name: "needs a policy cryptoplug does not run", file: "web.pem", data: signedPolicy, err: backend.ErrUnsupported},
	}
	other := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(other, tt.file)
			require.NoError(t, os.WriteFile(path, tt.data, 0o600))
			defer os.Remove(path)
			obj, err := readKeyFile(path)
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.label, obj.label)
			require.Equal(t, tt.id, obj.id)
			require.Equal(t, backend.ECDSAP256, obj.alg)
			require.Equal(t, tt.authValue, obj.policy.authValue)
		})
	}
}

// TestKeysOfOtherFiles checks listing and finding keys among files other
// tools put in dir.
func TestKeysOfOtherFiles(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	b := openSim(t, dir)
	k := generate(t, b, backend.ECDSAP256, "ours", 0)
	ours, err := os.ReadFile(filepath.Join(dir, k.ID().String()+".tss2.pem"))
	require.NoError(t, err)
	bare := ours[bytes.Index(ours, []byte("-----BEGIN")):]
	write := func(name string, data []byte) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	write("web.pem", bare)
	write("cert.pem", []byte("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"))
	write("twin-a.pem", append([]byte("Label: twin\n"), bare...))
	write("twin-b.pem", append([]byte("Label: twin\n"), bare...))

	keys, err := b.Keys(ctx)
	require.NoError(t, err, "a certificate is not a damaged key")
	var labels []string
	for _, k := range keys {
		labels = append(labels, k.Label())
	}
	require.ElementsMatch(t, []string{"ours", "web", "twin", "twin"}, labels)

	web, err := b.Key(ctx, backend.ByLabel("web"))
	require.NoError(t, err)
	s, err := web.Signer()
	require.NoError(t, err)
	d := digestOf(crypto.SHA256)
	sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
	require.NoError(t, err)
	require.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d, sig))
	got, err := b.Key(ctx, backend.ByID(web.ID()))
	require.ErrorIs(t, err, backend.ErrInvalidInput, "three files hold this key, so its TPM name matches three: %v", got)

	_, err = b.Key(ctx, backend.ByLabel("twin"))
	require.ErrorIs(t, err, backend.ErrInvalidInput)
	require.ErrorContains(t, err, "twin-a.pem, twin-b.pem")
	_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "web"})
	require.ErrorIs(t, err, backend.ErrKeyExists)

	require.NoError(t, b.DeleteKey(ctx, backend.ByLabel("web")))
	_, err = os.Stat(filepath.Join(dir, "web.pem"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

// FuzzParseKeyFile feeds the key file parser arbitrary names and contents:
// it must return a key or an error, never panic, and a key it returns must
// carry a valid label.
func FuzzParseKeyFile(f *testing.F) {
	f.Add("web.pem", []byte("Label: web\n-----BEGIN TSS2 PRIVATE KEY-----\nAAAA\n-----END TSS2 PRIVATE KEY-----\n"))
	f.Add("00.tss2.pem", []byte("-----BEGIN TSS2 PRIVATE KEY-----\nMIHwBgZngQUKAQOgAwEBAQIEQAAAAQ==\n-----END TSS2 PRIVATE KEY-----\n"))
	f.Add("x.pem", []byte("Label: \x00\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		k, err := parseKeyFile(name, data)
		if err == nil {
			require.NoError(t, backend.ValidateLabel(k.label))
			require.NotEmpty(t, k.id)
		}
		label, ok, err := labelLine(data)
		if ok && err == nil {
			require.NoError(t, backend.ValidateLabel(label))
		}
	})
}
