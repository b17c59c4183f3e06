package refserver

import (
	"fmt"

	"github.com/cryptoplug/cryptoplug/authn"
)

// roleNames returns the wire names of the roles in s, in numeric order.
func roleNames(s authn.RoleSet) []string {
	out := []string{}
	for _, r := range s.Roles() {
		out = append(out, r.String())
	}
	return out
}

// parseRoles returns the set the wire names describe; an unknown name is an
// error that quotes it (role names are not secret).
func parseRoles(names []string) (authn.RoleSet, error) {
	var s authn.RoleSet
	for _, n := range names {
		r, err := authn.ParseRole(n)
		if err != nil {
			return 0, fmt.Errorf("unknown role %q", n)
		}
		s |= authn.NewRoleSet(r)
	}
	return s, nil
}
