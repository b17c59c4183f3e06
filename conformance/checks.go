package conformance

import (
	"crypto"

	"github.com/cryptoplug/cryptoplug/backend"
)

// check is one row of the matrix. whole, when set, runs once as the
// "backend" column; per, when set, runs once for each algorithm in scope
// that applies reports true for; custom, when set instead, drives its own
// subtests.
type check struct {
	name    string
	applies func(backend.Algorithm) bool
	per     func(r *runner, c *cell, a backend.Algorithm)
	whole   func(r *runner, c *cell)
	custom  func(r *runner, t testT, name string)
}

// checks is the suite, in the order it runs. Key-making comes first so that
// its cost and failures show in "generate"; closing and reopening the backend
// and deleting the shared keys come last.
var checks = []check{
	{name: "capabilities", whole: checkCapabilities},
	{name: "generate", applies: anyAlgorithm, per: checkGenerate},
	{name: "public-key", applies: anyAlgorithm, per: checkPublicKey},
	{name: "usage", applies: anyAlgorithm, per: checkUsage},
	{name: "unclaimed", applies: anyAlgorithm, per: checkUnclaimed},

	{name: "sign-pkcs1v15-sha256", applies: isRSA, per: signPKCS1v15Check(crypto.SHA256)},
	{name: "sign-pkcs1v15-sha384", applies: isRSA, per: signPKCS1v15Check(crypto.SHA384)},
	{name: "sign-pkcs1v15-sha512", applies: isRSA, per: signPKCS1v15Check(crypto.SHA512)},
	{name: "sign-pss-sha256", applies: isRSA, per: signPSSCheck(crypto.SHA256)},
	{name: "sign-pss-sha384", applies: isRSA, per: signPSSCheck(crypto.SHA384)},
	{name: "sign-pss-sha512", applies: isRSA, per: signPSSCheck(crypto.SHA512)},
	{name: "sign-ecdsa-sha256", applies: isECDSA, per: signECDSACheck(crypto.SHA256)},
	{name: "sign-ecdsa-sha384", applies: isECDSA, per: signECDSACheck(crypto.SHA384)},
	{name: "sign-ecdsa-sha512", applies: isECDSA, per: signECDSACheck(crypto.SHA512)},
	{name: "sign-message", applies: backend.Algorithm.SignsMessages, per: checkSignMessage},
	{name: "sign-ed25519-options", applies: isEd25519, per: checkSignEd25519Options},
	{name: "sign-options", applies: backend.Algorithm.Signs, per: checkSignOptions},
	{name: "sign-long-message", applies: backend.Algorithm.SignsMessages, per: checkSignLongMessage},
	{name: "rsa-signature-length", applies: isRSA, per: checkRSASignatureLength},
	{name: "ecdsa-der", applies: isECDSA, per: checkECDSADER},
	{name: "sign-repeat", applies: backend.Algorithm.Signs, per: checkSignRepeat},
	{name: "sign-invalid", applies: backend.Algorithm.Signs, per: checkSignInvalid},

	{name: "decrypt-pkcs1v15", applies: isRSA, per: checkDecryptPKCS1v15},
	{name: "decrypt-pkcs1v15-session", applies: isRSA, per: checkDecryptSessionKey},
	{name: "decrypt-oaep-sha1", applies: isRSA, per: decryptOAEPCheck(crypto.SHA1)},
	{name: "decrypt-oaep-sha256", applies: isRSA, per: decryptOAEPCheck(crypto.SHA256)},
	{name: "decrypt-oaep-sha384", applies: isRSA, per: decryptOAEPCheck(crypto.SHA384)},
	{name: "decrypt-oaep-sha512", applies: isRSA, per: decryptOAEPCheck(crypto.SHA512)},
	{name: "decrypt-invalid", applies: isRSA, per: checkDecryptInvalid},
	{name: "decrypt-oracle", applies: isRSA, per: checkDecryptOracle},
	{name: "decrypt-options", applies: isRSA, per: checkDecryptOptions},

	{name: "decapsulate", applies: backend.Algorithm.Decapsulates, per: checkDecapsulate},
	{name: "decapsulate-invalid", applies: backend.Algorithm.Decapsulates, per: checkDecapsulateInvalid},

	{name: "x509-certificate", applies: backend.Algorithm.Signs, per: checkX509Certificate},
	{name: "x509-csr", applies: backend.Algorithm.Signs, per: checkX509CSR},
	{name: "tls13-server", applies: backend.Algorithm.Signs, per: checkTLS13},

	{name: "context-canceled", whole: checkContextCanceledBackend, applies: anyAlgorithm, per: checkContextCanceled},
	{name: "nil-context", applies: anyAlgorithm, per: checkNilContext},
	{name: "concurrency", whole: checkConcurrency},
	{name: "lifecycle", whole: checkLifecycleBackend, applies: anyAlgorithm, per: checkLifecycle},
	{name: "labels", whole: checkLabels},
	{name: "delete-ref", whole: checkDeleteRef},
	{name: "errors", applies: anyAlgorithm, per: checkErrors},

	{name: "wycheproof-ecdsa-p1363", applies: isECDSA, per: checkWycheproofECDSA},
	{name: "wycheproof-pkcs1-sign", applies: isRSA, per: checkWycheproofPKCS1Sign},
	{name: "wycheproof-pkcs1-decrypt", applies: isRSA, per: checkWycheproofPKCS1Decrypt},
	{name: "wycheproof-oaep", applies: isRSA, per: checkWycheproofOAEP},
	{name: "wycheproof-mlkem", applies: backend.Algorithm.Decapsulates, per: checkWycheproofMLKEM},
	{name: "wycheproof-mldsa", applies: isMLDSA, per: checkWycheproofMLDSA},
	{name: "kat-eddsa", applies: isEdDSA, per: checkKnownAnswerEdDSA},

	{name: "closed", custom: checkClosed},
	{name: "reopen", custom: checkReopen},
	{name: "delete", applies: anyAlgorithm, per: checkDelete},

	// Last: what the observer saw in every error of the run.
	{name: "error-type", whole: checkErrorType},
	{name: "error-leak", whole: checkErrorLeak},
}

func anyAlgorithm(backend.Algorithm) bool { return true }

func isRSA(a backend.Algorithm) bool     { return a.Family() == backend.FamilyRSA }
func isECDSA(a backend.Algorithm) bool   { return a.Family() == backend.FamilyECDSA }
func isEdDSA(a backend.Algorithm) bool   { return a.Family() == backend.FamilyEdDSA }
func isMLDSA(a backend.Algorithm) bool   { return a.Family() == backend.FamilyMLDSA }
func isEd25519(a backend.Algorithm) bool { return a == backend.Ed25519 }
