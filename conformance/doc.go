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
// prints as a matrix of checks by algorithms and marshals to JSON. A failing
// result says what the contract expected, what came back, and whose fault
// it is ([FaultStore]: the store answered wrongly and cryptoplug passed the
// answer on; [FaultCryptoplug]: cryptoplug's own code broke the contract).
//
// The suite never fails what is legal: deterministic ECDSA (RFC 6979),
// high-S signatures, PSS with any salt under PSSSaltLengthAuto, hedged or
// deterministic ML-DSA, a store that refuses OAEP labels, SessionKeyLen or
// EdDSA variants with ErrUnsupported, an implicit-rejection PKCS #1 v1.5
// fallback. How strong it is, and which legal behaviours it is tested
// against, is measured by a mutation campaign in its own tests and kept in
// docs/conformance.md.
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
//   - sign-options: every option form, once: nil options where allowed,
//     typed nil pointers of every option type (refused with ErrInvalidInput
//     or handled as the zero options, never a panic), circl's
//     ed448.SignerOptions as a value and a pointer, Ed448 contexts and
//     Ed448ph, [backend.MLDSAOptions] contexts, contexts of 255 bytes
//     (allowed) and 256 (ErrInvalidInput), the option types of other keys. A
//     variant the store cannot do is refused with ErrUnsupported; a
//     signature that comes back verifies under exactly the variant asked for.
//   - sign-long-message: pure schemes sign messages of 4 KiB + 1 byte (which
//     every store must), 64 KiB ± 1 and 1 MiB + 1 ([WithLongMessageLimit]),
//     or refuse the longer ones with ErrInvalidInput or ErrUnsupported.
//   - rsa-signature-length, ecdsa-der: RSA signatures are modulus-sized even
//     with a leading zero (decided in one signature with an imported key of
//     the suite's, whose signature it knows starts with zero); ECDSA is
//     canonical DER with r and s in range, searched until a short r and s
//     have been seen ([WithSignatureBudget]).
//   - sign-repeat: PKCS #1 v1.5 and EdDSA repeat; ECDSA may repeat (RFC 6979)
//     or not, but r never repeats across distinct digests, and with an
//     imported key the recovered nonces are not biased; PSS salts, recovered
//     with the public key, are all different ([WithRepeatSamples]).
//   - sign-invalid, decrypt-invalid, decapsulate-invalid: malformed input
//     fails with the contract's error, and the key works afterwards.
//   - decrypt-pkcs1v15, decrypt-pkcs1v15-session, decrypt-oaep-*: PKCS #1
//     v1.5 (empty messages and leading zero bytes included; the SessionKeyLen
//     rule, with fallback keys that differ per bad ciphertext, are not bytes
//     of the decrypted block, and read rand the same way whatever the
//     padding) and OAEP over hash, MGF1 hash and label.
//   - decrypt-oracle: every kind of bad padding fails with the same error
//     text and chain of types, for PKCS #1 v1.5 and OAEP: no padding oracle.
//   - decrypt-options: typed nil decryption options, never a panic.
//   - decapsulate: ML-KEM agrees with crypto/mlkem.
//   - x509-certificate, x509-csr, tls13-server: crypto/x509 and crypto/tls
//     accept the key's Signer.
//   - context-canceled: a done context fails fast with its own error.
//   - nil-context: the context-taking operations given a nil context return
//     (an error or a correct result) in bounded time, without a panic.
//   - concurrency: many goroutines over every key at once; besides wrong
//     results, an ECDSA r or PSS salt shared by two calls and a result whose
//     bytes change after it was returned.
//   - lifecycle: find by ID and label, list, ErrKeyNotFound, ErrKeyExists,
//     malformed KeySpecs.
//   - labels: labels are exact bytes: the NFD form or another case of a
//     label finds nothing and can be a key of its own; Keys lists keys with
//     non-ASCII labels byte for byte.
//   - delete-ref: a KeyRef whose ID and label name different keys matches
//     nothing and deletes nothing; after a key is deleted and another made
//     under its label, the old handle fails.
//   - errors: errors around an imported key (duplicate, wrong algorithm,
//     malformed key, malformed requests) wrap their sentinel, are
//     *backend.Error and carry no key material.
//   - wycheproof-*, kat-eddsa: known answers on imported keys, and the ECDSA
//     P1363 vectors through backend.ECDSARawToDER.
//   - closed, reopen, delete: ErrClosed after Close; keys outlive Close on a
//     persistent backend; deleted keys are gone and their handles fail.
//   - error-type, error-leak: every error the backend returned during the
//     run, seen through an observing proxy, is a *backend.Error and carries
//     no private material of any key the suite imported (raw, hex, base64,
//     decimal, byte lists).
//
// Every call checks that the inputs it was given come back unmodified.
//
// # A slow token
//
// [WithProgress] writes a line as each check finishes, with an estimate of
// the time left; [WithSmallBudget] (or the separate budget options) makes
// fewer signatures, known-answer cases and concurrent operations and
// shorter long messages, and [WithChecks] and [WithAlgorithms] narrow the
// run. The report lists every reduction ([Report.Reduced]); the time of each
// result is in the JSON.
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
// [WithConcurrency], [WithWycheproofLimit], [WithCheckTimeout]) so that slow tokens finish.
package conformance
