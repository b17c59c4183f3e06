package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/tpm/swtpmtest"
	"github.com/cryptoplug/cryptoplug/backends/tpm/tpmattest"
)

func nonce(t *testing.T) []byte {
	n := make([]byte, 32)
	_, err := rand.Read(n)
	require.NoError(t, err)
	return n
}

// attestationOf runs one attestation request and returns the evidence.
func attestationOf(t *testing.T, k backend.Key, n, challenge []byte) []byte {
	t.Helper()
	att, err := k.(backend.Attester).Attest(testContext(t), backend.AttestRequest{Nonce: n, Challenge: challenge})
	require.NoError(t, err)
	require.Equal(t, tpmattest.Format, att.Format)
	return att.Evidence
}

// TestAttestSwtpm attests keys of a swtpm manufactured with an EK
// certificate from a private CA, and checks that every broken link of the
// chain is refused with its own reason.
func TestAttestSwtpm(t *testing.T) {
	ca, otherCA := swtpmtest.NewCA(t), swtpmtest.NewCA(t)
	swA := swtpmtest.Start(t, swtpmtest.WithEKCertificate(ca))
	swB := swtpmtest.Start(t, swtpmtest.WithEKCertificate(ca))
	swC := swtpmtest.Start(t, swtpmtest.WithEKCertificate(otherCA))
	ctx := testContext(t)
	open := func(sw *swtpmtest.TPM) *Backend {
		b, err := Open(ctx, sw.URI(t.TempDir()))
		require.NoError(t, err)
		t.Cleanup(func() { b.Close() })
		return b
	}
	a, b, c := open(swA), open(swB), open(swC)
	v := &tpmattest.Verifier{Roots: ca.Roots(), Intermediates: ca.Intermediates()}

	ecA := generate(t, a, backend.ECDSAP256, "ec", 0)
	rsaA := generate(t, a, backend.RSA2048, "rsa", backend.UsageDecrypt)
	ecB := generate(t, b, backend.ECDSAP256, "ec", 0)

	t.Run("generated keys verify from the CA down", func(t *testing.T) {
		for _, k := range []backend.Key{ecA, rsaA, ecB} {
			res, err := v.AttestKey(ctx, k.(backend.Attester), k.Public())
			require.NoError(t, err, k.Label())
			require.True(t, k.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(res.Public))
			require.Len(t, res.Chain, 3, "EK certificate, issuer, root")
			require.True(t, res.Chain[2].Equal(ca.Root()))
		}
	})

	t.Run("keys with an auth value or a PCR binding", func(t *testing.T) {
		pw := backend.Secret("pw")
		for _, p := range []*backend.KeyPolicy{{AuthValue: pw}, {PCRs: &backend.PCRPolicy{Indexes: []int{16}}}, {AuthValue: pw, PCRs: &backend.PCRPolicy{Indexes: []int{16}}}} {
			k, err := a.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: fmt.Sprintf("policy-%d-%v", len(p.AuthValue), p.PCRs != nil), Policy: p})
			require.NoError(t, err)
			if len(p.AuthValue) > 0 {
				_, err := v.AttestKey(ctx, k.(backend.Attester), k.Public())
				require.ErrorIs(t, err, backend.ErrAuth, "certifying a key needs its auth value")
			}
			withAuth := k.(backend.AuthValueKey).WithAuthValue(pw)
			_, err = v.AttestKey(ctx, withAuth.(backend.Attester), k.Public())
			require.NoError(t, err)
		}
	})

	evA := attestationOf(t, ecA, nonce(t), nil)
	chA, err := v.Challenge(evA)
	require.NoError(t, err)

	t.Run("wrong nonce", func(t *testing.T) {
		asked, other := nonce(t), nonce(t)
		ev := attestationOf(t, ecA, asked, chA.Bytes())
		_, err := chA.Verify(ev, other)
		require.ErrorIs(t, err, tpmattest.ErrNonce)
		_, err = chA.Verify(ev, asked)
		require.NoError(t, err, "the same evidence with its own nonce verifies")
	})

	t.Run("imported key is not fixedTPM", func(t *testing.T) {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		imp, err := a.ImportKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "imported"}, priv)
		require.NoError(t, err)
		_, err = v.AttestKey(ctx, imp.(backend.Attester), imp.Public())
		require.ErrorIs(t, err, tpmattest.ErrNotFixedTPM)
		require.ErrorIs(t, err, tpmattest.ErrNotFixedParent)
		require.ErrorIs(t, err, tpmattest.ErrImported)
	})

	t.Run("EK certificate from an untrusted CA", func(t *testing.T) {
		kc := generate(t, c, backend.ECDSAP256, "ec", 0)
		_, err := v.Challenge(attestationOf(t, kc, nonce(t), nil))
		require.ErrorIs(t, err, tpmattest.ErrUntrustedEK)
		trusting := &tpmattest.Verifier{Roots: otherCA.Roots(), Intermediates: otherCA.Intermediates()}
		_, err = trusting.AttestKey(ctx, kc.(backend.Attester), kc.Public())
		require.NoError(t, err, "a verifier trusting that CA accepts it")
	})

	t.Run("AK from another TPM", func(t *testing.T) {
		// B claims A's endorsement key for its own attestation key.
		var forged tpmattest.Evidence
		require.NoError(t, json.Unmarshal(attestationOf(t, ecB, nonce(t), nil), &forged))
		var real tpmattest.Evidence
		require.NoError(t, json.Unmarshal(evA, &real))
		forged.EKCertificate, forged.EKPublic = real.EKCertificate, real.EKPublic
		data, err := forged.Marshal()
		require.NoError(t, err)
		ch, err := v.Challenge(data)
		require.NoError(t, err, "nothing in the identity alone shows the forgery")

		// Neither TPM can open the credential: B lacks A's EK, A lacks B's AK.
		for _, k := range []backend.Key{ecB, ecA} {
			_, err := k.(backend.Attester).Attest(ctx, backend.AttestRequest{Nonce: nonce(t), Challenge: ch.Bytes()})
			require.ErrorIs(t, err, backend.ErrInvalidInput)
			require.True(t, isTPMErr(err), "the TPM refuses the credential: %v", err)
		}
		// So B can answer only with a made-up secret.
		n := nonce(t)
		require.NoError(t, json.Unmarshal(attestationOf(t, ecB, n, nil), &forged))
		forged.EKCertificate, forged.EKPublic = real.EKCertificate, real.EKPublic
		forged.Activation = nonce(t)
		data, err = forged.Marshal()
		require.NoError(t, err)
		_, err = ch.Verify(data, n)
		require.ErrorIs(t, err, tpmattest.ErrNotActivated)
	})

	t.Run("evidence not answering the challenge", func(t *testing.T) {
		n := nonce(t)
		_, err := chA.Verify(attestationOf(t, ecA, n, nil), n)
		require.ErrorIs(t, err, tpmattest.ErrNotActivated, "no activation")
		_, err = chA.Verify(attestationOf(t, ecB, n, nil), n)
		require.ErrorIs(t, err, tpmattest.ErrNotActivated, "another TPM's identity")
	})

	t.Run("tampered evidence", func(t *testing.T) {
		n := nonce(t)
		good := attestationOf(t, ecA, n, chA.Bytes())
		tamper := func(f func(e *tpmattest.Evidence)) []byte {
			var e tpmattest.Evidence
			require.NoError(t, json.Unmarshal(good, &e))
			f(&e)
			data, err := e.Marshal()
			require.NoError(t, err)
			return data
		}
		other := generate(t, a, backend.ECDSAP256, "other", 0)
		var otherEv tpmattest.Evidence
		require.NoError(t, json.Unmarshal(attestationOf(t, other, n, chA.Bytes()), &otherEv))

		for _, tc := range []struct {
			name string
			ev   []byte
			want error
		}{
			{"certification altered", tamper(func(e *tpmattest.Evidence) { e.CertifyInfo[len(e.CertifyInfo)-1] ^= 1 }), tpmattest.ErrBadSignature},
			{"signature altered", tamper(func(e *tpmattest.Evidence) { e.Signature[len(e.Signature)-1] ^= 1 }), tpmattest.ErrBadSignature},
			{"another key's public area", tamper(func(e *tpmattest.Evidence) { e.KeyPublic = otherEv.KeyPublic }), tpmattest.ErrKeyMismatch},
			{"another key's certification", tamper(func(e *tpmattest.Evidence) { e.CertifyInfo, e.Signature = otherEv.CertifyInfo, otherEv.Signature }), tpmattest.ErrKeyMismatch},
			{"not JSON", []byte("{"), tpmattest.ErrMalformed},
			{"truncated public area", tamper(func(e *tpmattest.Evidence) { e.KeyPublic = e.KeyPublic[:10] }), tpmattest.ErrMalformed},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := chA.Verify(tc.ev, n)
				require.ErrorIs(t, err, tc.want)
			})
		}
		_, err := chA.Verify(good, n)
		require.NoError(t, err)
		res, err := chA.Verify(attestationOf(t, other, n, chA.Bytes()), n)
		require.NoError(t, err)
		_, err = v.AttestKey(ctx, other.(backend.Attester), ecA.Public())
		require.ErrorIs(t, err, tpmattest.ErrKeyMismatch, "AttestKey checks the key asked about")
		require.True(t, other.Public().(*ecdsa.PublicKey).Equal(res.Public))
	})

	t.Run("untrustworthy attestation key", func(t *testing.T) {
		var e tpmattest.Evidence
		require.NoError(t, json.Unmarshal(evA, &e))
		e.AKPublic = e.KeyPublic // an ordinary signing key: not restricted
		data, err := e.Marshal()
		require.NoError(t, err)
		_, err = v.Challenge(data)
		require.ErrorIs(t, err, tpmattest.ErrUntrustedAK)
	})

	t.Run("bad requests", func(t *testing.T) {
		at := ecA.(backend.Attester)
		_, err := at.Attest(ctx, backend.AttestRequest{Nonce: []byte("short")})
		require.ErrorIs(t, err, backend.ErrInvalidInput)
		_, err = at.Attest(ctx, backend.AttestRequest{Nonce: nonce(t), Challenge: []byte(`{"credential":"AA=="}`)})
		require.ErrorIs(t, err, backend.ErrInvalidInput)
	})

	t.Run("EK certificate in the chain", func(t *testing.T) {
		cert := chA.EKCertificate()
		require.Equal(t, x509.RSA, cert.PublicKeyAlgorithm, "swtpm's RSA-2048 EK, at 0x01c00002")
		var e tpmattest.Evidence
		require.NoError(t, json.Unmarshal(evA, &e))
		ekPub, err := tpm2.Unmarshal[tpm2.TPMTPublic](e.EKPublic)
		require.NoError(t, err)
		require.True(t, ekPub.ObjectAttributes.Restricted && ekPub.ObjectAttributes.Decrypt)
	})
}

// TestAttestWithoutEKCertificate attests on the simulator, which has no
// EK certificate: the TPM still certifies the key, and verifiers refuse
// the identity.
func TestAttestWithoutEKCertificate(t *testing.T) {
	b := openSim(t, "")
	k := generate(t, b, backend.ECDSAP256, "ec", 0)
	ev := attestationOf(t, k, nonce(t), nil)
	pool := x509.NewCertPool()
	_, err := (&tpmattest.Verifier{Roots: pool}).Challenge(ev)
	require.ErrorIs(t, err, tpmattest.ErrUntrustedEK)
	s, err := k.Signer()
	require.NoError(t, err)
	_, err = s.Sign(rand.Reader, digestOf(crypto.SHA256), crypto.SHA256)
	require.NoError(t, err, "the key still works after the TPM made room for the attestation")
}
