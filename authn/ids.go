package authn

import (
	"crypto/rand"
	"encoding/hex"
)

// Identifier prefixes. Every identifier this package makes is a prefix and
// 32 lowercase hex digits (128 random bits): see [newID].
const (
	userIDPrefix        = "usr_"
	applicationIDPrefix = "app_"
	clientIDPrefix      = "cli_"
	apiKeyIDPrefix      = "key_"
	sessionIDPrefix     = "ses_"
	pinIDPrefix         = "pin_"
	regTokenIDPrefix    = "reg_"
	groupIDPrefix       = "grp_"
	taskIDPrefix        = "apr_"

	idHexLen = 32
)

// newID returns a non-secret identifier: prefix and 128 random bits in hex.
func newID(prefix string) string {
	var b [idHexLen / 2]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// isID reports whether s has the shape of an identifier made by newID with
// one of prefixes. A caller-supplied ID that does not is refused before any
// store lookup and never written to a log or an error: whatever a caller
// typed there (a key, a password) is not ours to record.
func isID(s string, prefixes ...string) bool {
	if len(s) != len(prefixes[0])+idHexLen {
		return false
	}
	ok := false
	for _, p := range prefixes {
		ok = ok || s[:len(p)] == p
	}
	if !ok {
		return false
	}
	for i := len(prefixes[0]); i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// isPrincipalID reports whether s is shaped like a user, application or
// client ID.
func isPrincipalID(s string) bool {
	return isID(s, userIDPrefix, applicationIDPrefix, clientIDPrefix)
}
