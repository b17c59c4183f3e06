package main

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11"
	"github.com/cryptoplug/cryptoplug/seal"
	"github.com/cryptoplug/cryptoplug/sealedfile"
)

// Exit codes. They are part of the command's interface: scripts test them,
// so a code never changes meaning. The package documentation and
// `cryptoplug help exit-codes` list them.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitNotFound    = 3
	exitAuth        = 4
	exitUnsupported = 5
	exitExists      = 6
	exitBadSig      = 7
	exitConfFail    = 8
	exitCorrupt     = 9
	exitTimeout     = 10
	exitWrongKey    = 11
)

// exitCodes describes each code, in order, for `help exit-codes` and -o
// json errors. Where they overlap, they are cmd/cryptoplug-seal's codes.
var exitCodes = []struct {
	code int
	kind string
	what string
}{
	{exitOK, "ok", "success (verify: the signature is valid; conformance: no check FAILed)"},
	{exitFailure, "failure", "any other failure: I/O, an error from the store, an internal error"},
	{exitUsage, "usage", "unknown command or flag, malformed URI or attribute, bad input file or value"},
	{exitNotFound, "not-found", "no such key (or token)"},
	{exitAuth, "auth", "wrong PIN or passphrase, a PIN is needed and there is no terminal to ask on, or the key refused to unseal (policy or authorization not satisfied)"},
	{exitUnsupported, "unsupported", "the backend, token or key cannot do what was asked"},
	{exitExists, "exists", "a key with that label or ID already exists, or the sealed file does (seal without --replace)"},
	{exitBadSig, "bad-signature", "verify: the signature does not verify"},
	{exitConfFail, "conformance-fail", "conformance: at least one check FAILed"},
	{exitCorrupt, "corrupt", "stored key data could not be read back, or a sealed secret file is tampered with or truncated"},
	{exitTimeout, "timeout", "--timeout expired"},
	{exitWrongKey, "wrong-key", "a sealed secret file (pin-source=sealed:) was sealed to another key"},
}

func exitKind(code int) string {
	for _, c := range exitCodes {
		if c.code == code {
			return c.kind
		}
	}
	return "failure"
}

// Errors of the command itself, for the cases no backend sentinel covers.
var (
	// errUsage marks a malformed command line or input.
	errUsage = errors.New("usage")
	// errNoPIN means a PIN is needed, the URI names none, and there is no
	// terminal to ask on.
	errNoPIN = errors.New("no PIN")
	// errBadSignature means verify found the signature invalid.
	errBadSignature = errors.New("signature does not verify")
	// errConformanceFail means the suite recorded at least one FAIL.
	errConformanceFail = errors.New("conformance check failed")
)

// exitCode returns the exit code for err (nil is exitOK). Sentinels are
// tested in an order where the more specific wins: a wrong PIN is an
// authentication failure even though the backend may also call the URI
// unusable.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errBadSignature):
		return exitBadSig
	case errors.Is(err, errConformanceFail):
		return exitConfFail
	case errors.Is(err, seal.ErrWrongKey):
		return exitWrongKey
	case errors.Is(err, errNoPIN), errors.Is(err, backend.ErrAuth), errors.Is(err, backend.ErrUnsealRefused):
		return exitAuth
	case errors.Is(err, context.DeadlineExceeded):
		return exitTimeout
	case errors.Is(err, backend.ErrKeyNotFound), errors.Is(err, pkcs11.ErrTokenNotFound):
		return exitNotFound
	case errors.Is(err, backend.ErrKeyExists), errors.Is(err, sealedfile.ErrExists):
		return exitExists
	case errors.Is(err, backend.ErrCorrupt), errors.Is(err, seal.ErrCorrupt):
		return exitCorrupt
	case errors.Is(err, backend.ErrUnsupported), errors.Is(err, backend.ErrNotExtractable), errors.Is(err, seal.ErrUnsupportedKey):
		return exitUnsupported
	case errors.Is(err, errUsage), errors.Is(err, backend.ErrInvalidInput):
		return exitUsage
	}
	return exitFailure
}

// opError is an error of one command on one backend and key: what the user
// sees as "cryptoplug <command>: <uri> key <key>: <cause>".
type opError struct {
	cmd string // the command path without "cryptoplug", such as "keys show"
	uri string // the backend URI with secrets removed; may be empty
	key string // the key reference; may be empty
	err error
	// opened is the redacted URI the backend was opened with, when it
	// differs from uri (a prompted PIN added pin-value=REDACTED): the
	// backend's own errors begin with it.
	opened string
}

func (e *opError) Error() string {
	var b strings.Builder
	b.WriteString("cryptoplug ")
	b.WriteString(e.cmd)
	b.WriteString(": ")
	cause := e.err.Error()
	// A backend's error names the backend and the key itself
	// ("cryptoplug: <backend>: find key web: key not found"): keep its
	// words, without repeating what this message already says.
	cause = strings.TrimPrefix(cause, "cryptoplug: ")
	if e.uri != "" {
		cause = strings.TrimPrefix(cause, e.uri+": ")
		if e.opened != "" {
			cause = strings.TrimPrefix(cause, e.opened+": ")
		}
		b.WriteString(e.uri)
		var be *backend.Error
		if e.key != "" && !errors.As(e.err, &be) {
			b.WriteString(" key ")
			b.WriteString(quoteKey(e.key))
		}
		b.WriteString(": ")
	}
	b.WriteString(cause)
	return b.String()
}

func (e *opError) Unwrap() error { return e.err }

// quoteKey quotes a label that holds spaces or other characters that would
// make the message ambiguous.
func quoteKey(s string) string {
	for _, r := range s {
		if r <= ' ' || r == '"' || r == ':' || r > '~' {
			return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
		}
	}
	return s
}

// maxErrorLen bounds an error line; a check that fails a thousand times
// must not flood a terminal.
const maxErrorLen = 2000

// oneLine turns an error message into one line: newlines and tabs (from a
// wrapped library's multi-line message) become "; " and spaces, and an
// overlong message is cut. secrets are removed wherever they appear, as a
// last defence: no layer below should ever have put them there.
func oneLine(msg string, secrets ...[]byte) string {
	for _, s := range secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, string(s), "[REDACTED]")
		}
	}
	msg = strings.TrimSpace(msg)
	var b strings.Builder
	space := false
	for _, r := range msg {
		switch {
		case r == '\n' || r == '\r':
			if !space {
				b.WriteString("; ")
			}
			space = true
		case r == '\t' || r == ' ':
			if !space {
				b.WriteByte(' ')
			}
			space = true
		case r < 0x20 || r == 0x7f:
			b.WriteRune('?')
			space = false
		default:
			b.WriteRune(r)
			space = false
		}
	}
	s := b.String()
	if len(s) > maxErrorLen {
		cut := maxErrorLen - 3
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
