//lint:file-ignore SA1019 the backend contract requires PKCS #1 v1.5 decryption, deprecated in Go 1.26
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
	"errors"
	"testing"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/internal/module"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/opencryptokitest"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/tpm2pkcs11test"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/require"
)

// These tests hold the backend to what opencryptoki 3.8 and tpm2-pkcs11 1.9
// do, on the real tokens; tokens_test.go runs the conformance suite on them.

// TestOAEPDefectsLearned checks that the OAEP parameters a token accepts
// but gets wrong are found by behaviour, whoever made the token, and
// refused; the combinations it gets right keep working.
func TestOAEPDefectsLearned(t *testing.T) {
	type outcome struct {
		opts *rsa.OAEPOptions
		want string // "" for success, else a substring of the ErrUnsupported error
	}
	sha1 := &rsa.OAEPOptions{Hash: crypto.SHA1}
	sha1Label := &rsa.OAEPOptions{Hash: crypto.SHA1, Label: []byte("purpose")}
	sha256 := &rsa.OAEPOptions{Hash: crypto.SHA256}
	sha256MGF1 := &rsa.OAEPOptions{Hash: crypto.SHA256, MGFHash: crypto.SHA1}
	tests := []struct {
		name     string
		uri      func(t *testing.T) string
		outcomes []outcome
	}{
		{"SoftHSM2", func(t *testing.T) string { return softhsmtest.NewToken(t) }, []outcome{
			{sha1, ""},
			{sha1Label, "the token fails to decrypt a valid ciphertext made with OAEP with SHA-1 and MGF1-SHA-1 and a label"},
			{sha256, "token refused"},
		}},
		{"opencryptoki", func(t *testing.T) string { return opencryptokitest.Shared(t).URI }, []outcome{
			{sha1, ""},
			{sha1Label, "the token fails to decrypt a valid ciphertext made with OAEP with SHA-1 and MGF1-SHA-1 and a label"},
			{sha256, ""},
			{sha256MGF1, ""},
		}},
		{"tpm2-pkcs11", func(t *testing.T) string { return tpm2pkcs11test.NewToken(t) }, []outcome{
			{sha1, ""},
			{sha1Label, "the token fails to decrypt a valid ciphertext made with OAEP with SHA-1 and MGF1-SHA-1 and a label"},
			{sha256, ""},
			{sha256MGF1, "the token fails to decrypt a valid ciphertext made with OAEP with SHA-256 and MGF1-SHA-1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := openURI(t, tt.uri(t))
			k := generate(t, b, backend.RSA2048, "oaep-"+randomLabel(t), backend.UsageDecrypt)
			t.Cleanup(func() { _ = b.DeleteKey(context.Background(), backend.ByID(k.ID())) })
			d, err := k.Decrypter()
			require.NoError(t, err)
			for round := range 2 { // the second round answers from what the first learned
				for _, o := range tt.outcomes {
					msg := []byte("cryptoplug OAEP message")
					ct, err := rsa.EncryptOAEPWithOptions(rand.Reader, k.Public().(*rsa.PublicKey), msg, o.opts)
					require.NoError(t, err)
					got, err := d.Decrypt(rand.Reader, ct, o.opts)
					if o.want == "" {
						require.NoError(t, err, "round %d, %+v", round, o.opts)
						require.Equal(t, msg, got)
						continue
					}
					require.ErrorIs(t, err, backend.ErrUnsupported, "round %d, %+v", round, o.opts)
					require.ErrorContains(t, err, o.want)
				}
			}
		})
	}
}

// TestFailedOperationsDoNotPoisonSessions checks, on tpm2-pkcs11 with a
// single session, that a failed operation does not make every later one
// fail with CKR_OPERATION_ACTIVE, for this key or any other: tpm2-pkcs11
// leaves C_Decrypt active after an error, which C_DecryptFinal ends without
// a new session; after other failed calls the backend cannot know, so it
// closes the session and the pool opens another, within its bound.
func TestFailedOperationsDoNotPoisonSessions(t *testing.T) {
	tok := tpm2pkcs11test.Create(t)
	b := openURI(t, tok.URIWith("&max-sessions=1"))
	dec := generate(t, b, backend.RSA2048, "decrypt", backend.UsageDecrypt)
	both := generate(t, b, backend.RSA2048, "sign-and-decrypt", backend.UsageSign|backend.UsageDecrypt)
	ec := generate(t, b, backend.ECDSAP256, "ec", 0)
	d, err := dec.Decrypter()
	require.NoError(t, err)
	pub := dec.Public().(*rsa.PublicKey)

	// A bad PKCS #1 v1.5 ciphertext: tpm2-pkcs11 answers CKR_GENERAL_ERROR
	// and leaves C_Decrypt active; C_DecryptFinal ends it, so the session
	// stays and no new one is opened.
	before := theSession(t, b)
	bad := make([]byte, pub.Size())
	bad[pub.Size()-1] = 2
	for range 3 {
		_, err = d.Decrypt(rand.Reader, bad, nil)
		require.ErrorIs(t, err, rsa.ErrDecryption)
		signAndVerify(t, ec)
	}
	require.Same(t, before, theSession(t, b), "a failed decryption cost a new session")
	ct, err := rsa.EncryptPKCS1v15(rand.Reader, pub, []byte("secret"))
	require.NoError(t, err)
	pt, err := d.Decrypt(rand.Reader, ct, nil)
	require.NoError(t, err)
	require.Equal(t, []byte("secret"), pt)

	// PSS: tpm2-pkcs11 1.9 accepts C_SignInit and fails C_Sign with
	// CKR_MECHANISM_INVALID; the session is closed and a fresh one serves
	// the next caller.
	s, err := both.Signer()
	require.NoError(t, err)
	digest := sha256.Sum256([]byte("m"))
	before = theSession(t, b)
	_, err = s.Sign(rand.Reader, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash})
	require.ErrorContains(t, err, "the token accepted the mechanism in C_SignInit, then refused it: pkcs11: 0x70: CKR_MECHANISM_INVALID")
	require.NotErrorIs(t, err, backend.ErrUnsupported, "the token lists PSS for signing: failing it is its defect")
	signAndVerify(t, ec)
	require.NotSame(t, before, theSession(t, b), "the session of the failed C_Sign was not replaced")
	sig, err := s.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err, "a key that may decrypt signs PKCS #1 v1.5 on tpm2-pkcs11")
	require.NoError(t, rsa.VerifyPKCS1v15(both.Public().(*rsa.PublicKey), crypto.SHA256, digest[:], sig))
	require.LessOrEqual(t, b.openSessions(), 1)
}

// TestPSSAutoFallsBack checks PSSSaltLengthAuto on tpm2-pkcs11, which
// refuses the largest salt: the backend asks again with a salt as long as
// the hash. tpm2-pkcs11 1.9 then fails C_Sign for any PSS (its raw PSS
// mechanism cannot find its digest), so the error must show both
// attempts, and the token must not be remembered as signing with the hash
// length. On SoftHSM2, Auto signs with the largest salt.
func TestPSSAutoFallsBack(t *testing.T) {
	digest := sha256.Sum256([]byte("m"))
	auto := &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthAuto}

	tpm := openURI(t, tpm2pkcs11test.NewToken(t))
	k := generate(t, tpm, backend.RSA2048, "pss", backend.UsageSign|backend.UsageDecrypt)
	s, err := k.Signer()
	require.NoError(t, err)
	_, err = s.Sign(rand.Reader, digest[:], auto)
	require.NotErrorIs(t, err, backend.ErrUnsupported, "the token took the hash-length salt, then failed: its defect")
	require.ErrorContains(t, err, "C_SignInit: token refused: pkcs11: 0x71: CKR_MECHANISM_PARAM_INVALID")
	require.ErrorContains(t, err, "with a salt as long as the hash: C_Sign: the token accepted the mechanism in C_SignInit, then refused it: pkcs11: 0x70: CKR_MECHANISM_INVALID")
	require.False(t, tpm.quirks.pssHashSaltOnly.Load())

	soft, _ := newToken(t, "")
	k = generate(t, soft, backend.RSA2048, "pss", 0)
	s, err = k.Signer()
	require.NoError(t, err)
	sig, err := s.Sign(rand.Reader, digest[:], auto)
	require.NoError(t, err)
	pub := k.Public().(*rsa.PublicKey)
	require.NoError(t, rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: backend.PSSMaxSaltLength(pub, crypto.SHA256)}))
	require.False(t, soft.quirks.pssHashSaltOnly.Load())
}

// TestTPM2PKCS11Keys checks key generation, capabilities and token
// information on tpm2-pkcs11, and how its defects surface.
func TestTPM2PKCS11Keys(t *testing.T) {
	ctx := context.Background()
	b := openURI(t, tpm2pkcs11test.NewToken(t))
	info := b.Info()
	require.Equal(t, "IBM", info.Manufacturer, "swtpm's manufacturer")
	require.Equal(t, "SW   TPM", info.Model, "NUL padding trimmed")

	caps := b.Capabilities()
	for _, a := range []backend.Algorithm{backend.RSA2048, backend.ECDSAP256, backend.ECDSAP384} {
		require.True(t, caps.Supports(a, backend.OpGenerate|backend.OpSign), a)
		require.False(t, caps.Supports(a, backend.OpImport), "%s: tpm2-pkcs11 refuses private key objects", a)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, err = b.ImportKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "imported"}, priv)
	require.ErrorIs(t, err, backend.ErrUnsupported)

	// Generation works with the templates tpm2-pkcs11 accepts.
	for _, a := range []backend.Algorithm{backend.ECDSAP256, backend.ECDSAP384} {
		signAndVerify(t, generate(t, b, a, "ec-"+string(a), 0))
	}
	dec := generate(t, b, backend.RSA2048, "rsa-decrypt", backend.UsageDecrypt)
	_, err = dec.Signer()
	require.ErrorIs(t, err, backend.ErrUnsupported)
	signAndVerify(t, generate(t, b, backend.RSA2048, "rsa-both", backend.UsageSign|backend.UsageDecrypt))

	// tpm2-pkcs11 signs PKCS #1 v1.5 by raw RSA decryption, which a key
	// made for signing only may not do: its defect, reported as the
	// token's error.
	signOnly := generate(t, b, backend.RSA2048, "rsa-sign", backend.UsageSign)
	s, err := signOnly.Signer()
	require.NoError(t, err)
	d := sha256.Sum256([]byte("m"))
	_, err = s.Sign(rand.Reader, d[:], crypto.SHA256)
	var code pkcs11.Error
	require.True(t, errors.As(err, &code), "%v", err)
	require.Equal(t, pkcs11.Error(pkcs11.CKR_GENERAL_ERROR), code)

	// P-521: tpm2-pkcs11 writes CKA_EC_POINT with an invalid DER length.
	// The key is refused, says why, and is not left behind.
	_, err = b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP521, Label: "p521"})
	require.ErrorIs(t, err, backend.ErrCorrupt)
	require.ErrorContains(t, err, "invalid DER length byte 0x85 for 133 bytes")
	require.ErrorContains(t, err, "it stored a malformed public key")
	_, err = b.Key(ctx, backend.ByLabel("p521"))
	require.ErrorIs(t, err, backend.ErrKeyNotFound)
}

// TestModulesStayLoaded checks the module lifetime: after the last backend
// on a module closes, the module stays loaded and initialised, and opening
// it again works — on opencryptoki too, which crashed when finalised and
// initialised again — and that modules loaded together keep their own
// symbols (opencryptoki's token libraries are loaded RTLD_GLOBAL and share
// function names with tpm2-pkcs11).
func TestModulesStayLoaded(t *testing.T) {
	ock := opencryptokitest.Shared(t)
	for round := range 3 {
		b, err := Open(context.Background(), ock.URI)
		require.NoError(t, err, "round %d", round)
		k := generate(t, b, backend.RSA2048, "reopen-"+randomLabel(t), 0)
		signAndVerify(t, k)
		require.NoError(t, b.DeleteKey(context.Background(), backend.ByID(k.ID())))
		require.NoError(t, b.Close())
		require.True(t, module.Loaded(opencryptokitest.ModulePath))
		require.Zero(t, module.Refs(opencryptokitest.ModulePath))
	}

	// tpm2-pkcs11 after opencryptoki in the same process: its C_CreateObject
	// is its own (it refuses private keys) rather than opencryptoki's
	// soft token's.
	tpm := openURI(t, tpm2pkcs11test.NewToken(t))
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	_, material, err := keyMaterial(backend.ECDSAP256, priv)
	require.NoError(t, err)
	_, privT := templates(backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "probe"}, []byte("probe"))
	err = tpm.withSession(context.Background(), func(s *session) error {
		_, err := tpm.p11.CreateObject(s.h, append(privT, material...))
		return err
	})
	require.ErrorIs(t, err, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_VALUE_INVALID))
	signAndVerify(t, generate(t, tpm, backend.ECDSAP256, "after-opencryptoki", 0))
}

func randomLabel(t *testing.T) string {
	b := make([]byte, 4)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return backend.KeyID(b).String()
}
