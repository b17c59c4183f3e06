package backend

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxSecretLen bounds a secret read from a file:, env: or sealed: source.
// PINs, passphrases, peppers and bearer credentials are far shorter.
const MaxSecretLen = 64 << 10

// ReadSecret resolves a secret source, the value of a pin-source attribute
// (and of the remote backend's credential sources):
//
//   - file:/abs/path, file:///abs/path or /abs/path: the file's contents,
//     one trailing newline ("\n" or "\r\n") removed;
//   - env:NAME: the environment variable NAME, which must be set;
//   - sealed:/abs/path?by=<backend URI>&key=<label>: the file at path,
//     sealed with package seal to the key labelled label in the backend
//     that the (percent-encoded) URI names, and opened through that key,
//     one trailing newline removed as for file: (so a file: source's file
//     sealed as it is reads the same); see [SealedSource] for the syntax
//     and its bounds, and [SealedSource.Open] for the bytes as sealed.
//
// The first two are plaintext at rest; sealed is how a secret stays off the
// disk in the clear. Errors name the source's file, variable or key and the
// unsealing backend (redacted), never the secret, and wrap:
// [ErrInvalidInput] for a malformed source, a file that cannot be read or is
// over [MaxSecretLen], or an unset variable; for a sealed source also
// [ErrKeyNotFound] (no such key in the unsealing backend), [ErrUnsupported]
// (the key cannot decrypt), [ErrUnsealRefused] (the key refused: policy or
// authorization), seal.ErrWrongKey (sealed to another key),
// seal.ErrCorrupt (tampered with; also wrapped by seal.ErrTruncated and
// seal.ErrUnknownFormat), or the unsealing backend's own error. It is safe
// for concurrent use.
func ReadSecret(ctx context.Context, source string) (Secret, error) {
	switch {
	case strings.HasPrefix(source, "env:"):
		name := strings.TrimPrefix(source, "env:")
		v, ok := os.LookupEnv(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("environment variable %q is not set: %w", name, ErrInvalidInput)
		}
		if len(v) > MaxSecretLen {
			return nil, fmt.Errorf("environment variable %q holds more than %d bytes: %w", name, MaxSecretLen, ErrInvalidInput)
		}
		return Secret(v), nil
	case strings.HasPrefix(source, "file:"), strings.HasPrefix(source, "/"):
		path := strings.TrimPrefix(source, "file:")
		path = strings.TrimPrefix(path, "//") // file:///abs/path
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("file path %q must be absolute: %w", path, ErrInvalidInput)
		}
		b, err := readBounded(path, MaxSecretLen)
		if err != nil {
			return nil, err
		}
		return trimNewline(b), nil
	case strings.HasPrefix(source, sealedPrefix):
		s, err := ParseSealedSource(source)
		if err != nil {
			return nil, err
		}
		b, err := s.Open(ctx)
		if err != nil {
			return nil, err
		}
		return trimNewline(b), nil
	}
	return nil, fmt.Errorf("want file:/path, env:NAME or sealed:/path?by=…&key=…: %w", ErrInvalidInput)
}

func trimNewline(b []byte) Secret {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return Secret(bytes.TrimSuffix(b, []byte("\r")))
}

// readBounded reads at most max bytes of path, failing with ErrInvalidInput
// (naming the path) when it cannot be read or holds more.
func readBounded(path string, max int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w: %w", path, unwrapPathError(err), ErrInvalidInput)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(max)+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("read %s: %w: %w", path, unwrapPathError(err), ErrInvalidInput)
	case len(b) > max:
		clear(b)
		return nil, fmt.Errorf("read %s: more than %d bytes: %w", path, max, ErrInvalidInput)
	}
	return b, nil
}

// unwrapPathError drops the *PathError's own copy of the path so messages
// do not repeat it.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
