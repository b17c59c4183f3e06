package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11"
)

// target is a backend a command works on, opened from the URI the user
// gave.
type target struct {
	cmd      string       // the command, for errors
	uri      *backend.URI // as given (never with a pin-value: refused)
	raw      string       // as given, possibly holding a prompted PIN's pin-value: never print it
	redacted string       // safe to print
	b        backend.Backend
}

// login says whether a command uses keys, and so needs the store's PIN
// (a PKCS #11 login). Listing capabilities and reading token information
// do not.
type login bool

const (
	withLogin    login = true
	withoutLogin login = false
)

// parseTarget checks a backend URI as given on the command line: it must
// parse, and it must not carry a secret. pin-value is refused rather than
// accepted with a warning: a PIN on the command line is in ps output for
// every user of the machine and in shell history, and a warning comes
// after the harm.
func parseTarget(cmd, raw string) (*target, error) {
	u, err := backend.ParseURI(raw)
	if err != nil {
		return nil, &opError{cmd: cmd, uri: backend.RedactURI(raw), err: err}
	}
	t := &target{cmd: cmd, uri: u, raw: raw, redacted: u.Redacted()}
	if u.Has("pin-value") {
		return nil, &opError{cmd: cmd, uri: t.redacted, err: usageErr(
			"pin-value= puts the PIN on the command line, where ps and shell history show it; " +
				"use pin-source=file:/path or pin-source=env:NAME, or leave it out to be asked on the terminal")}
	}
	return t, nil
}

// prepare parses raw and, when the store needs a PIN and the URI names
// none, asks for it on the terminal; t.raw is then the URI to open. It opens
// nothing: commands whose work opens the backend itself (bench, whose
// baselines must load a PKCS #11 module before anyone else does) call it
// instead of open.
func (a *app) prepare(cmd, raw string, l login) (*target, error) {
	t, err := parseTarget(cmd, raw)
	if err != nil {
		return nil, err
	}
	if what, needed := pinNeeded(t.uri, l); needed && !t.uri.Has("pin-source") {
		pin, err := a.askPIN(what+" for "+t.redacted, t.newStore())
		if err != nil {
			return nil, t.fail("", err)
		}
		t.raw = withPINValue(raw, pin)
		backend.Secret(pin).Wipe()
	}
	return t, nil
}

// open is prepare, then opens the backend.
func (a *app) open(ctx context.Context, cmd, raw string, l login) (*target, error) {
	t, err := a.prepare(cmd, raw, l)
	if err != nil {
		return nil, err
	}
	b, err := backend.Open(ctx, t.raw)
	if err != nil {
		return nil, t.fail("", err)
	}
	t.b = b
	return t, nil
}

// openKey is open, then the key --key/--id name. On success the caller
// closes the backend (defer t.close(&err)); on failure it is closed here.
func (a *app) openKey(ctx context.Context, cmd, raw string, kf keyFlags) (*target, backend.Key, error) {
	t, err := a.open(ctx, cmd, raw, withLogin)
	if err != nil {
		return nil, nil, err
	}
	ref, err := t.keyRef(kf.label, kf.id)
	if err == nil {
		var k backend.Key
		if k, err = t.key(ctx, ref); err == nil {
			return t, k, nil
		}
	}
	_ = t.b.Close()
	return nil, nil, err
}

// close closes the backend; a failure to close is reported only when the
// command itself succeeded.
func (t *target) close(err *error) {
	if cerr := t.b.Close(); cerr != nil && *err == nil {
		*err = t.fail("", cerr)
	}
}

// fail wraps err as this command's error on this backend and key.
func (t *target) fail(key string, err error) error {
	if err == nil {
		return nil
	}
	if oe := (*opError)(nil); errors.As(err, &oe) {
		return err
	}
	oe := &opError{cmd: t.cmd, uri: t.redacted, key: key, err: err}
	if opened := backend.RedactURI(t.raw); opened != t.redacted {
		oe.opened = opened
	}
	return oe
}

// pinNeeded says whether opening u for a command needs a PIN, and what the
// prompt calls it: a software directory store always needs its passphrase;
// a PKCS #11 token needs the user PIN for everything but its information
// and capabilities. TPM owner authorization is empty by default, and
// remote backends read credentials of their own kind.
func pinNeeded(u *backend.URI, l login) (what string, needed bool) {
	switch u.Scheme {
	case "software":
		return "Passphrase", u.Has("dir")
	case "pkcs11":
		return "User PIN", bool(l)
	}
	return "", false
}

// newStore reports whether the URI names a software directory store that
// does not exist yet, whose passphrase is being chosen now (and so is asked
// for twice). keystore.age is the file the software backend documents as
// the store's identity.
func (t *target) newStore() bool {
	if t.uri.Scheme != "software" {
		return false
	}
	dir, ok, err := t.uri.FilePath("dir")
	if !ok || err != nil {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, "keystore.age"))
	return errors.Is(err, os.ErrNotExist)
}

// withPINValue returns raw with pin-value=PIN added. The result stays in
// this process (backend.Open parses it; every printed form is redacted):
// it is how a PIN typed at the prompt reaches a backend without ever
// touching a command line, file or environment variable.
func withPINValue(raw string, pin []byte) string {
	// The query starts at the first '?'; a later '?' is inside it (found
	// by FuzzWithPINValue: "…?a?" is not an empty query).
	sep := "&"
	if _, query, ok := strings.Cut(raw, "?"); !ok {
		sep = "?"
	} else if query == "" || strings.HasSuffix(query, "&") {
		sep = ""
	}
	return raw + sep + "pin-value=" + percentEncode(pin)
}

// percentEncode encodes every byte except RFC 3986's unreserved
// characters, so that any PIN survives RFC 7512 parsing unchanged.
func percentEncode(b []byte) string {
	const hexDigits = "0123456789ABCDEF"
	var s strings.Builder
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
			s.WriteByte(c)
		default:
			s.WriteByte('%')
			s.WriteByte(hexDigits[c>>4])
			s.WriteByte(hexDigits[c&15])
		}
	}
	return s.String()
}

// keyRef builds the reference of the key a command works on from --key and
// --id, or, for a PKCS #11 URI that names one, from its object= and id=
// (RFC 7512 key URIs, as pkcs11-tool and p11tool print them).
func (t *target) keyRef(label, idHex string) (backend.KeyRef, error) {
	var ref backend.KeyRef
	if label != "" {
		if err := backend.ValidateLabel(label); err != nil {
			return ref, t.fail("", usagef("--key: %v", err))
		}
		ref.Label = label
	}
	if idHex != "" {
		id, err := backend.ParseKeyID(idHex)
		if err != nil {
			return ref, t.fail("", usagef("--id: %v", err))
		}
		ref.ID = id
	}
	if ref.Validate() == nil {
		return ref, nil
	}
	if t.uri.Scheme == pkcs11.Scheme && (t.uri.Has("object") || t.uri.Has("id")) {
		r, err := pkcs11.KeyRefFromURI(t.raw)
		if err != nil {
			return ref, t.fail("", err)
		}
		return r, nil
	}
	return ref, t.fail("", usageErr("name the key with --key LABEL or --id HEX"))
}

// key finds the key ref names.
func (t *target) key(ctx context.Context, ref backend.KeyRef) (backend.Key, error) {
	k, err := t.b.Key(ctx, ref)
	if err != nil {
		return nil, t.fail(ref.String(), err)
	}
	return k, nil
}
