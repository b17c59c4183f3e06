package authn

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hpke"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
)

// Backup envelope. A client that wants its credentials recoverable seals
// them with [SealBackup] to the deployment's recovery public key and
// uploads the result; the server stores the blob, which it cannot read. An
// administrator later fetches it ([Service.GetBackup]) and opens it with
// [OpenBackup] and the recovery private key, which may live in an HSM: any
// crypto.Decapsulator (ML-KEM) or crypto.Decrypter (RSA) will do.
//
// Layout: "CPB1" | scheme (1 byte) | SHA-256 of the recovery public key
// (32 bytes) | scheme-specific part. The header is bound to the ciphertext
// (HPKE info, or OAEP label and GCM additional data), so it cannot be
// altered.
//
//   - scheme 1, HPKE (RFC 9180) with ML-KEM-768 or ML-KEM-1024, HKDF-SHA256
//     and AES-256-GCM: KEM ID (2 bytes, big endian) | HPKE enc | ciphertext.
//   - scheme 2, RSA-OAEP-SHA256 wrapping an AES-256-GCM key: wrapped key
//     length (2 bytes) | wrapped key | 12-byte nonce | ciphertext.
const (
	backupMagic      = "CPB1"
	backupHPKE       = 1
	backupRSAOAEP    = 2
	backupHeaderLen  = len(backupMagic) + 1 + sha256.Size
	maxBackupPayload = 32 << 10
	// MaxBackupLen bounds an uploaded backup blob.
	MaxBackupLen = maxBackupPayload + 4096
)

// SealBackup encrypts plaintext (at most 32 KiB) to recoveryPublic, which
// must be an *mlkem.EncapsulationKey768, *mlkem.EncapsulationKey1024 (any
// crypto.Encapsulator HPKE accepts) or an *rsa.PublicKey of at least 2048
// bits. Only the holder of the matching private key can open the result. It
// is meant for clients; the server never sees the plaintext. Errors wrap
// [ErrInvalidArgument].
func SealBackup(recoveryPublic crypto.PublicKey, plaintext []byte) ([]byte, error) {
	const op = "seal backup"
	if len(plaintext) > maxBackupPayload {
		return nil, opErr(op, "", errWrap(ErrInvalidArgument, "plaintext longer than 32 KiB"))
	}
	keyID, err := recoveryKeyID(recoveryPublic)
	if err != nil {
		return nil, opErr(op, "", err)
	}
	switch pub := recoveryPublic.(type) {
	case crypto.Encapsulator:
		pk, err := hpke.NewMLKEMPublicKey(pub)
		if err != nil {
			return nil, opErr(op, "", errWrap(ErrInvalidArgument, "recovery key: "+err.Error()))
		}
		header := backupHeader(backupHPKE, keyID)
		header = binary.BigEndian.AppendUint16(header, pk.KEM().ID())
		sealed, err := hpke.Seal(pk, hpke.HKDFSHA256(), hpke.AES256GCM(), header, plaintext)
		if err != nil {
			return nil, opErr(op, "", errWrap(ErrInvalidArgument, "hpke: "+err.Error()))
		}
		return append(header, sealed...), nil
	case *rsa.PublicKey:
		header := backupHeader(backupRSAOAEP, keyID)
		var dek [32]byte
		rand.Read(dek[:])
		wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, dek[:], header)
		if err != nil {
			return nil, opErr(op, "", errWrap(ErrInvalidArgument, "rsa-oaep: "+err.Error()))
		}
		aead := newGCM(dek[:])
		nonce := make([]byte, aead.NonceSize())
		rand.Read(nonce)
		out := append([]byte(nil), header...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(wrapped)))
		out = append(out, wrapped...)
		out = append(out, nonce...)
		return aead.Seal(out, nonce, plaintext, header), nil
	}
	panic("unreachable: recoveryKeyID accepted an unsupported key")
}

// OpenBackup decrypts a blob made by [SealBackup]. recovery is the recovery
// private key: a crypto.Decapsulator for ML-KEM blobs (its Encapsulator must
// be an *mlkem.EncapsulationKey768 or 1024) or a crypto.Decrypter whose
// public key is an *rsa.PublicKey for RSA blobs; it may be backed by an HSM.
// A blob that is malformed, was tampered with or was sealed to another key
// returns an error wrapping [ErrInvalidArgument].
func OpenBackup(recovery any, blob []byte) ([]byte, error) {
	const op = "open backup"
	scheme, keyID, err := parseBackupHeader(blob)
	if err != nil {
		return nil, opErr(op, "", err)
	}
	header, rest := blob[:backupHeaderLen], blob[backupHeaderLen:]
	wrongKey := errWrap(ErrInvalidArgument, "backup sealed to another recovery key")
	corrupt := errWrap(ErrInvalidArgument, "backup corrupt or tampered with")
	switch scheme {
	case backupHPKE:
		dk, ok := recovery.(crypto.Decapsulator)
		if !ok {
			return nil, opErr(op, "", errWrap(ErrInvalidArgument, "ML-KEM backup needs a crypto.Decapsulator"))
		}
		if id := sha256.Sum256(dk.Encapsulator().Bytes()); !bytes.Equal(id[:], keyID) {
			return nil, opErr(op, "", wrongKey)
		}
		priv, err := hpke.NewMLKEMPrivateKey(dk)
		if err != nil {
			return nil, opErr(op, "", errWrap(ErrInvalidArgument, "recovery key: "+err.Error()))
		}
		if len(rest) < 2 || binary.BigEndian.Uint16(rest) != priv.KEM().ID() {
			return nil, opErr(op, "", corrupt)
		}
		pt, err := hpke.Open(priv, hpke.HKDFSHA256(), hpke.AES256GCM(), blob[:backupHeaderLen+2], rest[2:])
		if err != nil {
			return nil, opErr(op, "", corrupt)
		}
		return pt, nil
	case backupRSAOAEP:
		dec, ok := recovery.(crypto.Decrypter)
		if !ok {
			return nil, opErr(op, "", errWrap(ErrInvalidArgument, "RSA backup needs a crypto.Decrypter"))
		}
		id, err := recoveryKeyID(dec.Public())
		if err != nil || !bytes.Equal(id, keyID) {
			return nil, opErr(op, "", wrongKey)
		}
		if len(rest) < 2 {
			return nil, opErr(op, "", corrupt)
		}
		n := int(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
		if len(rest) < n+12 {
			return nil, opErr(op, "", corrupt)
		}
		dek, err := dec.Decrypt(rand.Reader, rest[:n], &rsa.OAEPOptions{Hash: crypto.SHA256, Label: header})
		if err != nil || len(dek) != 32 {
			return nil, opErr(op, "", corrupt)
		}
		rest = rest[n:]
		pt, err := newGCM(dek).Open(nil, rest[:12], rest[12:], header)
		if err != nil {
			return nil, opErr(op, "", corrupt)
		}
		return pt, nil
	}
	panic("unreachable: parseBackupHeader accepted an unknown scheme")
}

func backupHeader(scheme byte, keyID []byte) []byte {
	h := make([]byte, 0, backupHeaderLen+2)
	h = append(h, backupMagic...)
	h = append(h, scheme)
	return append(h, keyID...)
}

func parseBackupHeader(blob []byte) (scheme byte, keyID []byte, err error) {
	if len(blob) < backupHeaderLen+2 || string(blob[:len(backupMagic)]) != backupMagic {
		return 0, nil, errWrap(ErrInvalidArgument, "not a backup blob")
	}
	if len(blob) > MaxBackupLen {
		return 0, nil, errWrap(ErrInvalidArgument, "backup blob too long")
	}
	scheme = blob[len(backupMagic)]
	if scheme != backupHPKE && scheme != backupRSAOAEP {
		return 0, nil, errWrap(ErrInvalidArgument, "unknown backup scheme")
	}
	return scheme, blob[len(backupMagic)+1 : backupHeaderLen], nil
}

// recoveryKeyID returns the SHA-256 that names a recovery public key in
// backup headers, and rejects unsupported keys.
func recoveryKeyID(pub crypto.PublicKey) ([]byte, error) {
	switch k := pub.(type) {
	case crypto.Encapsulator:
		if _, err := hpke.NewMLKEMPublicKey(k); err != nil {
			return nil, errWrap(ErrInvalidArgument, "recovery key: "+err.Error())
		}
		id := sha256.Sum256(k.Bytes())
		return id[:], nil
	case *rsa.PublicKey:
		if k.N == nil || k.N.BitLen() < 2048 {
			return nil, errWrap(ErrInvalidArgument, "recovery RSA key shorter than 2048 bits")
		}
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			return nil, errWrap(ErrInvalidArgument, "recovery key: "+err.Error())
		}
		id := sha256.Sum256(der)
		return id[:], nil
	}
	return nil, errWrap(ErrInvalidArgument, "recovery key must be an ML-KEM encapsulation key or *rsa.PublicKey")
}

func newGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic("authn: AES-256 key: " + err.Error())
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("authn: GCM: " + err.Error())
	}
	return aead
}
