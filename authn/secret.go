package authn

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
)

// redacted is what every printing path shows instead of a secret.
const redacted = "[REDACTED]"

// Secret holds a credential in plaintext: a password, PIN, API key, session
// token, user secret or registration token. It never prints itself: String,
// GoString, Format (every verb), LogValue, MarshalText and MarshalJSON all
// return "[REDACTED]". Call [Secret.Reveal] at the one place the plaintext
// must leave the process (the HTTP response that hands it out).
//
// The zero Secret is empty. Secret values are immutable and safe to share.
type Secret struct{ v string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the plaintext.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

// Len returns the plaintext's length in bytes; the length is not secret.
func (s Secret) Len() int { return len(s.v) }

// Equal compares two secrets in time that depends only on their lengths.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.v), []byte(o.v)) == 1
}

// String returns "[REDACTED]".
func (Secret) String() string { return redacted }

// GoString returns "[REDACTED]".
func (Secret) GoString() string { return redacted }

// Format prints "[REDACTED]" for every verb and flag.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue makes slog print "[REDACTED]".
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText returns "[REDACTED]" so that encoders never serialise the
// plaintext by accident; marshal [Secret.Reveal] explicitly instead.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON returns "[REDACTED]" as a JSON string.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
