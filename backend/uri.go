package backend

import (
	"fmt"
	"path/filepath"
	"strings"
)

// URI is a parsed backend URI in the grammar of RFC 7512 (PKCS #11 URIs),
// which every cryptoplug backend shares:
//
//	scheme ":" [ path-attr *( ";" path-attr ) ] [ "?" query-attr *( "&" query-attr ) ]
//	path-attr  = name [ "=" value ]
//	query-attr = name [ "=" value ]
//
// Values are percent-decoded and may then hold any bytes (RFC 7512 encodes a
// binary CKA_ID as "id=%01%02"); unencoded control characters are refused.
// An attribute without "=" is a flag (as in
// "tpm:simulator;dir=/tmp/k"). An attribute name appearing twice — in the
// path, in the query, or once in each — is an error, as RFC 7512 requires
// within each part and as cryptoplug requires across them, so that which of
// two values wins is never a guess.
//
// Secrets never travel in a URI's text except through the RFC 7512
// pin-value attribute, which [URI.Redacted] removes; prefer pin-source.
type URI struct {
	Scheme string
	Path   []Attr
	Query  []Attr
}

// Attr is one URI attribute.
type Attr struct {
	Name     string
	Value    string
	HasValue bool // false for a flag such as "simulator"
}

// maxURILen bounds what ParseURI reads; real URIs are a few hundred bytes.
const maxURILen = 8192

// ParseURI parses s. Errors wrap [ErrInvalidInput] and quote at most the
// scheme and the offending attribute name, never the value, since a value
// may be a PIN.
func ParseURI(s string) (*URI, error) {
	if len(s) > maxURILen {
		return nil, fmt.Errorf("parse URI: longer than %d bytes: %w", maxURILen, ErrInvalidInput)
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || !validScheme(scheme) {
		return nil, fmt.Errorf("parse URI: want scheme:attributes, such as software: or pkcs11:token=…: %w", ErrInvalidInput)
	}
	u := &URI{Scheme: strings.ToLower(scheme)}
	path, query, hasQuery := strings.Cut(rest, "?")
	var err error
	if u.Path, err = parseAttrs(u.Scheme, path, ";", "path"); err != nil {
		return nil, err
	}
	if hasQuery {
		if u.Query, err = parseAttrs(u.Scheme, query, "&", "query"); err != nil {
			return nil, err
		}
	}
	for _, q := range u.Query {
		for _, p := range u.Path {
			if p.Name == q.Name {
				return nil, fmt.Errorf("parse %s URI: attribute %q appears in both path and query: %w", u.Scheme, q.Name, ErrInvalidInput)
			}
		}
	}
	return u, nil
}

func validScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

func parseAttrs(scheme, s, sep, part string) ([]Attr, error) {
	if s == "" {
		return nil, nil
	}
	var out []Attr
	for _, field := range strings.Split(s, sep) {
		if field == "" {
			continue // tolerate "a=1;;b=2" and a trailing separator
		}
		rawName, rawValue, hasValue := strings.Cut(field, "=")
		name, err := unescape(rawName)
		if err != nil || name == "" {
			return nil, fmt.Errorf("parse %s URI: %s attribute with a malformed name: %w", scheme, part, ErrInvalidInput)
		}
		value, err := unescape(rawValue)
		if err != nil {
			return nil, fmt.Errorf("parse %s URI: %s attribute %q: %v: %w", scheme, part, name, err, ErrInvalidInput)
		}
		for _, a := range out {
			if a.Name == name {
				return nil, fmt.Errorf("parse %s URI: %s attribute %q appears twice: %w", scheme, part, name, ErrInvalidInput)
			}
		}
		out = append(out, Attr{Name: name, Value: value, HasValue: hasValue})
	}
	return out, nil
}

// unescape percent-decodes s. Raw control characters are refused, so a URI
// typed or pasted cannot smuggle a newline into a log line; percent-encoded
// bytes may be anything, because RFC 7512 encodes binary values such as a
// CKA_ID ("id=%01%02") that way. Everything that prints a value quotes or
// re-escapes it.
func unescape(s string) (string, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return "", fmt.Errorf("control character")
		}
	}
	if !strings.Contains(s, "%") {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", fmt.Errorf("bad percent-encoding")
			}
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		b = append(b, c)
	}
	return string(b), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// Get returns the value of the attribute named name, looking in the path
// first and then in the query. ok is false when it is absent.
func (u *URI) Get(name string) (value string, ok bool) {
	if a, ok := u.attr(name); ok {
		return a.Value, true
	}
	return "", false
}

// Has reports whether the attribute (or flag) name is present.
func (u *URI) Has(name string) bool {
	_, ok := u.attr(name)
	return ok
}

func (u *URI) attr(name string) (Attr, bool) {
	for _, a := range u.Path {
		if a.Name == name {
			return a, true
		}
	}
	for _, a := range u.Query {
		if a.Name == name {
			return a, true
		}
	}
	return Attr{}, false
}

// CheckAttrs fails with [ErrInvalidInput] naming the first attribute that is
// not in known. Backends call it so a typo ("pin-sorce") is an error rather
// than silently ignored.
func (u *URI) CheckAttrs(known ...string) error {
	for _, list := range [][]Attr{u.Path, u.Query} {
	next:
		for _, a := range list {
			for _, k := range known {
				if a.Name == k {
					continue next
				}
			}
			return fmt.Errorf("%s URI: unknown attribute %q (known: %s): %w", u.Scheme, a.Name, strings.Join(known, ", "), ErrInvalidInput)
		}
	}
	return nil
}

// secretAttrs are attributes whose value is a secret. Redacted drops them.
var secretAttrs = map[string]bool{"pin-value": true, "passphrase": true, "api-key": true}

// Redacted returns the URI re-encoded with secret attributes (pin-value)
// replaced by "REDACTED", also in the URIs nested in its attribute values (a
// sealed pin-source's by= URI). It is safe to log and to put in errors.
func (u *URI) Redacted() string { return u.encode(true, 0) }

// encode writes u in its text form, with secrets replaced when redact is
// set; depth counts the URIs this one is nested in.
func (u *URI) encode(redact bool, depth int) string {
	var b strings.Builder
	b.WriteString(u.Scheme)
	b.WriteByte(':')
	writeAttrs(&b, u.Path, ";", redact, depth)
	if len(u.Query) > 0 {
		b.WriteByte('?')
		writeAttrs(&b, u.Query, "&", redact, depth)
	}
	return b.String()
}

// String is [URI.Redacted]: a URI is never printed with its secrets.
func (u *URI) String() string { return u.Redacted() }

func writeAttrs(b *strings.Builder, attrs []Attr, sep string, redact bool, depth int) {
	for i, a := range attrs {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(escape(a.Name))
		if !a.HasValue {
			continue
		}
		b.WriteByte('=')
		switch {
		case !redact:
			b.WriteString(escape(a.Value))
		case secretAttrs[a.Name]:
			b.WriteString("REDACTED")
		default:
			b.WriteString(escape(redactNested(a.Value, depth)))
		}
	}
}

// escape percent-encodes the bytes that would change the parse: separators,
// '%', '=' and anything outside printable ASCII.
func escape(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= ' ' || c >= 0x7f || strings.IndexByte(";?&=%#", c) >= 0:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// RedactURI parses s and returns its redacted form, or, when s does not
// parse, just its scheme followed by ":…". Use it to name a URI in an error.
func RedactURI(s string) string {
	if u, err := ParseURI(s); err == nil {
		return u.Redacted()
	}
	scheme, _, _ := strings.Cut(s, ":")
	if !validScheme(scheme) {
		return "(malformed URI)"
	}
	return scheme + ":…"
}

// FilePath returns the attribute name as a cleaned absolute file path. ok is
// false when the attribute is absent. An empty value, a relative path or a
// path holding control characters (which percent-encoding can carry) fails
// with [ErrInvalidInput]: a key directory or module path with a newline in
// it is a mistake or an attack, never an intent.
func (u *URI) FilePath(name string) (path string, ok bool, err error) {
	v, ok := u.Get(name)
	if !ok {
		return "", false, nil
	}
	if v == "" || !filepath.IsAbs(v) {
		return "", true, fmt.Errorf("%s URI: %s= must be an absolute path: %w", u.Scheme, name, ErrInvalidInput)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return "", true, fmt.Errorf("%s URI: %s= holds a control character: %w", u.Scheme, name, ErrInvalidInput)
		}
	}
	return filepath.Clean(v), true, nil
}
