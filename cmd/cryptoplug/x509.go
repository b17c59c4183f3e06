package main

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cryptoplug/cryptoplug/backend"
)

// certFlags are what a CSR and a self-signed certificate share.
type certFlags struct {
	kf      keyFlags
	subject string
	names   sans
	hash    string
	rsaPSS  bool
	out     string
}

func (f *certFlags) add(cmd *cobra.Command) {
	f.kf.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.subject, "subject", "", `the subject, as RFC 4514 writes it ("CN=web,O=Example,C=DE") or OpenSSL's -subj ("/CN=web/O=Example") (required)`)
	fl.StringSliceVar(&f.names.dns, "dns", nil, "DNS subject alternative names (repeat or comma-separate)")
	fl.StringSliceVar(&f.names.ip, "ip", nil, "IP address subject alternative names")
	fl.StringSliceVar(&f.names.email, "email", nil, "email subject alternative names")
	fl.StringSliceVar(&f.names.uri, "uri", nil, "URI subject alternative names")
	fl.StringVar(&f.hash, "hash", "", "signature hash for RSA and ECDSA keys: SHA-256, SHA-384 or SHA-512 (default: SHA-256 for RSA, the curve's for ECDSA)")
	fl.BoolVar(&f.rsaPSS, "rsa-pss", false, "sign with RSASSA-PSS rather than PKCS #1 v1.5 (RSA keys)")
	fl.StringVar(&f.out, "out", "-", "write the PEM to this new file instead of standard output")
	_ = cmd.MarkFlagRequired("subject")
}

// signatureAlgorithm picks the x509 signature algorithm for a key of alg.
// crypto/x509 signs with RSA, ECDSA and Ed25519 keys only.
func (f *certFlags) signatureAlgorithm(alg backend.Algorithm) (x509.SignatureAlgorithm, error) {
	h := crypto.SHA256
	if alg.Family() == backend.FamilyECDSA {
		h = alg.CurveHash()
	}
	if f.hash != "" {
		switch hh := signatureHashes[strings.ToLower(f.hash)]; hh {
		case crypto.SHA256, crypto.SHA384, crypto.SHA512:
			h = hh
		default:
			return 0, usagef("--hash %q: certificates are signed with SHA-256, SHA-384 or SHA-512", f.hash)
		}
	}
	if f.rsaPSS && alg.Family() != backend.FamilyRSA {
		return 0, usagef("--rsa-pss: the key is %s, not RSA", alg)
	}
	switch alg.Family() {
	case backend.FamilyRSA:
		if f.rsaPSS {
			return map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.SHA256WithRSAPSS, crypto.SHA384: x509.SHA384WithRSAPSS, crypto.SHA512: x509.SHA512WithRSAPSS}[h], nil
		}
		return map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.SHA256WithRSA, crypto.SHA384: x509.SHA384WithRSA, crypto.SHA512: x509.SHA512WithRSA}[h], nil
	case backend.FamilyECDSA:
		return map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.ECDSAWithSHA256, crypto.SHA384: x509.ECDSAWithSHA384, crypto.SHA512: x509.ECDSAWithSHA512}[h], nil
	}
	if alg == backend.Ed25519 {
		if f.hash != "" {
			return 0, usageErr("--hash: Ed25519 certificates are signed with pure Ed25519")
		}
		return x509.PureEd25519, nil
	}
	return 0, fmt.Errorf("crypto/x509 cannot sign certificates with %s keys (RSA, ECDSA and Ed25519 only): %w", alg, backend.ErrUnsupported)
}

// certJSON is the -o json form of a CSR or certificate.
type certJSON struct {
	PEM        string    `json:"pem"`
	Subject    string    `json:"subject"`
	Signature  string    `json:"signature_algorithm"`
	SPKISHA256 string    `json:"spki_sha256"`
	Serial     string    `json:"serial,omitempty"`
	NotBefore  time.Time `json:"not_before,omitzero"`
	NotAfter   time.Time `json:"not_after,omitzero"`
	SHA256     string    `json:"sha256,omitempty"` // of the certificate's DER
}

// certRun is the part of csr and selfsign before the x509 call: the
// backend, the key, its Signer and the request's fields.
func (a *app) certRun(cmd *cobra.Command, name, raw string, f *certFlags, do func(t *target, k backend.Key, s crypto.Signer, alg x509.SignatureAlgorithm) ([]byte, certJSON, error)) (err error) {
	ctx, cancel := a.context(cmd)
	defer cancel()
	t, k, err := a.openKey(ctx, name, raw, f.kf)
	if err != nil {
		return err
	}
	defer t.close(&err)
	sigAlg, err := f.signatureAlgorithm(k.Algorithm())
	if err != nil {
		return t.fail(k.Label(), err)
	}
	s, err := k.Signer()
	if err != nil {
		return t.fail(k.Label(), err)
	}
	pemBytes, j, err := do(t, k, s, sigAlg)
	if err != nil {
		return t.fail(k.Label(), err)
	}
	if a.json() {
		j.PEM = string(pemBytes)
		return printJSON(a.out, j)
	}
	return t.fail(k.Label(), writeOutput(a.out, f.out, pemBytes, 0o644))
}

func newCSRCommand(a *app) *cobra.Command {
	var f certFlags
	cmd := &cobra.Command{
		Use:     "csr URI --key LABEL --subject DN",
		Short:   "Create a PKCS #10 certificate signing request signed by a key in the backend",
		GroupID: groupCerts,
		Long: `Create a certificate signing request (PKCS #10, PEM) for a key in the backend, signed by it,
to send to a certificate authority. The request is checked (parsed and its signature verified)
before it is written.`,
		Example: `  cryptoplug csr "$URI" --key web --subject 'CN=www.example.com,O=Example' --dns www.example.com,example.com > web.csr
  openssl req -in web.csr -noout -verify`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			subject, err := parseSubject(f.subject)
			if err != nil {
				return &opError{cmd: "csr", uri: backend.RedactURI(args[0]), err: err}
			}
			dns, ips, emails, uris, err := f.names.resolve()
			if err != nil {
				return &opError{cmd: "csr", uri: backend.RedactURI(args[0]), err: err}
			}
			return a.certRun(cmd, "csr", args[0], &f, func(t *target, k backend.Key, s crypto.Signer, alg x509.SignatureAlgorithm) ([]byte, certJSON, error) {
				der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
					Subject: subject, SignatureAlgorithm: alg,
					DNSNames: dns, IPAddresses: ips, EmailAddresses: emails, URIs: uris,
				}, s)
				if err != nil {
					return nil, certJSON{}, fmt.Errorf("create CSR: %w", err)
				}
				csr, err := x509.ParseCertificateRequest(der)
				if err == nil {
					err = csr.CheckSignature()
				}
				if err != nil {
					return nil, certJSON{}, fmt.Errorf("the CSR the key signed does not verify: %w", err)
				}
				spki := sha256.Sum256(csr.RawSubjectPublicKeyInfo)
				return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
					certJSON{Subject: csr.Subject.String(), Signature: csr.SignatureAlgorithm.String(), SPKISHA256: hex.EncodeToString(spki[:])}, nil
			})
		},
	}
	f.add(cmd)
	return cmd
}

// maxDays bounds a self-signed certificate's validity: a hundred years.
const maxDays = 36500

func newSelfsignCommand(a *app) *cobra.Command {
	var (
		f    certFlags
		days int
		ca   bool
		ekus []string
	)
	cmd := &cobra.Command{
		Use:     "selfsign URI --key LABEL --subject DN",
		Short:   "Create a self-signed X.509 certificate for a key in the backend",
		GroupID: groupCerts,
		Long: `Create a self-signed certificate (PEM) for a key in the backend: a test CA or server,
or the trust anchor of a private PKI when --ca is given. The serial number is 128 random
bits; the certificate is valid from a minute ago for --days days, and is checked (parsed and
its signature verified with its own key) before it is written.`,
		Example: `  cryptoplug selfsign "$URI" --key root --subject 'CN=Example Root CA,O=Example' --ca --days 3650 --out root.crt
  cryptoplug selfsign "$URI" --key web --subject CN=localhost --dns localhost --ip 127.0.0.1 --ext-key-usage serverAuth`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			where := &opError{cmd: "selfsign", uri: backend.RedactURI(args[0])}
			subject, err := parseSubject(f.subject)
			if err != nil {
				where.err = err
				return where
			}
			dns, ips, emails, uris, err := f.names.resolve()
			if err != nil {
				where.err = err
				return where
			}
			if days < 1 || days > maxDays {
				where.err = usagef("--days must be 1 to %d", maxDays)
				return where
			}
			extUsage, err := parseExtKeyUsage(ekus)
			if err != nil {
				where.err = err
				return where
			}
			return a.certRun(cmd, "selfsign", args[0], &f, func(t *target, k backend.Key, s crypto.Signer, alg x509.SignatureAlgorithm) ([]byte, certJSON, error) {
				serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
				if err != nil {
					return nil, certJSON{}, err
				}
				serial.Add(serial, big.NewInt(1)) // never zero
				now := time.Now()
				tmpl := &x509.Certificate{
					SerialNumber: serial, Subject: subject, SignatureAlgorithm: alg,
					NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Duration(days) * 24 * time.Hour),
					DNSNames: dns, IPAddresses: ips, EmailAddresses: emails, URIs: uris,
					KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: extUsage,
					BasicConstraintsValid: true, IsCA: ca,
				}
				if ca {
					tmpl.KeyUsage |= x509.KeyUsageCertSign | x509.KeyUsageCRLSign
				}
				der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), s)
				if err != nil {
					return nil, certJSON{}, fmt.Errorf("create certificate: %w", err)
				}
				cert, err := x509.ParseCertificate(der)
				if err == nil {
					err = cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature)
				}
				if err != nil {
					return nil, certJSON{}, fmt.Errorf("the certificate the key signed does not verify: %w", err)
				}
				spki := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
				sum := sha256.Sum256(der)
				return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), certJSON{
					Subject: cert.Subject.String(), Signature: cert.SignatureAlgorithm.String(), SPKISHA256: hex.EncodeToString(spki[:]),
					Serial: cert.SerialNumber.Text(16), NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, SHA256: hex.EncodeToString(sum[:]),
				}, nil
			})
		},
	}
	f.add(cmd)
	cmd.Flags().IntVar(&days, "days", 365, fmt.Sprintf("validity in days, 1 to %d", maxDays))
	cmd.Flags().BoolVar(&ca, "ca", false, "make a CA certificate (basic constraints CA, key usage certSign and cRLSign)")
	cmd.Flags().StringSliceVar(&ekus, "ext-key-usage", nil, "extended key usages: serverAuth, clientAuth, codeSigning, emailProtection, timeStamping, OCSPSigning")
	_ = cmd.RegisterFlagCompletionFunc("ext-key-usage", cobra.FixedCompletions(
		[]string{"serverAuth", "clientAuth", "codeSigning", "emailProtection", "timeStamping", "OCSPSigning"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

var extKeyUsages = map[string]x509.ExtKeyUsage{
	"serverauth": x509.ExtKeyUsageServerAuth, "clientauth": x509.ExtKeyUsageClientAuth,
	"codesigning": x509.ExtKeyUsageCodeSigning, "emailprotection": x509.ExtKeyUsageEmailProtection,
	"timestamping": x509.ExtKeyUsageTimeStamping, "ocspsigning": x509.ExtKeyUsageOCSPSigning,
}

func parseExtKeyUsage(names []string) ([]x509.ExtKeyUsage, error) {
	var out []x509.ExtKeyUsage
	for _, n := range names {
		u, ok := extKeyUsages[strings.ToLower(strings.TrimSpace(n))]
		if !ok {
			return nil, usagef("--ext-key-usage %q: want serverAuth, clientAuth, codeSigning, emailProtection, timeStamping or OCSPSigning", truncateName(n))
		}
		out = append(out, u)
	}
	return out, nil
}
