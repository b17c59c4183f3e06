//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"testing"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/miekg/pkcs11"
	"github.com/stretchr/testify/require"
)

func TestOpenErrors(t *testing.T) {
	tok := softhsmtest.Create(t)
	notALib := filepath.Join(t.TempDir(), "not-a-module.so")
	require.NoError(t, os.WriteFile(notALib, []byte("not an ELF file"), 0o600))
	wrongPIN := filepath.Join(t.TempDir(), "wrong.pin")
	const badPIN = "wr0ng-p1n-9137"
	require.NoError(t, os.WriteFile(wrongPIN, []byte(badPIN), 0o600))

	uri := func(module, token, pinFile string) string {
		return "pkcs11:token=" + token + "?module-path=" + module + "&pin-source=file:" + pinFile
	}
	tests := []struct {
		name     string
		uri      string
		is       []error
		contains []string
	}{
		{name: "module missing", uri: uri("/nonexistent/libnothing.so", tok.Label, tok.PINFile),
			is: []error{ErrModuleLoad, backend.ErrInvalidInput}, contains: []string{"/nonexistent/libnothing.so", tok.Label, "no such file"}},
		{name: "module not loadable", uri: uri(notALib, tok.Label, tok.PINFile),
			is: []error{ErrModuleLoad}, contains: []string{notALib, "file too short"}},
		{name: "token missing", uri: uri(softhsmtest.ModulePath, "no-such-token", tok.PINFile),
			is: []error{ErrTokenNotFound, backend.ErrInvalidInput}, contains: []string{softhsmtest.ModulePath, `token "no-such-token"`, tok.Label}},
		// The only wrong PIN this test tries on the token.
		{name: "wrong PIN", uri: uri(softhsmtest.ModulePath, tok.Label, wrongPIN),
			is: []error{backend.ErrAuth}, contains: []string{softhsmtest.ModulePath, tok.Label, "CKR_PIN_INCORRECT"}},
		{name: "pin file missing", uri: uri(softhsmtest.ModulePath, tok.Label, "/nonexistent/pin"),
			is: []error{backend.ErrInvalidInput}, contains: []string{"/nonexistent/pin"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := backend.Open(context.Background(), tt.uri)
			require.Error(t, err)
			require.Nil(t, b)
			var be *backend.Error
			require.True(t, errors.As(err, &be), "want *backend.Error, got %T", err)
			for _, want := range tt.is {
				require.ErrorIs(t, err, want)
			}
			for _, want := range tt.contains {
				require.Contains(t, err.Error(), want)
			}
			require.NotContains(t, err.Error(), tok.PIN)
			require.NotContains(t, err.Error(), badPIN)
		})
	}
	// The module is unloaded again after every failed open.
	require.Zero(t, refs())

	// And the right PIN still works: the failed attempt locked nothing.
	b := openURI(t, tok.URI)
	require.Equal(t, "SoftHSM project", b.Info().Manufacturer)
}

func TestOpenPINValueAndEnv(t *testing.T) {
	tok := softhsmtest.Create(t)
	base := "pkcs11:token=" + tok.Label + "?module-path=" + softhsmtest.ModulePath
	t.Setenv("CP_PKCS11_TEST_PIN", tok.PIN)
	for _, uri := range []string{base + "&pin-value=" + tok.PIN, base + "&pin-source=env:CP_PKCS11_TEST_PIN"} {
		b := openURI(t, uri)
		require.NotContains(t, b.Info().URI, tok.PIN)
		signAndVerify(t, generate(t, b, backend.ECDSAP256, "pin-test", 0))
		require.NoError(t, b.DeleteKey(context.Background(), backend.ByLabel("pin-test")))
	}
}

func TestInfoAndCapabilities(t *testing.T) {
	b, _ := newToken(t, "")
	info := b.Info()
	require.Equal(t, "pkcs11", info.Name)
	require.Equal(t, "hsm", info.Kind)
	require.Equal(t, "SoftHSM project", info.Manufacturer)
	require.Equal(t, "SoftHSM v2", info.Model)
	require.Equal(t, "2.6", info.Firmware)
	require.True(t, info.Persistent)

	caps := b.Capabilities()
	for _, a := range []backend.Algorithm{backend.RSA2048, backend.RSA3072, backend.RSA4096} {
		require.True(t, caps.Supports(a, backend.OpGenerate|backend.OpSign|backend.OpDecrypt|backend.OpImport), a)
	}
	for _, a := range []backend.Algorithm{backend.ECDSAP256, backend.ECDSAP384, backend.ECDSAP521, backend.Ed25519} {
		require.True(t, caps.Supports(a, backend.OpGenerate|backend.OpSign|backend.OpImport), a)
		require.False(t, caps.Supports(a, backend.OpDecrypt), a)
	}
	for _, a := range []backend.Algorithm{backend.MLDSA65, backend.MLKEM768} {
		require.NotContains(t, caps, a)
	}
	caps[backend.RSA2048] = 0
	require.NotZero(t, b.Capabilities()[backend.RSA2048], "Capabilities must return a copy")
}

// TestCapabilitiesFromMechanisms checks the capability rules on mechanism
// tables: a token without EC mechanisms reports ECDSA as unsupported, key
// size ranges and CKF_* flags are honoured.
func TestCapabilitiesFromMechanisms(t *testing.T) {
	b, _ := newToken(t, "")
	_, softhsm, err := readCapabilities(b.p11, b.pool.slot())
	require.NoError(t, err)
	require.Equal(t, b.Capabilities(), capabilitiesFrom(softhsm))

	without := func(drop ...uint) map[uint]pkcs11.MechanismInfo {
		m := maps.Clone(softhsm)
		for _, d := range drop {
			delete(m, d)
		}
		return m
	}
	with := func(mech uint, mi pkcs11.MechanismInfo) map[uint]pkcs11.MechanismInfo {
		m := maps.Clone(softhsm)
		m[mech] = mi
		return m
	}
	tests := []struct {
		name   string
		mechs  map[uint]pkcs11.MechanismInfo
		absent []backend.Algorithm
		check  func(t *testing.T, c backend.Capabilities)
	}{
		{name: "no EC", mechs: without(pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.CKM_ECDSA),
			absent: []backend.Algorithm{backend.ECDSAP256, backend.ECDSAP384, backend.ECDSAP521}},
		{name: "no EdDSA", mechs: without(ckmECEdwardsKeyPairGen, ckmEdDSA),
			absent: []backend.Algorithm{backend.Ed25519, backend.Ed448}},
		{name: "RSA up to 2048", mechs: with(pkcs11.CKM_RSA_PKCS, pkcs11.MechanismInfo{MinKeySize: 1024, MaxKeySize: 2048, Flags: ckfSign | ckfDecrypt}),
			check: func(t *testing.T, c backend.Capabilities) {
				require.True(t, c.Supports(backend.RSA2048, backend.OpSign|backend.OpDecrypt))
				require.False(t, c.Supports(backend.RSA3072, backend.OpSign))
			}},
		{name: "EC key sizes in bytes", mechs: with(pkcs11.CKM_ECDSA, pkcs11.MechanismInfo{MinKeySize: 32, MaxKeySize: 48, Flags: ckfSign}),
			check: func(t *testing.T, c backend.Capabilities) {
				require.True(t, c.Supports(backend.ECDSAP256, backend.OpSign))
				require.True(t, c.Supports(backend.ECDSAP384, backend.OpSign))
				require.False(t, c.Supports(backend.ECDSAP521, backend.OpSign))
			}},
		{name: "key generation flag missing", mechs: with(pkcs11.CKM_EC_KEY_PAIR_GEN, pkcs11.MechanismInfo{MinKeySize: 256, MaxKeySize: 521}),
			check: func(t *testing.T, c backend.Capabilities) {
				require.True(t, c.Supports(backend.ECDSAP256, backend.OpSign))
				require.False(t, c.Supports(backend.ECDSAP256, backend.OpGenerate))
			}},
		{name: "decrypt only", mechs: with(pkcs11.CKM_RSA_PKCS, pkcs11.MechanismInfo{MinKeySize: 512, MaxKeySize: 16384, Flags: ckfDecrypt}),
			check: func(t *testing.T, c backend.Capabilities) {
				require.True(t, c.Supports(backend.RSA4096, backend.OpDecrypt))
				require.False(t, c.Supports(backend.RSA4096, backend.OpSign))
			}},
		{name: "empty token", mechs: map[uint]pkcs11.MechanismInfo{},
			absent: backend.Algorithms()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := capabilitiesFrom(tt.mechs)
			for _, a := range tt.absent {
				require.NotContains(t, c, a)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}
