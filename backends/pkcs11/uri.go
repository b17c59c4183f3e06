package pkcs11

import (
	"fmt"
	"runtime"
	"strconv"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
)

// Scheme is the URI scheme this package registers with [backend.Register].
const Scheme = "pkcs11"

// MaxSessionsLimit is the largest max-sessions value [ParseConfig] accepts.
const MaxSessionsLimit = 1024

// uriAttrs are the attributes a backend URI may carry. The key attributes
// (object, id, type) are accepted so that a key URI can be opened as is;
// they select a key only through [KeyRefFromURI].
var uriAttrs = []string{
	"module-path", "token", "serial", "slot-id", "manufacturer", "model",
	"pin-source", "pin-value", "max-sessions", "timeout",
	"object", "id", "type",
}

// Config is a parsed backend URI. It holds no PIN: the PIN is read from
// PINSource (through [backend.URI.PIN]) when the backend opens.
type Config struct {
	// ModulePath is the PKCS #11 shared library (module-path). Required.
	ModulePath string
	// Token selection: every non-empty field must match the token
	// (C_GetTokenInfo label, serialNumber, manufacturerID, model; slot ID),
	// and at least one of Token, Serial and SlotID must be set.
	Token        string
	Serial       string
	Manufacturer string
	Model        string
	SlotID       uint
	HasSlotID    bool
	// MaxSessions bounds the sessions the backend keeps open on the token
	// (max-sessions). It is further bounded by the token's ulMaxSessionCount.
	MaxSessions int
	// Timeout bounds operations started through methods without a context
	// (timeout, a Go duration such as "10s"; default backend.DefaultTimeout).
	Timeout time.Duration

	uri *backend.URI
}

// DefaultMaxSessions returns the pool size used when the URI has no
// max-sessions: twice the CPU count, at most 8. PKCS #11 calls block an OS
// thread each, so more sessions than that rarely add throughput.
func DefaultMaxSessions() int { return min(runtime.NumCPU()*2, 8) }

// ParseConfig parses a backend URI of the form
//
//	pkcs11:token=LABEL?module-path=/path/to/module.so&pin-source=file:/path
//
// Attributes may appear in the path or in the query part (module-path is an
// RFC 7512 query attribute; step-kms-plugin users write it in the path):
//
//   - module-path: the PKCS #11 module to load (required);
//   - token, serial, slot-id: which token (at least one; all given must
//     match); manufacturer and model narrow the choice further;
//   - pin-source=file:/path or env:NAME, or pin-value=PIN (see
//     [backend.URI.PIN]); without a PIN the backend does not log in;
//   - max-sessions=N: the session pool size, 1 to [MaxSessionsLimit]
//     (default [DefaultMaxSessions]);
//   - timeout=DURATION: the bound for [crypto.Signer] and
//     [crypto.Decrypter] calls (default [backend.DefaultTimeout]);
//   - object, id, type: a key's label, ID and class, ignored here (see
//     [KeyRefFromURI]).
//
// Any other attribute is an error. Errors wrap [backend.ErrInvalidInput]
// and never quote a PIN.
func ParseConfig(uri string) (*Config, error) {
	u, err := backend.ParseURI(uri)
	if err != nil {
		return nil, err
	}
	if u.Scheme != Scheme {
		return nil, fmt.Errorf("want a %s: URI, got %s: %w", Scheme, u.Scheme, backend.ErrInvalidInput)
	}
	if err := u.CheckAttrs(uriAttrs...); err != nil {
		return nil, err
	}
	c := &Config{uri: u, MaxSessions: DefaultMaxSessions(), Timeout: backend.DefaultTimeout}
	c.ModulePath, _ = u.Get("module-path")
	if c.ModulePath == "" {
		return nil, fmt.Errorf("pkcs11 URI: module-path is required (the PKCS #11 library, such as /usr/lib/softhsm/libsofthsm2.so): %w", backend.ErrInvalidInput)
	}
	c.Token, _ = u.Get("token")
	c.Serial, _ = u.Get("serial")
	c.Manufacturer, _ = u.Get("manufacturer")
	c.Model, _ = u.Get("model")
	if v, ok := u.Get("slot-id"); ok {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("pkcs11 URI: slot-id must be a decimal number: %w", backend.ErrInvalidInput)
		}
		c.SlotID, c.HasSlotID = uint(n), true
	}
	if c.Token == "" && c.Serial == "" && !c.HasSlotID {
		return nil, fmt.Errorf("pkcs11 URI: name the token with token=, serial= or slot-id=: %w", backend.ErrInvalidInput)
	}
	if v, ok := u.Get("max-sessions"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxSessionsLimit {
			return nil, fmt.Errorf("pkcs11 URI: max-sessions must be 1 to %d: %w", MaxSessionsLimit, backend.ErrInvalidInput)
		}
		c.MaxSessions = n
	}
	if v, ok := u.Get("timeout"); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("pkcs11 URI: timeout must be a positive Go duration such as 10s: %w", backend.ErrInvalidInput)
		}
		c.Timeout = d
	}
	if v, ok := u.Get("type"); ok && v != "private" && v != "public" {
		return nil, fmt.Errorf("pkcs11 URI: type must be private or public for a key: %w", backend.ErrInvalidInput)
	}
	return c, nil
}

// Redacted returns the URI the config was parsed from, with pin-value
// removed. It is safe to log.
func (c *Config) Redacted() string { return c.uri.Redacted() }

// TokenName describes the token selection for messages, such as
// `token "signing"` or `serial "1234", slot-id 3`.
func (c *Config) TokenName() string {
	var s string
	add := func(part string) {
		if s != "" {
			s += ", "
		}
		s += part
	}
	if c.Token != "" {
		add(fmt.Sprintf("token %q", c.Token))
	}
	if c.Serial != "" {
		add(fmt.Sprintf("serial %q", c.Serial))
	}
	if c.HasSlotID {
		add(fmt.Sprintf("slot-id %d", c.SlotID))
	}
	if c.Manufacturer != "" {
		add(fmt.Sprintf("manufacturer %q", c.Manufacturer))
	}
	if c.Model != "" {
		add(fmt.Sprintf("model %q", c.Model))
	}
	return s
}

// PIN returns the user PIN named by the URI; ok is false when it names
// none. See [backend.URI.PIN].
func (c *Config) PIN() (pin backend.Secret, ok bool, err error) { return c.uri.PIN() }

// KeyRefFromURI turns a PKCS #11 key URI into a [backend.KeyRef]: object=
// becomes the label and id= (percent-encoded raw bytes, as RFC 7512 and
// pkcs11-tool write it) the ID. type=, when present, must be "private" or
// "public" (a key pair is addressed either way). Other attributes (token,
// module-path, …) are checked as by [ParseConfig] but otherwise ignored, so
// the same URI can open the backend and name the key. A URI naming neither
// object nor id fails; errors wrap [backend.ErrInvalidInput].
func KeyRefFromURI(uri string) (backend.KeyRef, error) {
	u, err := backend.ParseURI(uri)
	if err != nil {
		return backend.KeyRef{}, err
	}
	if u.Scheme != Scheme {
		return backend.KeyRef{}, fmt.Errorf("want a %s: key URI, got %s: %w", Scheme, u.Scheme, backend.ErrInvalidInput)
	}
	if err := u.CheckAttrs(uriAttrs...); err != nil {
		return backend.KeyRef{}, err
	}
	if v, ok := u.Get("type"); ok && v != "private" && v != "public" {
		return backend.KeyRef{}, fmt.Errorf("pkcs11 key URI: type must be private or public: %w", backend.ErrInvalidInput)
	}
	var ref backend.KeyRef
	if v, ok := u.Get("object"); ok {
		if err := backend.ValidateLabel(v); err != nil {
			return backend.KeyRef{}, err
		}
		ref.Label = v
	}
	if id, ok := u.Get("id"); ok {
		if len(id) == 0 || len(id) > backend.MaxKeyIDLen {
			return backend.KeyRef{}, fmt.Errorf("pkcs11 key URI: id must be 1 to %d bytes: %w", backend.MaxKeyIDLen, backend.ErrInvalidInput)
		}
		ref.ID = backend.KeyID(id)
	}
	if err := ref.Validate(); err != nil {
		return backend.KeyRef{}, fmt.Errorf("pkcs11 key URI: %w", err)
	}
	return ref, nil
}
