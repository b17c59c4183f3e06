package backend

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Secret holds a PIN or passphrase. Every way of printing or encoding it
// (String, GoString, Format, slog's LogValue, MarshalText, MarshalJSON)
// yields "[REDACTED]", as authn.Secret does, so a Secret that slips into a
// log line, an error or a JSON document leaks nothing. Use the bytes
// themselves ([]byte(s)) at the one place the secret is needed.
type Secret []byte

const redacted = "[REDACTED]"

// String returns "[REDACTED]".
func (Secret) String() string { return redacted }

// GoString returns "[REDACTED]".
func (Secret) GoString() string { return redacted }

// Format prints "[REDACTED]" for every verb.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue returns "[REDACTED]" to log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "[REDACTED]", so that encoders using
// encoding.TextMarshaler (JSON map keys, XML, YAML) never see the secret.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON returns "[REDACTED]" as a JSON string: encoding/json would
// otherwise write a []byte as its base64.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Wipe overwrites the secret's bytes with zeros. Go may have copied them
// elsewhere; Wipe only shortens the window in which this copy lives.
func (s Secret) Wipe() { clear(s) }

// PIN resolves the URI's PIN or passphrase from, in order:
//
//   - pin-source=file:/path (or a bare absolute path, as RFC 7512 allows):
//     the file's contents, one trailing newline removed;
//   - pin-source=env:NAME: the environment variable NAME (a cryptoplug
//     extension);
//   - pin-value=…: the value in the URI itself (accepted for RFC 7512
//     compatibility; it puts the secret in command lines and shell history).
//
// ok is false when the URI names no PIN. Giving both pin-source and pin-value
// is an error. Errors wrap [ErrInvalidInput] and name the file or variable,
// never its contents.
func (u *URI) PIN() (pin Secret, ok bool, err error) {
	src, hasSource := u.Get("pin-source")
	if hasSource && u.Has("pin-value") {
		return nil, false, fmt.Errorf("%s URI has both pin-source and pin-value; give one: %w", u.Scheme, ErrInvalidInput)
	}
	if hasSource {
		p, err := readPINSource(src)
		return p, err == nil, err
	}
	if v, has := u.Get("pin-value"); has {
		return Secret(v), true, nil
	}
	return nil, false, nil
}

func readPINSource(src string) (Secret, error) {
	switch {
	case strings.HasPrefix(src, "env:"):
		name := strings.TrimPrefix(src, "env:")
		v, ok := os.LookupEnv(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("pin-source: environment variable %q is not set: %w", name, ErrInvalidInput)
		}
		return Secret(v), nil
	case strings.HasPrefix(src, "file:"), strings.HasPrefix(src, "/"):
		path := strings.TrimPrefix(src, "file:")
		path = strings.TrimPrefix(path, "//") // file:///abs/path
		if !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("pin-source: file path %q must be absolute: %w", path, ErrInvalidInput)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("pin-source: read %s: %w: %w", path, unwrapPathError(err), ErrInvalidInput)
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		return Secret(b), nil
	}
	return nil, fmt.Errorf("pin-source: want file:/path or env:NAME: %w", ErrInvalidInput)
}

// unwrapPathError drops the *PathError's own copy of the path so messages
// do not repeat it.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
