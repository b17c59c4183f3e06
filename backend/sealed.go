package backend

import (
	"context"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/cryptoplug/cryptoplug/seal"
)

// ErrUnsealRefused means the key a sealed secret is sealed to was found but
// refused to decrypt: its TPM policy (PCR values, an authValue) is not
// satisfied or its store refused the authorization. The sealed file may be
// intact; the machine's state or a credential is not what the key demands.
var ErrUnsealRefused = errors.New("the unsealing key refused to decrypt (policy or authorization not satisfied)")

// MaxSealedDepth bounds how deeply sealed sources nest: a secret sealed to
// a key whose backend's own PIN is sealed to a key in a third backend is
// depth 2. A chain ends in a backend that needs no secret (a TPM) or in a
// file: or env: source, its documented root (docs/sealing.md).
const MaxSealedDepth = 3

const sealedPrefix = "sealed:"

// SealedSource is a sealed: secret source: the file at Path holds a secret
// sealed (package seal, PEM-armored or raw) to the key labelled Key in the
// backend that the URI By names. Its text form is
//
//	sealed:<path>?by=<backend URI>&key=<label>
//
// with path, URI and label percent-encoded as RFC 7512 encodes attribute
// values (so ";", "?", "&", "=", "%" and "#" inside them are %XX). Written
// inside another URI's attribute (pin-source=…), the whole source is
// percent-encoded once more, as every attribute value is; [SealedSource.String]
// and [URI.Redacted] do both.
//
// By may carry its own secret source (a PKCS #11 token's pin-source, itself
// sealed), up to [MaxSealedDepth] sealed sources deep, but never a secret in
// its text (pin-value): the chain must not lead back to plaintext in a
// configuration file.
type SealedSource struct {
	Path string // the sealed file, absolute
	By   string // URI of the backend holding the unsealing key
	Key  string // the unsealing key's label
}

// String returns the source's text form.
func (s SealedSource) String() string {
	return sealedPrefix + escape(s.Path) + "?by=" + escape(s.By) + "&key=" + escape(s.Key)
}

// AttrValue returns the source's text form percent-encoded once more, as it
// is written as an attribute value inside a URI: pin-source=<AttrValue>.
func (s SealedSource) AttrValue() string { return escape(s.String()) }

// ParseSealedSource parses a sealed: source and checks the whole chain of
// nested sources in By, without opening anything: Path absolute and without
// control characters, By a URI whose backend is registered, Key a valid
// label, no secret attribute (pin-value) in By or any URI nested in it, and
// at most [MaxSealedDepth] sealed sources deep. Errors wrap
// [ErrInvalidInput] (or [ErrUnsupported] for an unregistered scheme) and
// never quote a value.
func ParseSealedSource(source string) (SealedSource, error) {
	return parseSealedSource(source, 1)
}

func parseSealedSource(source string, depth int) (SealedSource, error) {
	if depth > MaxSealedDepth {
		return SealedSource{}, fmt.Errorf("sealed source: sealed sources nest more than %d deep: %w", MaxSealedDepth, ErrInvalidInput)
	}
	s, err := splitSealedSource(source)
	if err != nil {
		return SealedSource{}, err
	}
	if err := ByLabel(s.Key).Validate(); err != nil {
		return SealedSource{}, fmt.Errorf("sealed source: key=: %w", err)
	}
	by, err := ParseURI(s.By)
	if err != nil {
		return SealedSource{}, fmt.Errorf("sealed source: by=: %w", err)
	}
	if err := checkNestedURI(by, depth); err != nil {
		return SealedSource{}, fmt.Errorf("sealed source: by=%s:…: %w", by.Scheme, err)
	}
	return s, nil
}

// splitSealedSource parses the syntax alone: no check of By beyond its
// presence.
func splitSealedSource(source string) (SealedSource, error) {
	bad := func(format string, args ...any) (SealedSource, error) {
		return SealedSource{}, fmt.Errorf("sealed source: "+format+": %w", append(args, ErrInvalidInput)...)
	}
	if len(source) > maxURILen {
		return bad("longer than %d bytes", maxURILen)
	}
	rest, ok := strings.CutPrefix(source, sealedPrefix)
	if !ok {
		return bad("want sealed:/path?by=<backend URI>&key=<label>")
	}
	rawPath, query, _ := strings.Cut(rest, "?")
	path, err := unescape(rawPath)
	if err != nil || path == "" || !filepath.IsAbs(path) || strings.ContainsFunc(path, isControl) {
		return bad("the path must be absolute, percent-encoded, without control characters")
	}
	attrs, err := parseAttrs("sealed", query, "&", "query")
	if err != nil {
		return SealedSource{}, fmt.Errorf("sealed source: %w", err)
	}
	s := SealedSource{Path: filepath.Clean(path)}
	var hasBy, hasKey bool
	for _, a := range attrs {
		switch a.Name {
		case "by":
			s.By, hasBy = a.Value, true
		case "key":
			s.Key, hasKey = a.Value, true
		default:
			return bad("unknown attribute %q (known: by, key)", a.Name)
		}
	}
	if !hasBy || !hasKey {
		return bad("by=<backend URI> and key=<label> are both required")
	}
	return s, nil
}

// redactNested returns an attribute value with the secrets of the URIs
// nested in it removed: a sealed source's by= URI, or a backend URI given
// as a value (the remote backend's client-key-by=). A value holding no
// nested secret is returned unchanged, byte for byte, so that a redacted
// URI without secrets still opens the same backend.
func redactNested(v string, depth int) string {
	if depth > MaxSealedDepth+2 {
		return "…"
	}
	if strings.HasPrefix(v, sealedPrefix) {
		s, err := splitSealedSource(v)
		if err != nil {
			return sealedPrefix + "(malformed)"
		}
		u, err := ParseURI(s.By)
		if err != nil {
			s.By = RedactURI(s.By)
			return s.String()
		}
		if red := u.encode(true, depth+1); red != u.encode(false, depth+1) {
			s.By = red
			return s.String()
		}
		return v
	}
	if strings.Contains(v, ":") {
		if u, err := ParseURI(v); err == nil {
			if red := u.encode(true, depth+1); red != u.encode(false, depth+1) {
				return red
			}
		}
	}
	return v
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// checkNestedURI walks a URI met inside a sealed source: its scheme must be
// registered, it may hold no secret in its text, and every attribute value
// that is itself a sealed source or a backend URI (the remote backend's
// client-key-by=) is checked in turn.
func checkNestedURI(u *URI, depth int) error {
	if !registered(u.Scheme) {
		return fmt.Errorf("no backend registered for scheme %q (import its package): %w", u.Scheme, ErrUnsupported)
	}
	for _, list := range [][]Attr{u.Path, u.Query} {
		for _, a := range list {
			if secretAttrs[a.Name] {
				return fmt.Errorf("an unsealing backend's URI may not carry a secret in its text (%s); give a pin-source: %w", a.Name, ErrInvalidInput)
			}
			switch {
			case strings.HasPrefix(a.Value, sealedPrefix):
				if _, err := parseSealedSource(a.Value, depth+1); err != nil {
					return err
				}
			case strings.Contains(a.Value, ":"):
				if nested, err := ParseURI(a.Value); err == nil && registered(nested.Scheme) {
					if err := checkNestedURI(nested, depth); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

func registered(scheme string) bool {
	registry.RLock()
	defer registry.RUnlock()
	return registry.open[scheme] != nil
}

// Open unseals the file: it reads it (at most seal.MaxArmoredLen bytes),
// opens the backend By names, finds the key labelled Key and decrypts
// through it, then closes that backend. The key never leaves its store; the
// plaintext is returned exactly as sealed (ReadSecret drops a trailing
// newline) and should be wiped by the caller after use. Errors are those
// listed at [ReadSecret].
func (s SealedSource) Open(ctx context.Context) (Secret, error) {
	blob, err := s.ReadBlob()
	if err != nil {
		return nil, err
	}
	var pt []byte
	err = s.WithKey(ctx, func(k Key) error {
		var err error
		pt, err = OpenSealed(ctx, k, blob)
		return err
	})
	if err != nil {
		return nil, s.fail(err)
	}
	return Secret(pt), nil
}

// ReadBlob reads and de-armors the sealed file, checking its framing but
// opening nothing. Errors wrap [ErrInvalidInput] (unreadable file) or the
// seal package's ErrCorrupt, ErrTruncated, ErrUnknownFormat or ErrTooLarge.
func (s SealedSource) ReadBlob() ([]byte, error) {
	data, err := readBounded(s.Path, seal.MaxArmoredLen)
	if err != nil {
		return nil, fmt.Errorf("sealed secret: %w", err)
	}
	blob, err := seal.Dearmor(data)
	if err != nil {
		return nil, s.fail(err)
	}
	return blob, nil
}

// WithKey opens the backend By names, finds the key labelled Key, calls f
// with it and closes the backend. Errors from opening and finding are
// wrapped with the backend's redacted URI.
func (s SealedSource) WithKey(ctx context.Context, f func(Key) error) error {
	b, err := Open(ctx, s.By)
	if err != nil {
		return fmt.Errorf("open the unsealing backend: %w", err)
	}
	k, err := b.Key(ctx, ByLabel(s.Key))
	if err != nil {
		return errors.Join(fmt.Errorf("find the unsealing key: %w", err), b.Close())
	}
	err = f(k)
	if cerr := b.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("close the unsealing backend: %w", cerr)
	}
	return err
}

func (s SealedSource) fail(err error) error {
	return fmt.Errorf("sealed secret %s (key %s in %s): %w", s.Path, quoteIfNeeded(s.Key), RedactURI(s.By), err)
}

// OpenSealed decrypts blob (a raw seal blob) through k: its Decapsulator
// for an ML-KEM key, its Decrypter for an RSA key, each bounded by ctx.
// It tells the failures apart: sealed to another key (seal.ErrWrongKey,
// naming both key IDs), a key that cannot decrypt ([ErrUnsupported]), a key
// that refused ([ErrUnsealRefused], together with the store's error), a
// tampered or truncated blob (seal.ErrCorrupt and its refinements).
func OpenSealed(ctx context.Context, k Key, blob []byte) ([]byte, error) {
	var recipient any
	switch {
	case k.Algorithm().Decapsulates():
		d, err := k.Decapsulator()
		if err != nil {
			return nil, err
		}
		recipient = ctxDecapsulator{ctx, d}
	case k.Algorithm().Decrypts():
		d, err := k.Decrypter()
		if err != nil {
			return nil, err
		}
		recipient = ctxDecrypter{ctx, d}
	default:
		return nil, fmt.Errorf("key %s is %s, which cannot unseal; seal to an RSA decryption key or an ML-KEM key: %w", quoteIfNeeded(k.Label()), k.Algorithm(), ErrUnsupported)
	}
	pt, err := seal.Open(recipient, blob)
	switch {
	case err == nil:
		return pt, nil
	case errors.Is(err, seal.ErrWrongKey):
		want, _ := seal.SealedTo(blob)
		have, _ := seal.KeyID(k.Public())
		return nil, fmt.Errorf("sealed to key ID %s, not to key %s (key ID %s): %w", short(want), quoteIfNeeded(k.Label()), short(have), err)
	case refused(err):
		return nil, fmt.Errorf("%w: %w", ErrUnsealRefused, err)
	}
	return nil, err
}

// refused reports whether an unsealing key's failure is a refusal of its
// authorization or of its policy (a TPM key bound to PCR values the
// platform no longer holds) rather than of the blob or the device.
func refused(err error) bool { return errors.Is(err, ErrAuth) || errors.Is(err, ErrPolicy) }

func short(id []byte) string {
	if len(id) > 8 {
		id = id[:8]
	}
	return hex.EncodeToString(id) + "…"
}

// ctxDecrypter and ctxDecapsulator make seal.Open, which calls the
// context-free methods, honour the caller's context.
type ctxDecrypter struct {
	ctx context.Context
	d   Decrypter
}

func (c ctxDecrypter) Public() crypto.PublicKey { return c.d.Public() }
func (c ctxDecrypter) Decrypt(r io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	return c.d.DecryptContext(c.ctx, r, msg, opts)
}

type ctxDecapsulator struct {
	ctx context.Context
	d   Decapsulator
}

func (c ctxDecapsulator) Encapsulator() crypto.Encapsulator { return c.d.Encapsulator() }
func (c ctxDecapsulator) Decapsulate(ct []byte) ([]byte, error) {
	return c.d.DecapsulateContext(c.ctx, ct)
}
