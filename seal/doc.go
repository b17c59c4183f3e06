// Package seal encrypts a small secret to a recipient's public key, so that
// only the holder of the matching private key can read it. The private key
// may live anywhere a crypto.Decapsulator (ML-KEM) or crypto.Decrypter (RSA)
// can reach it: memory, an HSM, a TPM, a remote backend.
//
// Start with [Seal] on the sender's side and [Open] on the recipient's. The
// server that stores a sealed blob cannot read it; it can only check, with
// [SealedTo] and [KeyID], that the blob is framed correctly and names the
// recipient it expects. Client backups (authn) and sealed passphrases and
// PINs use it.
//
// # Format
//
// A blob is, byte for byte:
//
//	"CPB1" | scheme (1 byte) | recipient key ID (32 bytes) | scheme-specific part
//
// The key ID is [KeyID]: the SHA-256 of the ML-KEM encapsulation key's
// bytes, or of the RSA public key's PKIX DER. The whole header is bound to
// the ciphertext (HPKE info, or OAEP label and GCM additional data), so no
// byte of it can be altered without Open failing.
//
//   - scheme 1, HPKE (RFC 9180) base mode with ML-KEM-768 or ML-KEM-1024,
//     HKDF-SHA256 and AES-256-GCM; the HPKE info is the header followed by
//     the KEM ID: KEM ID (2 bytes, big endian) | HPKE enc | ciphertext.
//   - scheme 2, a fresh AES-256-GCM data key wrapped with RSA-OAEP-SHA256
//     (label: the header): wrapped key length (2 bytes, big endian) | wrapped
//     key | 12-byte nonce | GCM ciphertext with the header as additional
//     data.
//   - scheme 3, as scheme 2 but with the OAEP hash named in the blob and
//     used for MGF1 too, and an empty OAEP label, which is what TPMs and
//     PKCS #11 tokens decrypt (see [Options]); the header and every other
//     byte before the GCM ciphertext are the GCM additional data: OAEP hash
//     (1 byte: 1 SHA-1, 2 SHA-256, 3 SHA-384, 4 SHA-512) | wrapped key
//     length (2) | wrapped key | 12-byte nonce | GCM ciphertext length (2) |
//     GCM ciphertext.
//
// A sealed file holds the blob as one PEM block of type [ArmorType]
// ([Armor], [Dearmor]), which also tells a file cut short from one
// tampered with.
//
// The format never changes in place: another scheme gets another number,
// another layout another magic.
//
// # Errors
//
// Every error wraps exactly one of [ErrUnsupportedKey], [ErrWrongKey],
// [ErrCorrupt] and [ErrTooLarge]; test with errors.Is. Open tells "sealed to
// another key" (visible in the clear header) apart from everything else,
// and reports every malformed, truncated or tampered blob as ErrCorrupt
// with nothing said about where decryption failed. Two refinements of
// ErrCorrupt, which errors wrap together with it, say what the framing
// alone shows: [ErrTruncated] (the blob ends before its lengths say) and
// [ErrUnknownFormat] (another format version or scheme). When the recipient key's own
// Decrypt or Decapsulate fails (a closed HSM session, a lost device), Open
// returns that error wrapped, without ErrCorrupt, so a caller does not mistake a
// broken device for a broken blob. No error ever contains plaintext, key
// material or blob bytes.
//
// Every function is safe for concurrent use; nothing here keeps state.
package seal
