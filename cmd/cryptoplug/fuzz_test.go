package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cryptoplug/cryptoplug/backend"
)

// A PIN typed at the prompt reaches the backend in the URI withPINValue
// builds: whatever its bytes, it parses back to the same PIN and the
// redacted form (what any message shows) hides it.
func FuzzWithPINValue(f *testing.F) {
	f.Add("software:dir=/k", []byte("a b&c;d%"))
	f.Add("pkcs11:token=t?module-path=/m.so", []byte("1234"))
	f.Add("pkcs11:token=t?", []byte("\x00\xff?&=%25"))
	f.Add("tpm:swtpm=/s;dir=/d", []byte("pässwörd"))
	f.Fuzz(func(t *testing.T, raw string, pin []byte) {
		u, err := backend.ParseURI(raw)
		if err != nil || u.Has("pin-value") || len(pin) == 0 || len(pin) > maxPINLen {
			return
		}
		got := withPINValue(raw, pin)
		v, err := backend.ParseURI(got)
		if err != nil {
			t.Fatalf("withPINValue(%q) = %q does not parse: %v", raw, got, err)
		}
		p, ok, err := v.PIN()
		if err != nil || !ok || !bytes.Equal(p, pin) {
			t.Fatalf("withPINValue(%q, %q) = %q: PIN %q, %v, %v", raw, pin, got, p, ok, err)
		}
		if r := v.Redacted(); !strings.Contains(r, "pin-value=REDACTED") || strings.Contains(r, "pin-value="+percentEncode(pin)) {
			t.Fatalf("the redacted URI %q does not hide the PIN", r)
		}
	})
}

// A signature file is read back whatever it holds: never a panic, an
// error wrapping errUsage for what is not the format, and what
// encodeSignature wrote always decodes to the signature.
func FuzzDecodeSignature(f *testing.F) {
	f.Add([]byte("3045022100"), "hex")
	f.Add([]byte("MEUCIQ==\n"), "base64")
	f.Add([]byte("\x30\x45"), "raw")
	f.Add([]byte("zz"), "HEX")
	f.Fuzz(func(t *testing.T, b []byte, format string) {
		sig, err := decodeSignature(b, format)
		if err != nil {
			if !isUsage(err) {
				t.Fatalf("decodeSignature(%q, %q): %v is not a usage error", b, format, err)
			}
		} else if sig == nil && len(b) > 0 && strings.EqualFold(format, "raw") {
			t.Fatalf("raw %q decoded to nothing", b)
		}
		enc, err := encodeSignature(b, format)
		if err != nil {
			return
		}
		back, err := decodeSignature(enc, format)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("%s round trip of %q: %q, %v", format, b, back, err)
		}
	})
}

func isUsage(err error) bool { return exitCode(err) == exitUsage }
