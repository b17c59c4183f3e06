package safetext_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/internal/safetext"
)

func TestProblem(t *testing.T) {
	for _, tc := range []struct {
		name, s string
		ok      bool
	}{
		{"ASCII", "web-signing key 1", true},
		{"accents and CJK", "clé de signature 署名", true},
		{"emoji", "🔑", true},
		{"empty", "", true},
		{"NUL", "a\x00b", false},
		{"tab", "a\tb", false},
		{"DEL", "a\x7fb", false},
		{"NEL U+0085", "a\u0085b", false},
		{"CSI U+009B", "a\u009bb", false},
		{"RLO U+202E", "txt\u202Eexe.", false},
		{"LRE U+202A", "a\u202Ab", false},
		{"RLI U+2067", "a\u2067b", false},
		{"PDI U+2069", "a\u2069b", false},
		{"RLM U+200F", "a\u200Fb", false},
		{"ALM U+061C", "a\u061Cb", false},
		{"zero-width space", "a\u200Bb", false},
		{"BOM", "\uFEFFa", false},
		{"line separator", "a\u2028b", false},
		{"paragraph separator", "a\u2029b", false},
		{"replacement character", "a\uFFFDb", false},
		{"invalid UTF-8", "a\xffb", false},
		{"truncated UTF-8", "a\xe2\x80", false},
		{"UTF-8 surrogate", "a\xed\xa0\x80b", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := safetext.Problem(tc.s)
			if tc.ok {
				require.Empty(t, p)
			} else {
				require.NotEmpty(t, p)
				require.NotContains(t, p, tc.s)
			}
		})
	}
}

func FuzzProblem(f *testing.F) {
	f.Add("label")
	f.Add("a\u202Eb")
	f.Fuzz(func(t *testing.T, s string) {
		if safetext.Problem(s) == "" {
			for _, r := range s {
				if r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
					t.Fatalf("accepted %q", s)
				}
			}
		}
	})
}
