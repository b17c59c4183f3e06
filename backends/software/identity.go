package software

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/cryptoplug/cryptoplug/backend"
)

// A persistent store (directory or PostgreSQL) is unlocked by one identity:
// an age hybrid (ML-KEM-768 + X25519) identity, itself encrypted with age's
// scrypt passphrase recipient. Every key file is encrypted to the
// identity's recipient, which is stored only inside the encrypted identity,
// so without the passphrase key files can be neither read nor forged.

const (
	// identityHeader starts the decrypted identity, so that data that
	// merely decrypts is not taken for a store.
	identityHeader      = "cryptoplug-software-keystore/v1\n"
	maxIdentityFileSize = 16 << 10
	// maxEncryptedKeyFileSize leaves room for age's header (about 1.6 KiB
	// with the hybrid stanza) around the largest plaintext accepted.
	maxEncryptedKeyFileSize = maxKeyFileSize + 16<<10
)

// errWrongPassphrase is returned by openIdentity when the passphrase does
// not open the identity. Callers report it as [backend.ErrAuth].
var errWrongPassphrase = errors.New("wrong passphrase")

// newIdentity makes a fresh identity and returns it with its encryption
// under pass at the given scrypt work factor.
func newIdentity(pass backend.Secret, workFactor int) (*age.HybridIdentity, []byte, error) {
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		return nil, nil, err
	}
	r, err := age.NewScryptRecipient(string(pass))
	if err != nil {
		return nil, nil, err
	}
	r.SetWorkFactor(workFactor)
	plain := []byte(identityHeader + id.String() + "\n")
	defer clear(plain)
	enc, err := encrypt(plain, r)
	if err != nil {
		return nil, nil, err
	}
	return id, enc, nil
}

// openIdentity decrypts an encrypted identity with pass. A refused
// passphrase is errWrongPassphrase; any other error describes the defect
// without quoting the data, for the caller to name the place and wrap
// [backend.ErrCorrupt].
func openIdentity(data []byte, pass backend.Secret) (*age.HybridIdentity, error) {
	if len(data) > maxIdentityFileSize {
		return nil, fmt.Errorf("larger than %d bytes", maxIdentityFileSize)
	}
	sid, err := age.NewScryptIdentity(string(pass))
	if err != nil {
		return nil, err
	}
	// A tampered identity must not make Open spend minutes in scrypt.
	sid.SetMaxWorkFactor(maxScryptWorkFactor)
	r, err := age.Decrypt(bytes.NewReader(data), sid)
	if nm := (*age.NoIdentityMatchError)(nil); errors.As(err, &nm) {
		// age cannot tell a wrong passphrase from a damaged passphrase
		// stanza; the first is by far the likelier.
		return nil, errWrongPassphrase
	}
	if err != nil {
		return nil, err
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxIdentityFileSize))
	defer clear(plain)
	if err != nil {
		return nil, err
	}
	line, ok := bytes.CutPrefix(plain, []byte(identityHeader))
	if ok {
		line, ok = bytes.CutSuffix(line, []byte("\n"))
	}
	if !ok {
		return nil, errors.New("not a cryptoplug key store identity")
	}
	id, err := age.ParseHybridIdentity(string(line))
	if err != nil {
		return nil, errors.New("malformed identity")
	}
	return id, nil
}

func encrypt(plain []byte, r age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// openKeyFile decrypts an encrypted key file with the store's identity and
// parses it. Errors describe the defect without quoting the data; the
// caller names the file or row and wraps [backend.ErrCorrupt].
func openKeyFile(data []byte, id age.Identity) (*keyFile, crypto.PrivateKey, error) {
	if len(data) > maxEncryptedKeyFileSize {
		return nil, nil, fmt.Errorf("larger than %d bytes", maxEncryptedKeyFileSize)
	}
	r, err := age.Decrypt(bytes.NewReader(data), id)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot decrypt with this store's identity: %v", err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxKeyFileSize+1))
	defer clear(plain)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot decrypt: %v", err)
	}
	if len(plain) > maxKeyFileSize {
		return nil, nil, errors.New("too large for a key file")
	}
	return readKeyFile(plain)
}
