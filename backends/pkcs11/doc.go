// Package pkcs11 is the cryptoplug backend for PKCS #11 tokens: hardware
// security modules, smart cards and SoftHSM2. Private keys stay on the token;
// the package hands out [backend.Key] values whose signing and decryption
// run on the token through a small, self-healing pool of PKCS #11 sessions.
//
// Start with [backend.Open] and a PKCS #11 URI (RFC 7512), after importing
// this package for its side effect:
//
//	import _ "github.com/cryptoplug/cryptoplug/backends/pkcs11"
//
//	b, err := backend.Open(ctx, "pkcs11:token=signing?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/cryptoplug/pin")
//
// The URI names the module (the vendor's PKCS #11 shared library), the token
// and where the user PIN comes from; [ParseConfig] lists every attribute.
// To use a real HSM, point module-path at the vendor's library (for example
// /opt/cloudhsm/lib/libcloudhsm_pkcs11.so or /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so),
// select the token by token=, serial= or slot-id=, and keep the PIN in a
// file readable only by the service (pin-source=file:…) or in the
// environment (pin-source=env:NAME). Size the session pool with
// max-sessions= to the concurrency you need and the HSM's licence allows.
//
// Keys are found by CKA_LABEL or CKA_ID ([backend.KeyRef]); [KeyRefFromURI]
// turns a key URI such as "pkcs11:token=signing;object=web;id=%01%02" into
// one. Keys generated here are token objects that are sensitive, not
// extractable and private, carry a random CKA_ID and the label on both
// halves, and are restricted to the usage asked for (CKA_SIGN or
// CKA_DECRYPT). Keys made by other tools (pkcs11-tool, softhsm2-util) are
// found and used the same way.
//
// What the token can do is read from the token itself
// (C_GetMechanismList, C_GetMechanismInfo) and reported by
// [backend.Backend.Capabilities]; key import is claimed only where Open saw
// the token create a private key object. A parameter combination the token
// refuses (SoftHSM2 does OAEP only with SHA-1) fails with
// [backend.ErrUnsupported]. Every input is validated before the token sees
// it, with the same rules as every other cryptoplug backend.
//
// Tokens also accept what they then get wrong. The backend learns such
// defects from the token's behaviour, never from its name, and turns them
// into [backend.ErrUnsupported] or a correct result: each OAEP parameter
// combination is tried once on a ciphertext made in Go before it is used
// (SoftHSM2 and opencryptoki do not check labels, tpm2-pkcs11 ignores an
// MGF1 hash different from the hash); PSS with
// [crypto/rsa.PSSSaltLengthAuto] falls back to a salt as long as the hash
// on a token that refuses the largest salt, and the signature is verified;
// EdDSA variants a token ignores are detected by verifying. Defects that
// no probe can reveal, and that a token reports as plain errors, are listed
// per token in docs/tokens.md (tpm2-pkcs11 1.9, for one, cannot make PKCS #1
// v1.5 or PSS signatures with an RSA key created for signing only).
//
// A session that the token dropped (closed sessions, a logged-out user, a
// removed or reset device, a module finalised by another user in the
// process) is discarded; the backend reopens sessions, logs in again and
// retries the operation once before failing. A session on which an
// operation failed is never reused as it is: some tokens leave the
// operation active, so the session is closed (or, after a failed
// decryption, the operation ended with C_DecryptFinal) and the pool opens
// another.
//
// When the token or module itself fails (CKR_DEVICE_ERROR, a removed token,
// a network HSM's daemon restarted), operations fail at once with
// [backend.ErrUnavailable] while one background loop per backend
// reconnects, retrying after 100 ms, doubling up to 1 s; a module failure
// is mended by C_Finalize and C_Initialize in the loaded library, once for
// every backend on it, and only where this process initialised it. Keys
// find their object again (by ID, checked against the public key) once the
// token is back. A call the token does not answer never holds its caller
// past its context: the caller gets the context's error, and the call
// keeps its session until it returns; while as many calls as the pool has
// sessions hang, operations fail at once with ErrUnavailable.
// [Backend.Health] reports up, recovering or down.
//
// A module, once loaded, stays loaded until the process exits: many
// modules (opencryptoki 3.8 among them) crash when unloaded and loaded
// again in one process.
//
// The package needs cgo, because PKCS #11 modules are C shared libraries.
// A binary built with CGO_ENABLED=0 still compiles and links, but Open fails
// with an error wrapping [backend.ErrUnsupported] that says so.
//
// This package never reads the PIN into an error or log line, never
// exports private key material, and calls C_Finalize only to reset a
// failed module it initialised itself.
package pkcs11
