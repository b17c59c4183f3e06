package backend

import (
	"context"
	"fmt"
	"log/slog"
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
//   - pin-source=…: a secret source (see [ReadSecret]): file:/path (or a
//     bare absolute path, as RFC 7512 allows), env:NAME, or
//     sealed:/path?by=…&key=… (a file sealed to a key in another backend,
//     see [SealedSource]);
//   - pin-value=…: the value in the URI itself (accepted for RFC 7512
//     compatibility; it puts the secret in command lines and shell history).
//
// ok is false when the URI names no PIN. Giving both pin-source and pin-value
// is an error. A sealed source is unsealed within [DefaultTimeout]; use
// [URI.PINContext] to bound it otherwise. Errors are [ReadSecret]'s, or wrap
// [ErrInvalidInput]; they name the file, variable or key, never the secret.
func (u *URI) PIN() (pin Secret, ok bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
	defer cancel()
	return u.PINContext(ctx)
}

// PINContext is [URI.PIN] with a context bounding the unsealing of a sealed
// source.
func (u *URI) PINContext(ctx context.Context) (pin Secret, ok bool, err error) {
	src, hasSource := u.Get("pin-source")
	if hasSource && u.Has("pin-value") {
		return nil, false, fmt.Errorf("%s URI has both pin-source and pin-value; give one: %w", u.Scheme, ErrInvalidInput)
	}
	if hasSource {
		p, err := ReadSecret(ctx, src)
		if err != nil {
			return nil, false, fmt.Errorf("pin-source: %w", err)
		}
		return p, true, nil
	}
	if v, has := u.Get("pin-value"); has {
		return Secret(v), true, nil
	}
	return nil, false, nil
}
