//go:build cgo

package pkcs11

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/ThalesGroup/crypto11"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	"github.com/miekg/pkcs11"
)

// BenchmarkSignECDSAP256 and BenchmarkSignRSA2048 compare, on one token
// key, this backend's Signer, the floor (a pre-opened session doing
// C_SignInit + C_Sign with miekg/pkcs11) and crypto11's Signer.
func BenchmarkSignECDSAP256(b *testing.B) { benchSign(b, backend.ECDSAP256) }

func BenchmarkSignRSA2048(b *testing.B) { benchSign(b, backend.RSA2048) }

func benchSign(b *testing.B, alg backend.Algorithm) {
	ctx := context.Background()
	tok := softhsmtest.Create(b)
	digest := sha256.Sum256([]byte("benchmark"))

	// Create the key, then let go of the module: crypto11 refuses a module
	// someone else in the process initialised.
	be, err := Open(ctx, tok.URI)
	if err != nil {
		b.Fatal(err)
	}
	k, err := be.GenerateKey(ctx, backend.KeySpec{Algorithm: alg, Label: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	id := k.ID()
	if err := be.Close(); err != nil {
		b.Fatal(err)
	}

	c11, err := crypto11.Configure(&crypto11.Config{Path: softhsmtest.ModulePath, TokenLabel: tok.Label, Pin: tok.PIN, MaxSessions: softhsmtest.MaxSessions})
	if err != nil {
		b.Fatal(err)
	}
	defer c11.Close() // last: it finalises the module it initialised
	c11Key, err := c11.FindKeyPair(id, []byte("bench"))
	if err != nil || c11Key == nil {
		b.Fatalf("crypto11 FindKeyPair: %v (key %v)", err, c11Key)
	}

	be, err = Open(ctx, tok.URI)
	if err != nil {
		b.Fatal(err)
	}
	defer be.Close()
	k, err = be.Key(ctx, backend.ByID(id))
	if err != nil {
		b.Fatal(err)
	}
	signer, err := k.Signer()
	if err != nil {
		b.Fatal(err)
	}

	raw := pkcs11.New(softhsmtest.ModulePath)
	if err := raw.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		b.Fatal(err)
	}
	defer raw.Destroy()
	slot, err := softhsmtest.SlotByLabel(raw, tok.Label)
	if err != nil {
		b.Fatal(err)
	}
	sh, err := raw.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.CloseSession(sh)
	if err := raw.Login(sh, pkcs11.CKU_USER, tok.PIN); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
		b.Fatal(err)
	}
	if err := raw.FindObjectsInit(sh, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_PRIVATE_KEY), pkcs11.NewAttribute(pkcs11.CKA_ID, []byte(id)),
	}); err != nil {
		b.Fatal(err)
	}
	hs, _, err := raw.FindObjects(sh, 2)
	_ = raw.FindObjectsFinal(sh)
	if err != nil || len(hs) != 1 {
		b.Fatalf("find raw key: %v, %d objects", err, len(hs))
	}
	rawMech, rawData := mechECDSA, digest[:]
	if alg.Family() == backend.FamilyRSA {
		rawMech, rawData = mechRSAPKCS, append(append([]byte(nil), digestInfoPrefix[crypto.SHA256]...), digest[:]...)
	}

	b.Run("backend", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := raw.SignInit(sh, rawMech, hs[0]); err != nil {
				b.Fatal(err)
			}
			if _, err := raw.Sign(sh, rawData); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("crypto11", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c11Key.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
}
