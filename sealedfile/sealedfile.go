package sealedfile

import (
	"context"
	"crypto"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/seal"
)

// ErrExists means the file to write already exists and replacing it was
// not asked for.
var ErrExists = errors.New("sealed file already exists")

// Mode is the permission of the files this package writes: the ciphertext
// is no secret on its own, but nobody else needs to read it.
const Mode os.FileMode = 0o600

// Options tune [Seal] and [Rotate].
type Options struct {
	// Replace allows replacing an existing file (atomically). Without it
	// an existing file fails with [ErrExists].
	Replace bool
	// KeepOld, when a file is replaced, keeps the previous version as
	// <path>.old (replacing an earlier .old), for a rollback with the old
	// key.
	KeepOld bool
}

// Seal seals secret (at most seal.MaxPlaintextLen bytes) to the key
// to.Key in the backend to.By, proves the result opens through that key
// and gives back secret, and writes it, PEM-armored, to to.Path with mode
// [Mode]. It returns what the file's framing says (see seal.Inspect).
func Seal(ctx context.Context, to backend.SealedSource, secret []byte, o Options) (seal.Info, error) {
	if err := checkTarget(to.Path, o); err != nil {
		return seal.Info{}, err
	}
	armored, err := SealBytes(ctx, to, secret)
	if err != nil {
		return seal.Info{}, err
	}
	if err := WriteAtomic(to.Path, armored, o); err != nil {
		return seal.Info{}, err
	}
	blob, _ := seal.Dearmor(armored)
	return seal.Inspect(blob)
}

// SealBytes is [Seal] without the file: it returns the verified, armored
// blob; to.Path only names it in errors.
func SealBytes(ctx context.Context, to backend.SealedSource, secret []byte) ([]byte, error) {
	if len(secret) > seal.MaxPlaintextLen {
		return nil, fail("seal", to, fmt.Errorf("%w: %d bytes, at most %d", seal.ErrTooLarge, len(secret), seal.MaxPlaintextLen))
	}
	var armored []byte
	err := to.WithKey(ctx, func(k backend.Key) error {
		var err error
		armored, err = sealVerified(ctx, k, secret)
		return err
	})
	if err != nil {
		return nil, fail("seal", to, err)
	}
	return armored, nil
}

// sealVerified seals secret to k and opens the blob through k, trying the
// schemes k's store may refuse in order of preference.
func sealVerified(ctx context.Context, k backend.Key, secret []byte) ([]byte, error) {
	var attempts []seal.Options
	switch {
	case k.Algorithm().Decapsulates():
		attempts = []seal.Options{{}}
	case k.Algorithm().Decrypts():
		attempts = []seal.Options{{OAEPHash: crypto.SHA256}, {OAEPHash: crypto.SHA1}}
	default:
		return nil, fmt.Errorf("key %q is %s, which cannot unseal; seal to an RSA decryption key or an ML-KEM key: %w", k.Label(), k.Algorithm(), backend.ErrUnsupported)
	}
	var first error
	for _, opts := range attempts {
		blob, err := seal.SealWith(k.Public(), secret, opts)
		if err != nil {
			return nil, err
		}
		pt, err := backend.OpenSealed(ctx, k, blob)
		if err == nil {
			same := subtle.ConstantTimeCompare(pt, secret) == 1
			clear(pt)
			if !same {
				return nil, fmt.Errorf("the key opened the new blob to something else: %w", backend.ErrInternal)
			}
			return seal.Armor(blob), nil
		}
		// Only a store that cannot do this OAEP hash earns another try;
		// a refused policy or a lost device fails the same way again.
		if first == nil {
			first = err
		}
		if !errors.Is(err, backend.ErrUnsupported) || ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("the sealed secret did not open through its key, so nothing was written: %w", first)
}

// Check unseals the file src names through its key, wipes the secret, and
// returns what the file's framing says. It is how an operator proves, before
// a restart, that a file still opens on this machine.
func Check(ctx context.Context, src backend.SealedSource) (seal.Info, error) {
	blob, err := src.ReadBlob()
	if err != nil {
		return seal.Info{}, err
	}
	secret, err := src.Open(ctx)
	if err != nil {
		return seal.Info{}, err
	}
	secret.Wipe()
	return seal.Inspect(blob)
}

// Inspect reads the file at path and describes its framing without any
// key (see seal.Inspect): which scheme, algorithm and key ID.
func Inspect(path string) (seal.Info, error) {
	blob, err := backend.SealedSource{Path: path}.ReadBlob()
	if err != nil {
		return seal.Info{}, err
	}
	return seal.Inspect(blob)
}

// Rotate unseals from (through from's key), seals the secret to to's key,
// proves the new file opens, and writes it to to.Path — which may be
// from.Path, replaced atomically when o.Replace is set (with o.KeepOld, the
// previous file stays as <path>.old). When any step fails nothing is
// written: a tampered, truncated or wrong-key file is refused as by
// backend.ReadSecret.
func Rotate(ctx context.Context, from, to backend.SealedSource, o Options) (seal.Info, error) {
	if err := checkTarget(to.Path, o); err != nil {
		return seal.Info{}, err
	}
	secret, err := from.Open(ctx)
	if err != nil {
		return seal.Info{}, err
	}
	defer secret.Wipe()
	return Seal(ctx, to, secret, o)
}

func checkTarget(path string, o Options) error {
	if o.Replace {
		return nil
	}
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("write %s: %w (replace it explicitly)", path, ErrExists)
	}
	return nil
}

func fail(op string, s backend.SealedSource, err error) error {
	return fmt.Errorf("%s %s to key %q in %s: %w", op, s.Path, s.Key, backend.RedactURI(s.By), err)
}
