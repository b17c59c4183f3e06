package software

import (
	"crypto"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
)

// keyFile is the plaintext of a key file, before age encryption. Its
// encoding, version 1, is
//
//	magic      "CPKF"
//	version    uint8 = 1
//	algorithm  uint8-length-prefixed backend.Algorithm name
//	usage      uint8, a non-zero backend.Usage allowed for the algorithm
//	label      uint8-length-prefixed label (1 to 255 bytes, ValidateLabel)
//	id         uint8-length-prefixed key ID (1 to 64 bytes)
//	private    uint16-length-prefixed private key, as encodePrivateKey
//
// with nothing after it. Exactly one encoding is valid for each key: the
// reader refuses anything the writer would not produce.
type keyFile struct {
	Algorithm backend.Algorithm
	Usage     backend.Usage
	Label     string
	ID        backend.KeyID
	Private   []byte // see encodePrivateKey
}

const (
	keyFileMagic   = "CPKF"
	keyFileVersion = 1
	// maxKeyFileSize bounds what is read from disk; the largest key file
	// (RSA-4096) is under 3 KiB before encryption.
	maxKeyFileSize = 64 << 10
)

// marshal encodes f. The caller should clear the result when done: it holds
// the private key.
func (f *keyFile) marshal() []byte {
	var b cryptobyte.Builder
	b.AddBytes([]byte(keyFileMagic))
	b.AddUint8(keyFileVersion)
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(f.Algorithm)) })
	b.AddUint8(uint8(f.Usage))
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(f.Label)) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(f.ID) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(f.Private) })
	return b.BytesOrPanic() // only fails on overlong fields, which Validate and encodePrivateKey exclude
}

// readKeyFile parses and checks the plaintext of a key file, private key
// included, and returns the record and its parsed private key. It refuses
// every input that marshal would not have produced from a valid key. Errors
// describe the defect without quoting the data; the caller adds the file name
// and [backend.ErrCorrupt]. It never panics.
func readKeyFile(data []byte) (*keyFile, crypto.PrivateKey, error) {
	s := cryptobyte.String(data)
	var (
		magic, alg, label, id, priv []byte
		version, usage              uint8
	)
	if !s.ReadBytes(&magic, len(keyFileMagic)) || string(magic) != keyFileMagic {
		return nil, nil, errors.New("not a cryptoplug key file")
	}
	if !s.ReadUint8(&version) {
		return nil, nil, errors.New("truncated key file")
	}
	if version != keyFileVersion {
		return nil, nil, fmt.Errorf("key file version %d, this build reads %d", version, keyFileVersion)
	}
	if !readUint8Prefixed(&s, &alg) || !s.ReadUint8(&usage) || !readUint8Prefixed(&s, &label) ||
		!readUint8Prefixed(&s, &id) || !readUint16Prefixed(&s, &priv) {
		return nil, nil, errors.New("truncated key file")
	}
	if !s.Empty() {
		return nil, nil, errors.New("trailing data after key file")
	}
	f := &keyFile{
		Algorithm: backend.Algorithm(alg),
		Usage:     backend.Usage(usage),
		Label:     string(label),
		ID:        backend.KeyID(slices.Clone(id)), // data is cleared after reading
		Private:   priv,
	}
	if len(f.ID) == 0 {
		return nil, nil, errors.New("key file has an empty ID")
	}
	if f.Usage == 0 {
		return nil, nil, errors.New("key file has no usage")
	}
	spec := backend.KeySpec{Algorithm: f.Algorithm, Label: f.Label, ID: f.ID, Usage: f.Usage}
	if err := spec.Validate(); err != nil {
		return nil, nil, err
	}
	key, err := privkey.Parse(f.Algorithm, f.Private)
	if err != nil {
		return nil, nil, err
	}
	return f, key, nil
}

func readUint8Prefixed(s *cryptobyte.String, out *[]byte) bool {
	var v cryptobyte.String
	if !s.ReadUint8LengthPrefixed(&v) {
		return false
	}
	*out = v
	return true
}

func readUint16Prefixed(s *cryptobyte.String, out *[]byte) bool {
	var v cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&v) {
		return false
	}
	*out = v
	return true
}
