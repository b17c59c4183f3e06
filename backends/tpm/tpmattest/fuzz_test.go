package tpmattest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// softwareChallenge is a challenge for an AK held in software, so that
// Verify's whole path (signature, TPMS_ATTEST, public areas) runs without
// a TPM: for fuzzing, and for the attribute checks.
func softwareChallenge(tb testing.TB) (*Challenge, *ecdsa.PrivateKey) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	ak := tpm2.TPMTPublic{
		Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, Restricted: true, SignEncrypt: true},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDSA, Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256})},
			CurveID:   tpm2.TPMECCNistP256,
			KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: k.X.FillBytes(make([]byte, 32))},
			Y: tpm2.TPM2BECCParameter{Buffer: k.Y.FillBytes(make([]byte, 32))},
		}),
	}
	akBytes := tpm2.Marshal(ak)
	return &Challenge{ekPub: []byte{1}, akPub: akBytes, ak: ak, secret: make([]byte, secretSize)}, k
}

// eccPublic is the public area of an ECDSA P-256 key with attributes a.
func eccPublic(k *ecdsa.PrivateKey, a tpm2.TPMAObject) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type: tpm2.TPMAlgECC, NameAlg: tpm2.TPMAlgSHA256, ObjectAttributes: a,
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgNull},
			CurveID:   tpm2.TPMECCNistP256,
			KDF:       tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
			X: tpm2.TPM2BECCParameter{Buffer: k.X.FillBytes(make([]byte, 32))},
			Y: tpm2.TPM2BECCParameter{Buffer: k.Y.FillBytes(make([]byte, 32))},
		}),
	}
}

// softwareEvidence is evidence answering ch, with a certification of a
// fresh key with attributes a, made and signed in software as a TPM would.
func softwareEvidence(tb testing.TB, ch *Challenge, ak *ecdsa.PrivateKey, a tpm2.TPMAObject, nonce []byte) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	pub := eccPublic(key, a)
	name, err := tpm2.ObjectName(&pub)
	if err != nil {
		tb.Fatal(err)
	}
	info := tpm2.Marshal(tpm2.TPMSAttest{
		Magic:     tpm2.TPMGeneratedValue,
		Type:      tpm2.TPMSTAttestCertify,
		ExtraData: tpm2.TPM2BData{Buffer: nonce},
		Attested:  tpm2.NewTPMUAttest(tpm2.TPMSTAttestCertify, &tpm2.TPMSCertifyInfo{Name: *name, QualifiedName: *name}),
	})
	digest := sha256.Sum256(info)
	r, s, err := ecdsa.Sign(rand.Reader, ak, digest[:])
	if err != nil {
		tb.Fatal(err)
	}
	sig := tpm2.Marshal(tpm2.TPMTSignature{
		SigAlg: tpm2.TPMAlgECDSA,
		Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA, &tpm2.TPMSSignatureECC{
			Hash:       tpm2.TPMAlgSHA256,
			SignatureR: tpm2.TPM2BECCParameter{Buffer: r.Bytes()},
			SignatureS: tpm2.TPM2BECCParameter{Buffer: s.Bytes()},
		}),
	})
	e := Evidence{EKPublic: ch.ekPub, AKPublic: ch.akPub, KeyPublic: tpm2.Marshal(pub), CertifyInfo: info, Signature: sig, Activation: ch.secret}
	data, err := e.Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// madeInTPM are the attributes of a key generated in a TPM.
var madeInTPM = tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true, SignEncrypt: true}

// FuzzParseEvidence feeds arbitrary bytes to everything that reads
// evidence from a TPM backend (or from whoever claims to be one): the
// parser, Challenge and Verify must return errors, never panic.
func FuzzParseEvidence(f *testing.F) {
	ch, ak := softwareChallenge(f)
	nonce := []byte("nonce-nonce")
	f.Add(softwareEvidence(f, ch, ak, madeInTPM, nonce))
	good := validEvidence()
	goodData, _ := good.Marshal()
	f.Add(goodData)
	f.Add([]byte(`{"version":1,"ek_public":"AAEACwADALIAIIN","ak_public":"AQ==","key_public":"AQ==","certify_info":"/1RDR4AX","signature":"ABgACw=="}`))
	f.Add([]byte("{}"))
	v := &Verifier{Roots: x509.NewCertPool()}
	f.Fuzz(func(t *testing.T, data []byte) {
		if e, err := ParseEvidence(data); err == nil {
			// Steer into the TPM-structure decoders: same EK and AK as the
			// challenge, activation right.
			e.EKPublic, e.AKPublic, e.Activation = ch.ekPub, ch.akPub, ch.secret
			steered, _ := e.Marshal()
			_, _ = ch.Verify(steered, nonce)
			_, _ = parsePublic("key_public", e.KeyPublic)
			_, _ = verifyCertification(&ch.ak, e.CertifyInfo, e.Signature)
		}
		_, _ = v.Challenge(data)
		_, _ = ch.Verify(data, nonce)
	})
}

// FuzzParseChallenge feeds arbitrary bytes to the challenge parser, which
// the TPM backend runs on what a server's client sends.
func FuzzParseChallenge(f *testing.F) {
	f.Add([]byte(`{"credential":"AQ==","secret":"Ag=="}`))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseChallenge(data)
		if err == nil && (len(c.Credential) == 0 || len(c.Secret) == 0) {
			t.Fatal("accepted a challenge without credential or secret")
		}
	})
}
