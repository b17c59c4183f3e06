package authn

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

var allKinds = []TokenKind{TokenAPIKey, TokenSession, TokenUserSecret, TokenRegistration}

func TestNewTokenFormat(t *testing.T) {
	for _, k := range allKinds {
		t.Run(k.String(), func(t *testing.T) {
			tok := NewToken(k).Reveal()
			require.Len(t, tok, k.Len())
			require.True(t, strings.HasPrefix(tok, k.Prefix()))
			require.NoError(t, ParseToken(k, tok))
			require.Equal(t, k, TokenKindOf(tok))
			for _, c := range tok[4:] {
				require.True(t, strings.ContainsRune(base62, c), "non-base62 %q in %s", c, tok)
			}
		})
	}
	require.Len(t, NewToken(TokenUserSecret).Reveal(), 64, "a user secret is exactly 64 characters")
}

func TestTokenRandomness(t *testing.T) {
	// The random part carries log2(62) bits per digit.
	require.GreaterOrEqual(t, float64(tokenRandomLen)*5.954, 128.0)
	require.GreaterOrEqual(t, float64(userSecretRandomLen)*5.954, 128.0)

	seen := map[string]bool{}
	counts := map[byte]int{}
	for range 2000 {
		tok := NewToken(TokenSession).Reveal()
		require.False(t, seen[tok], "duplicate token")
		seen[tok] = true
		for i := 4; i < 4+tokenRandomLen; i++ {
			counts[tok[i]]++
		}
	}
	// 64000 digits over 62 symbols: about 1032 each; a biased generator
	// (e.g. byte%62 without rejection) puts ~1240 on the first eight.
	require.Len(t, counts, 62)
	for c, n := range counts {
		require.InDelta(t, 1032, n, 150, "digit %q", c)
	}
}

func TestParseTokenRejects(t *testing.T) {
	good := NewToken(TokenAPIKey).Reveal()
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := []struct {
		name, tok string
	}{
		{"empty", ""},
		{"prefix only", "cpk_"},
		{"wrong kind", NewToken(TokenSession).Reveal()},
		{"upper-case prefix", "CPK_" + good[4:]},
		{"truncated", good[:len(good)-1]},
		{"extended", good + "0"},
		{"bad checksum", flip(good, len(good)-1)},
		{"bit flip in body", flip(good, 10)},
		{"non-base62", good[:10] + "-" + good[11:]},
		{"non-ASCII", good[:10] + "é" + good[12:]},
		{"NUL byte", good[:10] + "\x00" + good[11:]},
		{"space", good[:10] + " " + good[11:]},
		{"leading space", " " + good[:len(good)-1]},
		{"checksum overflowing 32 bits", good[:len(good)-6] + "zzzzzz"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ParseToken(TokenAPIKey, c.tok)
			require.ErrorIs(t, err, ErrMalformedCredential)
			require.ErrorIs(t, err, ErrUnauthenticated)
			if len(c.tok) > 8 {
				require.NotContains(t, err.Error(), c.tok[4:], "the error must not echo the token")
			}
		})
	}
}

func TestParseTokenDoesNotAllocate(t *testing.T) {
	tok := NewToken(TokenSession).Reveal()
	n := testing.AllocsPerRun(100, func() {
		if !wellFormed(TokenSession, tok) {
			panic("rejected")
		}
	})
	require.Zero(t, n)
}

func TestContainsToken(t *testing.T) {
	for _, k := range allKinds {
		tok := NewToken(k).Reveal()
		require.True(t, ContainsToken(tok), k.String())
		require.True(t, ContainsToken("x,"+tok+";"), "anywhere in a string")
		require.True(t, ContainsToken(tok[:len(tok)-10]), "truncated")
		require.True(t, ContainsToken(k.Prefix()+"AAAAAAAA"), "eight digits are enough")
		require.False(t, ContainsToken(k.Prefix()+"AAAAAAA"), "seven are not")
		require.False(t, ContainsToken(k.Prefix()+"AAAA-AAAA"), "digits must run on")
	}
	require.False(t, ContainsToken("cpx_AAAAAAAAAAAA"))
	require.False(t, ContainsToken("cp"))
	require.False(t, ContainsToken(""))
	for _, k := range allKinds {
		tok := NewToken(k).Reveal()
		require.Equal(t, "a [REDACTED], b=[REDACTED]!", RedactTokens("a "+tok+", b="+tok[:12]+"!"))
	}
	require.Equal(t, "nothing cpk_short", RedactTokens("nothing cpk_short"))
	var found bool
	require.Zero(t, testing.AllocsPerRun(10, func() { found = ContainsToken("/v1/key/web?limit=10&q=cpk_short") }))
	require.False(t, found)
}
