// Package backend is the contract every cryptoplug key store implements: a
// [Backend] holds keys, a [Key] hands out the standard library's crypto
// interfaces ([crypto.Signer], [crypto.MessageSigner], [crypto.Decrypter],
// [crypto.Decapsulator]) for the private key it names, and the private key
// itself never leaves the store.
//
// Start with [Open]: it parses a URI ("software:", "pkcs11:…", "tpm:…"),
// picks the backend registered for its scheme and returns a ready [Backend].
// Backends register themselves when their package is imported, so a program
// imports the backends it wants for their side effect:
//
//	import _ "github.com/cryptoplug/cryptoplug/backends/software"
//
//	b, err := backend.Open(ctx, "software:")
//	k, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "web"})
//	s, err := k.Signer()
//	sig, err := s.Sign(rand.Reader, digest, crypto.SHA256)
//
// The key's algorithm is fixed when it is generated; the signature or
// encryption scheme is chosen per call with the standard library's option
// types: a [crypto.Hash] for PKCS #1 v1.5 and ECDSA, [*rsa.PSSOptions],
// [*rsa.OAEPOptions], [*rsa.PKCS1v15DecryptOptions] and [*ed25519.Options].
// Every backend validates those inputs the same way, through [CheckDigest],
// [PSSSaltLength] and friends in this package, so a key behaves identically
// whether it lives in software, a PKCS #11 token or a TPM.
//
// Errors wrap the sentinels in errors.go ([ErrKeyNotFound], [ErrUnsupported],
// [ErrClosed], …) inside an [*Error] that names the operation, the backend and
// the key; test them with [errors.Is]. Context errors pass through unchanged,
// so errors.Is(err, context.Canceled) works too. No error, String method or
// log line produced by this package or a conforming backend contains a PIN,
// passphrase or key material.
//
// Nothing in this package is a backend: it is interfaces, the URI grammar,
// the registry and the shared validation rules.
package backend
