package authn

import (
	"math/bits"
	"strconv"
	"strings"
)

// Role is a permission a principal can hold. The numeric values are stored
// in databases as bits of a [RoleSet] and never change.
type Role uint8

// The roles. A principal holds a set of them; no role implies another
// (admin does not imply keyOperation): authorization is deny by default.
const (
	RoleKeyManagement         Role = 1 // create, import, delete and change keys
	RoleKeyOperation          Role = 2 // use keys: sign, decrypt, wrap
	RoleApprover              Role = 3 // approve requests that need a quorum
	RoleService               Role = 4 // health, metrics and service endpoints
	RoleApproverKeyManagement Role = 5 // manage the keys approvers sign with
	RoleAdmin                 Role = 6 // manage principals and credentials
)

var roleNames = [...]string{
	RoleKeyManagement:         "keyManagement",
	RoleKeyOperation:          "keyOperation",
	RoleApprover:              "approver",
	RoleService:               "service",
	RoleApproverKeyManagement: "approverKeyManagement",
	RoleAdmin:                 "admin",
}

// AllRoles lists every role in numeric order.
var AllRoles = []Role{RoleKeyManagement, RoleKeyOperation, RoleApprover, RoleService, RoleApproverKeyManagement, RoleAdmin}

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool { return r >= RoleKeyManagement && r <= RoleAdmin }

// String returns the role's wire name, e.g. "keyManagement".
func (r Role) String() string {
	if !r.Valid() {
		return "Role(" + strconv.Itoa(int(r)) + ")"
	}
	return roleNames[r]
}

// MarshalText returns the wire name; it fails for an undefined role.
func (r Role) MarshalText() ([]byte, error) {
	if !r.Valid() {
		return nil, opErr("marshal role", r.String(), ErrInvalidArgument)
	}
	return []byte(roleNames[r]), nil
}

// UnmarshalText parses a wire name with [ParseRole].
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ParseRole returns the role with the given wire name (exact, case
// sensitive). Unknown names return an error wrapping [ErrInvalidArgument].
func ParseRole(name string) (Role, error) {
	for r := RoleKeyManagement; r <= RoleAdmin; r++ {
		if roleNames[r] == name {
			return r, nil
		}
	}
	return 0, opErr("parse role", name, ErrInvalidArgument)
}

// RoleSet is a set of roles, one bit per [Role]. The zero value is empty.
type RoleSet uint8

// NewRoleSet returns the set holding roles. Undefined roles are ignored; use
// [RoleSet.Valid] on input you did not build yourself.
func NewRoleSet(roles ...Role) RoleSet {
	var s RoleSet
	for _, r := range roles {
		if r.Valid() {
			s |= 1 << r
		}
	}
	return s
}

// Has reports whether r is in the set.
func (s RoleSet) Has(r Role) bool { return r.Valid() && s&(1<<r) != 0 }

// Valid reports whether the set only holds defined roles.
func (s RoleSet) Valid() bool { return s&^NewRoleSet(AllRoles...) == 0 }

// Len returns the number of roles in the set.
func (s RoleSet) Len() int { return bits.OnesCount8(uint8(s)) }

// Roles returns the roles in numeric order.
func (s RoleSet) Roles() []Role {
	var out []Role
	for _, r := range AllRoles {
		if s.Has(r) {
			out = append(out, r)
		}
	}
	return out
}

// String returns the wire names joined by commas, e.g. "keyOperation,admin".
func (s RoleSet) String() string {
	var b strings.Builder
	for _, r := range s.Roles() {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(roleNames[r])
	}
	return b.String()
}
