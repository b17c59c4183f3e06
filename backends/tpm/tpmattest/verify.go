package tpmattest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/cryptoplug/cryptoplug/backend"
)

// Verifier checks TPM key attestations against the endorsement key
// certificate authorities it trusts. Its fields are read, never written,
// so a Verifier is safe for concurrent use once set up.
type Verifier struct {
	// Roots are the CAs whose EK certificates are trusted: TPM
	// manufacturers' roots (or, in tests, a private swtpm_localca CA).
	// Required.
	Roots *x509.CertPool
	// Intermediates helps build chains from an EK certificate to Roots.
	Intermediates *x509.CertPool
	// Time is when certificates must be valid; zero means now.
	Time time.Time
}

// Challenge is a verifier's answer to a TPM's identity: the checked EK
// and AK, and a credential for the AK encrypted to the EK whose secret
// only that TPM can recover. Send [Challenge.Bytes] as the next
// backend.AttestRequest.Challenge and check the answer with
// [Challenge.Verify]. A Challenge may verify several keys of the same
// TPM, each with its own fresh nonce. It is safe for concurrent use.
type Challenge struct {
	ekCert *x509.Certificate
	chain  []*x509.Certificate
	ekPub  []byte // TPMT_PUBLIC, as in the evidence
	akPub  []byte
	ak     tpm2.TPMTPublic
	secret []byte
	blob   []byte
}

// Bytes is the challenge to send: backend.AttestRequest.Challenge.
func (c *Challenge) Bytes() []byte { return bytes.Clone(c.blob) }

// EKCertificate is the TPM's verified endorsement key certificate.
func (c *Challenge) EKCertificate() *x509.Certificate { return c.ekCert }

// Result is what a verified attestation proves about a key.
type Result struct {
	// Public is the certified key's public key (*rsa.PublicKey or
	// *ecdsa.PublicKey).
	Public crypto.PublicKey
	// EKCertificate identifies the TPM the key is in; Chain is its
	// verified chain up to one of the roots.
	EKCertificate *x509.Certificate
	Chain         []*x509.Certificate
	// FirmwareVersion is the TPM's firmware version, as it certified.
	FirmwareVersion uint64
}

// secretSize is the credential's secret: a SHA-256-sized random value.
const secretSize = 32

// Challenge checks the identity in evidence (any attestation from the
// TPM; its key certification is not looked at here) and makes a
// credential for its AK:
//
//   - the EK certificate chains to v.Roots for any extended key usage
//     (EK certificates carry the TCG's), and the EK public area holds the
//     certificate's key — else [ErrUntrustedEK];
//   - the AK is a restricted signing key with fixedTPM, fixedParent and
//     sensitiveDataOrigin set — else [ErrUntrustedAK].
//
// Malformed evidence fails with [ErrMalformed].
func (v *Verifier) Challenge(evidence []byte) (*Challenge, error) {
	ev, err := ParseEvidence(evidence)
	if err != nil {
		return nil, err
	}
	if v.Roots == nil {
		return nil, fmt.Errorf("tpmattest: Verifier.Roots is not set: %w", ErrUntrustedEK)
	}
	ekPub, err := parsePublic("ek_public", ev.EKPublic)
	if err != nil {
		return nil, err
	}
	cert, chain, err := v.checkEKCertificate(ev.EKCertificate, ekPub)
	if err != nil {
		return nil, err
	}
	akPub, err := parsePublic("ak_public", ev.AKPublic)
	if err != nil {
		return nil, err
	}
	if err := checkAK(akPub); err != nil {
		return nil, err
	}
	akName, err := tpm2.ObjectName(akPub)
	if err != nil {
		return nil, fmt.Errorf("ak_public: %v: %w", err, ErrMalformed)
	}
	kem, err := tpm2.ImportEncapsulationKey(ekPub)
	if err != nil {
		return nil, fmt.Errorf("the endorsement key cannot receive a credential: %v: %w", err, ErrUntrustedEK)
	}
	secret := make([]byte, secretSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	idObject, encSecret, err := tpm2.CreateCredential(rand.Reader, kem, akName.Buffer, secret)
	if err != nil {
		return nil, fmt.Errorf("make the credential: %w", err)
	}
	blob, err := jsonMarshal(ChallengeBlob{Credential: idObject, Secret: encSecret})
	if err != nil {
		return nil, err
	}
	return &Challenge{ekCert: cert, chain: chain, ekPub: ev.EKPublic, akPub: ev.AKPublic, ak: *akPub, secret: secret, blob: blob}, nil
}

// Verify checks evidence that answers c, with nonce the fresh value the
// caller gave the attestation request:
//
//   - it names the challenged EK and AK and carries the credential's
//     secret — else [ErrNotActivated];
//   - the AK signed its TPM2_Certify structure — else [ErrBadSignature];
//   - the certification's qualifying data is nonce — else [ErrNonce];
//   - the certified name is the key public area's — else [ErrKeyMismatch];
//   - the key has fixedTPM, fixedParent and sensitiveDataOrigin — else
//     [ErrNotFixedTPM], [ErrNotFixedParent], [ErrImported], joined.
//
// Malformed evidence fails with [ErrMalformed].
func (c *Challenge) Verify(evidence, nonce []byte) (*Result, error) {
	ev, err := ParseEvidence(evidence)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(ev.EKPublic, c.ekPub) || !bytes.Equal(ev.AKPublic, c.akPub) {
		return nil, fmt.Errorf("tpmattest: the evidence names another endorsement or attestation key than the one challenged: %w", ErrNotActivated)
	}
	if len(ev.Activation) == 0 {
		return nil, fmt.Errorf("tpmattest: the evidence carries no activated credential (was the challenge sent?): %w", ErrNotActivated)
	}
	if subtle.ConstantTimeCompare(ev.Activation, c.secret) != 1 {
		return nil, fmt.Errorf("tpmattest: the activated credential is wrong: the attestation key is not in the TPM that owns the endorsement key: %w", ErrNotActivated)
	}
	attest, err := verifyCertification(&c.ak, ev.CertifyInfo, ev.Signature)
	if err != nil {
		return nil, err
	}
	if len(nonce) == 0 || subtle.ConstantTimeCompare(attest.ExtraData.Buffer, nonce) != 1 {
		return nil, fmt.Errorf("tpmattest: the certification is not bound to this nonce: %w", ErrNonce)
	}
	certified, err := attest.Attested.Certify()
	if err != nil {
		return nil, fmt.Errorf("certify_info: %v: %w", err, ErrMalformed)
	}
	keyPub, err := parsePublic("key_public", ev.KeyPublic)
	if err != nil {
		return nil, err
	}
	keyName, err := tpm2.ObjectName(keyPub)
	if err != nil {
		return nil, fmt.Errorf("key_public: %v: %w", err, ErrMalformed)
	}
	if !bytes.Equal(keyName.Buffer, certified.Name.Buffer) {
		return nil, fmt.Errorf("tpmattest: the certified key is not the one in the evidence: %w", ErrKeyMismatch)
	}
	if err := checkKeyAttributes(keyPub.ObjectAttributes); err != nil {
		return nil, err
	}
	pub, err := tpm2.Pub(*keyPub)
	if err != nil {
		return nil, fmt.Errorf("key_public: %v: %w", err, ErrMalformed)
	}
	return &Result{Public: pub, EKCertificate: c.ekCert, Chain: c.chain, FirmwareVersion: attest.FirmwareVersion}, nil
}

// nonceSize is the size of the nonces AttestKey draws.
const nonceSize = 32

// AttestKey runs the whole conversation with key a: an attestation to
// learn the TPM's identity, [Verifier.Challenge], a second attestation
// answering the challenge, [Challenge.Verify] with fresh nonces. The
// certified key must be want (the key's Public()), else [ErrKeyMismatch].
func (v *Verifier) AttestKey(ctx context.Context, a backend.Attester, want crypto.PublicKey) (*Result, error) {
	first, err := a.Attest(ctx, backend.AttestRequest{Nonce: randomNonce()})
	if err != nil {
		return nil, err
	}
	if first.Format != Format {
		return nil, fmt.Errorf("tpmattest: attestation format %q, want %q: %w", first.Format, Format, ErrMalformed)
	}
	ch, err := v.Challenge(first.Evidence)
	if err != nil {
		return nil, err
	}
	nonce := randomNonce()
	second, err := a.Attest(ctx, backend.AttestRequest{Nonce: nonce, Challenge: ch.Bytes()})
	if err != nil {
		return nil, err
	}
	res, err := ch.Verify(second.Evidence, nonce)
	if err != nil {
		return nil, err
	}
	if eq, ok := want.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(res.Public) {
		return nil, fmt.Errorf("tpmattest: the certified key is not the key asked about: %w", ErrKeyMismatch)
	}
	return res, nil
}

func randomNonce() []byte {
	n := make([]byte, nonceSize)
	_, _ = rand.Read(n) // crypto/rand.Read never fails
	return n
}

// checkEKCertificate verifies the EK certificate's chain and that it
// certifies ekPub.
func (v *Verifier) checkEKCertificate(der []byte, ekPub *tpm2.TPMTPublic) (*x509.Certificate, []*x509.Certificate, error) {
	if len(der) == 0 {
		return nil, nil, fmt.Errorf("tpmattest: the TPM has no endorsement key certificate: %w", ErrUntrustedEK)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("tpmattest: EK certificate: %v: %w", err, ErrUntrustedEK)
	}
	acceptTPMSubjectAltName(cert)
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         v.Roots,
		Intermediates: v.Intermediates,
		CurrentTime:   v.Time,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("tpmattest: EK certificate %q: %v: %w", cert.Subject.String(), err, ErrUntrustedEK)
	}
	pub, err := tpm2.Pub(*ekPub)
	if err != nil {
		return nil, nil, fmt.Errorf("ek_public: %v: %w", err, ErrMalformed)
	}
	eq, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(pub) {
		return nil, nil, fmt.Errorf("tpmattest: the endorsement key is not the one its certificate certifies: %w", ErrUntrustedEK)
	}
	return cert, chains[0], nil
}

// oidSubjectAltName is the subject alternative name extension.
var oidSubjectAltName = []int{2, 5, 29, 17}

// acceptTPMSubjectAltName marks an EK certificate's critical subject
// alternative name as handled. The TCG EK profile puts the TPM's
// manufacturer, model and version there as a directoryName, with an empty
// subject, which makes the extension critical; crypto/x509 understands
// only DNS, e-mail, IP and URI names and would refuse the certificate.
// The names are not a trust input here: the chain and the key are.
func acceptTPMSubjectAltName(cert *x509.Certificate) {
	kept := cert.UnhandledCriticalExtensions[:0]
	for _, oid := range cert.UnhandledCriticalExtensions {
		if !oid.Equal(oidSubjectAltName) {
			kept = append(kept, oid)
		}
	}
	cert.UnhandledCriticalExtensions = kept
}

// checkAK requires a restricted signing key that cannot leave its TPM and
// was made in it.
func checkAK(ak *tpm2.TPMTPublic) error {
	a := ak.ObjectAttributes
	var missing []string
	for name, ok := range map[string]bool{"restricted": a.Restricted, "sign": a.SignEncrypt, "fixedTPM": a.FixedTPM, "fixedParent": a.FixedParent, "sensitiveDataOrigin": a.SensitiveDataOrigin, "not decrypt": !a.Decrypt} {
		if !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("tpmattest: the attestation key lacks %v: %w", missing, ErrUntrustedAK)
	}
	return nil
}

// checkKeyAttributes requires a key made in its TPM that cannot leave it.
func checkKeyAttributes(a tpm2.TPMAObject) error {
	var errs []error
	if !a.FixedTPM {
		errs = append(errs, fmt.Errorf("tpmattest: fixedTPM is clear: %w", ErrNotFixedTPM))
	}
	if !a.FixedParent {
		errs = append(errs, fmt.Errorf("tpmattest: fixedParent is clear: %w", ErrNotFixedParent))
	}
	if !a.SensitiveDataOrigin {
		errs = append(errs, fmt.Errorf("tpmattest: sensitiveDataOrigin is clear: %w", ErrImported))
	}
	return errors.Join(errs...)
}

// verifyCertification checks that ak signed info, a TPM-made
// TPM2_Certify structure, and returns it decoded.
func verifyCertification(ak *tpm2.TPMTPublic, info, sigBytes []byte) (*tpm2.TPMSAttest, error) {
	sig, err := tpm2.Unmarshal[tpm2.TPMTSignature](sigBytes)
	if err != nil {
		return nil, fmt.Errorf("signature: %v: %w", err, ErrMalformed)
	}
	if err := verifySignature(ak, sig, info); err != nil {
		return nil, err
	}
	attest, err := tpm2.Unmarshal[tpm2.TPMSAttest](info)
	if err != nil {
		return nil, fmt.Errorf("tpmattest: certify_info: %v: %w", err, ErrBadSignature)
	}
	if attest.Magic != tpm2.TPMGeneratedValue || attest.Type != tpm2.TPMSTAttestCertify {
		return nil, fmt.Errorf("tpmattest: certify_info is not a TPM-made TPM2_Certify structure: %w", ErrBadSignature)
	}
	return attest, nil
}

// verifySignature checks sig over data with ak's public key: ECDSA or
// RSASSA, with the hash the signature names.
func verifySignature(ak *tpm2.TPMTPublic, sig *tpm2.TPMTSignature, data []byte) error {
	pub, err := tpm2.Pub(*ak)
	if err != nil {
		return fmt.Errorf("ak_public: %v: %w", err, ErrMalformed)
	}
	bad := func(why string) error {
		return fmt.Errorf("tpmattest: the attestation key's signature %s: %w", why, ErrBadSignature)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		s, err := sig.Signature.ECDSA()
		if err != nil || sig.SigAlg != tpm2.TPMAlgECDSA {
			return bad("is not ECDSA")
		}
		digest, err := hashOf(s.Hash, data)
		if err != nil {
			return bad(err.Error())
		}
		r, ss := new(big.Int).SetBytes(s.SignatureR.Buffer), new(big.Int).SetBytes(s.SignatureS.Buffer)
		if !ecdsa.Verify(k, digest, r, ss) {
			return bad("does not verify")
		}
		return nil
	case *rsa.PublicKey:
		s, err := sig.Signature.RSASSA()
		if err != nil || sig.SigAlg != tpm2.TPMAlgRSASSA {
			return bad("is not RSASSA")
		}
		h, err := s.Hash.Hash()
		if err != nil {
			return bad(err.Error())
		}
		digest, err := hashOf(s.Hash, data)
		if err != nil {
			return bad(err.Error())
		}
		if rsa.VerifyPKCS1v15(k, h, digest, s.Sig.Buffer) != nil {
			return bad("does not verify")
		}
		return nil
	}
	return bad("uses an unknown key type")
}

// hashOf hashes data with the TPM hash algorithm alg, which must be
// SHA-256 or stronger.
func hashOf(alg tpm2.TPMIAlgHash, data []byte) ([]byte, error) {
	h, err := alg.Hash()
	if err != nil {
		return nil, err
	}
	if h.Size() < 32 {
		return nil, fmt.Errorf("uses a hash weaker than SHA-256")
	}
	w := h.New()
	w.Write(data)
	return w.Sum(nil), nil
}

// parsePublic decodes a TPMT_PUBLIC field of the evidence. It must be
// canonical, marshalling back to exactly its bytes: go-tpm reads past a
// short buffer as zeros, and what is checked must be what was sent.
func parsePublic(field string, data []byte) (*tpm2.TPMTPublic, error) {
	p, err := tpm2.Unmarshal[tpm2.TPMTPublic](data)
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %w", field, err, ErrMalformed)
	}
	if !bytes.Equal(tpm2.Marshal(*p), data) {
		return nil, fmt.Errorf("%s: not a canonical TPMT_PUBLIC: %w", field, ErrMalformed)
	}
	return p, nil
}
