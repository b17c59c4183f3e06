// Package sealedfile writes, checks and rotates sealed secret files: small
// secrets (a keystore passphrase, a token PIN, a pepper, a bearer
// credential) sealed with package seal to a key in any cryptoplug backend —
// a TPM key, a PKCS #11 token's key, a key in another keystore — so that no
// plaintext copy of the secret sits on disk. A program reads such a file
// through a sealed: secret source (backend.SealedSource, backend.ReadSecret,
// a URI's pin-source), which needs nothing from this package.
//
// Start with [Seal] to write a file, [Check] to prove it opens, [Rotate] to
// re-seal it to another key. Each writes nothing unless the new file has
// been opened through its key and gave back the same secret, and replaces a
// file only by an atomic rename in its directory, so that a crash, a wrong
// key or a refused policy leaves the old file as it was.
//
// # Which scheme
//
// An ML-KEM key gets seal's HPKE scheme. An RSA key gets scheme 3 (OAEP with
// an empty label, which TPMs and tokens decrypt), with SHA-256 when the key's
// store can do it and SHA-1 otherwise (SoftHSM2 does OAEP only with SHA-1):
// [Seal] tries SHA-256 first and keeps the first blob that opens.
//
// # Errors
//
// Errors name the file and the key, never the secret, and wrap the
// sentinels backend.ReadSecret documents (seal.ErrWrongKey,
// seal.ErrCorrupt, seal.ErrTruncated, seal.ErrUnknownFormat,
// backend.ErrUnsealRefused, backend.ErrKeyNotFound, …), or [ErrExists] when
// a file would be replaced without being asked to. Every function is safe
// for concurrent use on different files.
package sealedfile
