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
// [*rsa.OAEPOptions], [*rsa.PKCS1v15DecryptOptions], [*ed25519.Options],
// circl's ed448.SignerOptions and this package's [MLDSAOptions]. Every
// backend reads those options through one parser, [ParseSignOptions] and
// [ParseDecryptOptions], into a [SignRequest] or [DecryptRequest] that its
// store works from, so a key accepts and refuses exactly the same inputs
// whether it lives in software, a PKCS #11 token, a TPM or behind a server.
//
// # Writing a backend
//
// A backend's key hands its store's single operation (a [SignFunc],
// [DecryptFunc] or [DecapsulateFunc]) to [NewSigner], [NewDecrypter] or
// [NewDecapsulator] with a [StoreKey] that names the key. The adapters own
// what every backend shares: the timeout of the methods without a context,
// the checks of the context and of the key's state, option parsing, PKCS #1
// v1.5's SessionKeyLen rule in constant time, one indistinguishable
// decryption error, error wrapping, and turning a panic into [ErrInternal].
//
// Errors wrap the sentinels in errors.go ([ErrKeyNotFound], [ErrUnsupported],
// [ErrClosed], …) inside an [*Error] that names the operation, the backend and
// the key; test them with [errors.Is]. Context errors pass through unchanged,
// so errors.Is(err, context.Canceled) works too. No error, String method or
// log line produced by this package or a conforming backend contains a PIN,
// passphrase or key material.
//
// Nothing in this package is a backend: it is interfaces, the URI grammar,
// the registry, the request parsers and the adapters every backend uses.
package backend
