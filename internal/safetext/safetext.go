// Package safetext decides whether a caller-supplied name (a key label, an
// application name, an e-mail) is text a person can read as what it is:
// valid UTF-8 without characters that are invisible, reorder the text
// around them, or were produced by replacing bad input.
//
// It refuses every control character (Unicode category Cc: C0, DEL and the
// C1 range, U+0085 NEL and U+009B CSI included), every format character
// (Cf: the bidirectional overrides and isolates U+202A–U+202E and
// U+2066–U+2069, the marks U+200E, U+200F and U+061C, zero-width characters,
// the byte-order mark), the line and paragraph separators (Zl, Zp), and
// U+FFFD, the replacement character a lenient decoder leaves for invalid
// input. It imports only the standard library and keeps no state.
package safetext

import (
	"unicode"
	"unicode/utf8"
)

// Problem returns "" when s is safe, and otherwise what is wrong with it,
// in words that never quote s: "invalid UTF-8", "a control character",
// "a bidirectional or invisible formatting character", "a line or
// paragraph separator" or "the replacement character U+FFFD".
func Problem(s string) string {
	if !utf8.ValidString(s) {
		return "invalid UTF-8"
	}
	for _, r := range s {
		if r < 0x80 && r >= 0x20 && r != 0x7f {
			continue // the common case: printable ASCII
		}
		switch {
		case unicode.Is(unicode.Cc, r):
			return "a control character"
		case unicode.Is(unicode.Cf, r):
			return "a bidirectional or invisible formatting character"
		case unicode.In(r, unicode.Zl, unicode.Zp):
			return "a line or paragraph separator"
		case r == utf8.RuneError:
			return "the replacement character U+FFFD"
		}
	}
	return ""
}
