package refserver

import (
	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/wire"
)

// roleNames returns the wire names of the roles in s, in numeric order.
func roleNames(s authn.RoleSet) []string {
	out := []string{}
	for _, r := range s.Roles() {
		out = append(out, r.String())
	}
	return out
}

// parseRoleList returns the set the wire names describe. Too many names,
// or an unknown one, is an error wrapping backend.ErrInvalidInput that does
// not quote it: what a caller types in a field may be anything.
func parseRoleList(names []string) (authn.RoleSet, error) {
	if err := maxCount("roles", len(names), wire.MaxRoleNames); err != nil {
		return 0, err
	}
	var s authn.RoleSet
	for _, n := range names {
		r, err := authn.ParseRole(n)
		if err != nil {
			return 0, invalid("unknown role name")
		}
		s |= authn.NewRoleSet(r)
	}
	return s, nil
}

// membershipsJSON returns the wire form of a principal's memberships.
func membershipsJSON(ms []authn.Membership) []wire.Membership {
	var out []wire.Membership
	for _, m := range ms {
		out = append(out, wire.Membership{Group: m.GroupID, Roles: roleNames(m.Roles)})
	}
	return out
}
