package authn

import (
	"crypto/rand"
	"hash/crc32"
	"strconv"
)

// TokenKind says what a token is for. Each kind has its own prefix, so a
// token pasted in the wrong place is refused before any store lookup and a
// leaked token can be recognised by secret scanners.
type TokenKind uint8

// Token kinds.
const (
	TokenAPIKey       TokenKind = 1 // "cpk_", 42 characters
	TokenSession      TokenKind = 2 // "cps_", 42 characters
	TokenUserSecret   TokenKind = 3 // "cpu_", exactly 64 characters
	TokenRegistration TokenKind = 4 // "cpr_", 42 characters
)

const (
	tokenPrefixLen   = 4
	tokenChecksumLen = 6 // base62 digits of a CRC-32: 62^6 > 2^32
	// 32 base62 digits carry 190 bits; the user secret's 54 carry 321.
	tokenRandomLen      = 32
	userSecretRandomLen = 64 - tokenPrefixLen - tokenChecksumLen

	// UserSecretLen is the length of every user secret.
	UserSecretLen = 64
	// TokenLen is the length of API keys, session tokens and registration
	// tokens.
	TokenLen = tokenPrefixLen + tokenRandomLen + tokenChecksumLen
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Prefix returns the kind's prefix, e.g. "cpk_".
func (k TokenKind) Prefix() string {
	switch k {
	case TokenAPIKey:
		return "cpk_"
	case TokenSession:
		return "cps_"
	case TokenUserSecret:
		return "cpu_"
	case TokenRegistration:
		return "cpr_"
	}
	return ""
}

// Len returns the length of a token of this kind.
func (k TokenKind) Len() int {
	if k == TokenUserSecret {
		return UserSecretLen
	}
	return TokenLen
}

// String names the kind.
func (k TokenKind) String() string {
	switch k {
	case TokenAPIKey:
		return "API key"
	case TokenSession:
		return "session token"
	case TokenUserSecret:
		return "user secret"
	case TokenRegistration:
		return "registration token"
	}
	return "TokenKind(" + strconv.Itoa(int(k)) + ")"
}

// NewToken returns a fresh random token of kind k: prefix, base62 digits
// from crypto/rand, and a base62 CRC-32 of both. It panics only if k is not
// a defined kind.
func NewToken(k TokenKind) Secret {
	prefix := k.Prefix()
	if prefix == "" {
		panic("authn: NewToken of undefined kind " + k.String())
	}
	b := make([]byte, k.Len())
	copy(b, prefix)
	body := b[tokenPrefixLen : len(b)-tokenChecksumLen]
	randomBase62(body)
	putChecksum(b[len(b)-tokenChecksumLen:], b[:len(b)-tokenChecksumLen])
	return Secret{v: string(b)}
}

// randomBase62 fills dst with uniformly random base62 digits, rejecting the
// bytes that would bias the modulo.
func randomBase62(dst []byte) {
	var buf [64]byte
	for i := 0; i < len(dst); {
		rand.Read(buf[:]) // never fails: crypto/rand panics instead
		for _, c := range buf {
			if c >= 62*4 {
				continue
			}
			dst[i] = base62[c%62]
			i++
			if i == len(dst) {
				return
			}
		}
	}
}

func putChecksum(dst []byte, data []byte) {
	c := crc32.ChecksumIEEE(data)
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = base62[c%62]
		c /= 62
	}
}

// ParseToken checks that s is a well-formed token of kind want: the right
// prefix and length, only base62 digits, and a matching checksum. It does not
// allocate and looks nothing up. A bad token returns an error wrapping
// [ErrMalformedCredential].
func ParseToken(want TokenKind, s string) error {
	if !wellFormed(want, s) {
		return opErr("parse "+want.String(), "", ErrMalformedCredential)
	}
	return nil
}

// TokenKindOf returns the kind of a well-formed token, or 0 if s is not one.
func TokenKindOf(s string) TokenKind {
	for k := TokenAPIKey; k <= TokenRegistration; k++ {
		if wellFormed(k, s) {
			return k
		}
	}
	return 0
}

func wellFormed(k TokenKind, s string) bool {
	prefix := k.Prefix()
	if prefix == "" || len(s) != k.Len() || s[:tokenPrefixLen] != prefix {
		return false
	}
	var sum uint64
	body := s[tokenPrefixLen:]
	for i := 0; i < len(body); i++ {
		d := base62Digit(body[i])
		if d < 0 {
			return false
		}
		if i >= len(body)-tokenChecksumLen {
			sum = sum*62 + uint64(d)
		}
	}
	return uint64(crc32String(s[:len(s)-tokenChecksumLen])) == sum
}

// crc32String is crc32.ChecksumIEEE without the []byte conversion, which
// would allocate on the session-lookup path.
func crc32String(s string) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(s); i++ {
		crc = crc32.IEEETable[byte(crc)^s[i]] ^ crc>>8
	}
	return ^crc
}

func base62Digit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 36
	}
	return -1
}
