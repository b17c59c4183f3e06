package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"testing"

	"github.com/google/go-tpm-tools/client"
	legacy "github.com/google/go-tpm/legacy/tpm2"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
)

// BenchmarkSignECDSAP256 compares a signature through the backend with the
// floor: TPM2_Sign on an already loaded key over the same transport (raw),
// and go-tpm-tools' client signer on a key of its own.
func BenchmarkSignECDSAP256(b *testing.B) {
	be := openSim(b, "")
	k := generate(b, be, backend.ECDSAP256, "bench", 0)
	s, err := k.Signer()
	require.NoError(b, err)
	digest := digestOf(crypto.SHA256)
	pub := k.Public().(*ecdsa.PublicKey)

	b.Run("backend", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Sign(rand.Reader, digest, crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("raw", func(b *testing.B) {
		tpm, h, unlock := rawTPM(b, be, k)
		defer unlock()
		cmd := tpm2.Sign{
			KeyHandle:  h,
			Digest:     tpm2.TPM2BDigest{Buffer: digest},
			InScheme:   tpm2.TPMTSigScheme{Scheme: tpm2.TPMAlgECDSA, Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256})},
			Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
		}
		for b.Loop() {
			if _, err := cmd.Execute(tpm); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("go-tpm-tools", func(b *testing.B) {
		tpm, _, unlock := rawTPM(b, be, nil)
		defer unlock()
		// Its key is a primary in the owner hierarchy, the only parent
		// client.NewKey accepts; make room for it.
		be.dev.unload(k.(*key).obj)
		ck, err := client.NewKey(&legacyRW{tpm: tpm}, legacy.HandleOwner, legacy.Public{
			Type:       legacy.AlgECC,
			NameAlg:    legacy.AlgSHA256,
			Attributes: legacy.FlagSign | legacy.FlagFixedTPM | legacy.FlagFixedParent | legacy.FlagSensitiveDataOrigin | legacy.FlagUserWithAuth,
			ECCParameters: &legacy.ECCParams{
				Sign:    &legacy.SigScheme{Alg: legacy.AlgECDSA, Hash: legacy.AlgSHA256},
				CurveID: legacy.CurveNISTP256,
			},
		})
		require.NoError(b, err)
		defer ck.Close()
		cs, err := ck.GetSigner()
		require.NoError(b, err)
		for b.Loop() {
			if _, err := cs.Sign(rand.Reader, digest, crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})

	sig, err := s.Sign(rand.Reader, digest, crypto.SHA256)
	require.NoError(b, err)
	require.True(b, ecdsa.VerifyASN1(pub, digest, sig))
}

// legacyRW lets the legacy API (go-tpm-tools' client) talk through a
// direct-API transport: one Write sends a command, Read returns the
// response. (transport.ToReadWriter reports io.EOF with the last bytes,
// which the legacy reader treats as an error.)
type legacyRW struct {
	tpm  transport.TPM
	resp []byte
}

func (rw *legacyRW) Write(p []byte) (int, error) {
	resp, err := rw.tpm.Send(p)
	if err != nil {
		return 0, err
	}
	rw.resp = resp
	return len(p), nil
}

func (rw *legacyRW) Read(p []byte) (int, error) {
	n := copy(p, rw.resp)
	rw.resp = rw.resp[n:]
	return n, nil
}
