// Package conformance is the test kit every cryptoplug backend must pass: one
// suite of checks that proves a store behaves like the standard library's
// keys would, run the same way against software keys, a PKCS #11 token, a TPM
// or your own HSM.
//
// Start with [Run] from a test, giving it an [Opener] for the backend under
// test ([OpenURI] builds one from a backend URI):
//
//	func TestMyHSM(t *testing.T) {
//		report := new(conformance.Report)
//		conformance.Run(t, conformance.OpenURI("pkcs11:token=test?pin-source=env:PIN"),
//			conformance.WithReport(report))
//		report.Matrix(os.Stdout)
//	}
//
// Run reads the backend's declared [backend.Capabilities] and runs every check
// that applies, as subtests named "<check>/<algorithm>" ("sign-pss-sha256/RSA-2048",
// "decrypt-invalid/RSA-3072"); checks about the backend as a whole use the
// column "backend". A capability the backend claims must work; an operation
// it does not claim must fail with [backend.ErrUnsupported]; and a check that
// cannot apply is recorded as "unsupported" or "skip" with its reason, never
// dropped silently. A parameter combination the store refuses with
// ErrUnsupported (OAEP with SHA-256 on SoftHSM, say) is noted, not failed,
// unless it is the baseline every store of that algorithm must offer:
// PKCS #1 v1.5 and PSS signatures with SHA-256 for RSA, PKCS #1 v1.5 and
// OAEP-SHA-1 decryption, ECDSA with the curve's own hash, and pure
// Ed25519/Ed448/ML-DSA signatures. Each result lands in a [Report], which
// prints as a matrix of checks by algorithms and marshals to JSON.
//
// Known answers come from Wycheproof (RSA PKCS #1 v1.5 signatures, RSA
// decryption, ML-KEM, ML-DSA, and ECDSA P1363 through
// [backend.ECDSARawToDER]), fetched with "go mod download" on first use, and
// from the Ed25519 vectors in GOROOT; they need a backend that imports keys
// ([backend.Importer]).
//
// # Checks
//
// In the order they run (the rows of the matrix):
//
//   - capabilities: Info and Capabilities are sane; claims fit the algorithms.
//   - generate, public-key, usage: the shared key of each algorithm (made once,
//     generated or else imported) has the algorithm, label, ID and public key
//     asked for; Public is stable and survives PKIX (or MarshalBinary)
//     encoding; the key offers the interface of its usage and refuses the
//     others with ErrUnsupported.
//   - unclaimed: generate, import or decrypt where not claimed gives
//     ErrUnsupported.
//   - sign-pkcs1v15-*, sign-pss-*, sign-ecdsa-*, sign-message,
//     sign-ed25519-options: signatures for every scheme and hash, verified by
//     the standard library (circl for Ed448 and ML-DSA); PSS with
//     PSSSaltLengthEqualsHash verified with exactly that.
//   - rsa-signature-length, ecdsa-der, sign-repeat: RSA signatures are
//     modulus-sized even with a leading zero; ECDSA is canonical DER with r
//     and s in range; PKCS #1 v1.5 and EdDSA repeat, PSS and ECDSA do not.
//   - sign-invalid, decrypt-invalid, decapsulate-invalid: malformed input
//     fails with the contract's error, and the key works afterwards.
//   - decrypt-pkcs1v15, decrypt-pkcs1v15-session, decrypt-oaep-*: PKCS #1
//     v1.5 (with the SessionKeyLen rule) and OAEP over hash, MGF1 hash and
//     label.
//   - decapsulate: ML-KEM agrees with crypto/mlkem.
//   - x509-certificate, x509-csr, tls13-server: crypto/x509 and crypto/tls
//     accept the key's Signer.
//   - context-canceled: a done context fails fast with its own error.
//   - concurrency: many goroutines over every key at once.
//   - lifecycle: find by ID and label, list, ErrKeyNotFound, ErrKeyExists,
//     malformed KeySpecs.
//   - wycheproof-*, kat-eddsa: known answers on imported keys, and the ECDSA
//     P1363 vectors through backend.ECDSARawToDER.
//   - closed, reopen, delete: ErrClosed after Close; keys outlive Close on a
//     persistent backend; deleted keys are gone and their handles fail.
//
// Every call checks that the inputs it was given come back unmodified.
//
// # Safety on a real token
//
// The suite is meant to run against production-grade hardware, so it
// promises to touch only what it creates. Every key it makes carries a label
// starting with "cryptoplug-conformance-" and a random run identifier; it
// looks up, uses and deletes only keys it made in this run, deleting them by
// ID and label together, and deletes them from a [testing.T] cleanup even
// when a check fails or panics. It never tries a wrong PIN, looks at other
// keys only as far as Keys lists them, and never uses, modifies or deletes
// an object it did not create. Checks are bounded in count and time ([WithSignatureBudget],
// [WithConcurrency], [WithWycheproofLimit]) so that slow tokens finish.
package conformance
