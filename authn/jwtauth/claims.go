package jwtauth

import (
	"strings"
	"unicode"
	"unicode/utf8"

	josejson "github.com/go-jose/go-jose/v4/json"
	"github.com/go-jose/go-jose/v4/jwt"
)

// claimSet is the part of a token's payload this package reads by name.
type claimSet struct {
	jwt.Claims
	Cnf *confirmation `json:"cnf,omitempty"`
}

// confirmation is RFC 7800's "cnf" claim; of its methods only RFC 8705's
// certificate thumbprint is supported.
type confirmation struct {
	X5tS256 *string `json:"x5t#S256,omitempty"`
}

// rawClaims holds every top-level claim, for the configurable ones.
type rawClaims map[string]josejson.RawMessage

// find returns the claim at path: the top-level claim of that exact name
// (names like "https://example.com/roles" hold dots), or else the path's
// dot-separated steps through nested objects.
func (c rawClaims) find(path string) (josejson.RawMessage, bool) {
	if v, ok := c[path]; ok {
		return v, true
	}
	steps := strings.SplitN(path, ".", maxRolePathDepth+1)
	if len(steps) < 2 || len(steps) > maxRolePathDepth {
		return nil, false
	}
	cur := c
	for i, step := range steps {
		v, ok := cur[step]
		if !ok {
			return nil, false
		}
		if i == len(steps)-1 {
			return v, true
		}
		var next rawClaims
		if josejson.Unmarshal(v, &next) != nil {
			return nil, false
		}
		cur = next
	}
	return nil, false
}

// principal returns the claim at path if it is a usable identifier: a
// non-empty UTF-8 string of at most 256 bytes without control characters.
func (c rawClaims) principal(path string) (string, bool) {
	raw, ok := c.find(path)
	if !ok {
		return "", false
	}
	var s string
	if josejson.Unmarshal(raw, &s) != nil || s == "" || len(s) > maxClaimLen || !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", false
		}
	}
	return s, true
}

// roleValues returns the claim at path as strings: a JSON array of
// strings, or one string of space-separated values.
func (c rawClaims) roleValues(path string) []string {
	raw, ok := c.find(path)
	if !ok {
		return nil
	}
	var list []string
	if josejson.Unmarshal(raw, &list) != nil {
		var s string
		if josejson.Unmarshal(raw, &s) != nil {
			return nil
		}
		list = strings.Fields(s)
	}
	if len(list) > maxRoleValues {
		list = list[:maxRoleValues]
	}
	return list
}

// mapRoles turns claim values into role names: through the issuer's map,
// or, without one, keeping the values that are role names. The result is
// sorted as RoleNames is and holds no duplicates.
func mapRoles(values []string, roleMap map[string][]string, roleNames []string) []string {
	granted := make(map[string]bool, len(values))
	for _, v := range values {
		if roleMap == nil {
			granted[v] = true
			continue
		}
		for _, r := range roleMap[v] {
			granted[r] = true
		}
	}
	var out []string
	for _, r := range roleNames {
		if granted[r] {
			out = append(out, r)
		}
	}
	return out
}
