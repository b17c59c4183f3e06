package authn

import (
	"context"
	"slices"
	"time"
)

// Key ownership by group. A principal belongs to groups, holding a set of
// roles in each; a key belongs to exactly one group; an operation on a key
// needs the route's role twice: in the credential (a session's or API key's
// roles) and in the caller's membership of the key's group. A key never
// assigned a group belongs to the default group, which every principal
// joins unless created into other groups: deployments that never create a
// group behave as if groups did not exist.

// Limits on groups.
const (
	// MaxGroupsPerPrincipal bounds how many groups a new principal joins.
	MaxGroupsPerPrincipal = 64
	maxGroupNameLen       = 128
)

// Group describes a group.
type Group struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Membership is a principal's membership of a group: the roles it holds for
// the group's keys.
type Membership struct {
	PrincipalID string
	GroupID     string
	Roles       RoleSet
}

func groupOf(r GroupRecord) Group { return Group(r) }

func membershipOf(r MembershipRecord) Membership { return Membership(r) }

// CreateGroup creates a group with a unique name (1 to 128 bytes of
// readable text; [ErrAlreadyExists] if taken, [ErrInvalidArgument] if
// malformed). It has no members and owns no key yet.
func (s *Service) CreateGroup(ctx context.Context, name string) (Group, error) {
	const op = "create group"
	if !validName(name) || len(name) > maxGroupNameLen {
		return Group{}, opErr(op, "", errWrap(ErrInvalidArgument, "name empty, too long or with control, bidirectional or invisible characters"))
	}
	g := GroupRecord{ID: newID(groupIDPrefix), Name: name, CreatedAt: s.now()}
	if err := s.store.CreateGroup(ctx, g); err != nil {
		return Group{}, storeErr(op, g.ID, err)
	}
	return groupOf(g), nil
}

// GetGroup returns a group and its members. Errors wrap [ErrNotFound].
func (s *Service) GetGroup(ctx context.Context, id string) (Group, []Membership, error) {
	const op = "get group"
	if !isID(id, groupIDPrefix) {
		return Group{}, nil, opErr(op, "", ErrNotFound)
	}
	g, err := s.store.GetGroup(ctx, id)
	if err != nil {
		return Group{}, nil, storeErr(op, id, err)
	}
	recs, err := s.store.ListGroupMembers(ctx, id)
	if err != nil {
		return Group{}, nil, storeErr(op, id, err)
	}
	out := make([]Membership, len(recs))
	for i, r := range recs {
		out[i] = membershipOf(r)
	}
	return groupOf(g), out, nil
}

// ListGroups returns every group, the default one first.
func (s *Service) ListGroups(ctx context.Context) ([]Group, error) {
	recs, err := s.store.ListGroups(ctx)
	if err != nil {
		return nil, storeErr("list groups", "", err)
	}
	out := make([]Group, len(recs))
	for i, r := range recs {
		out[i] = groupOf(r)
	}
	return out, nil
}

// DeleteGroup deletes a group and every membership of it. A group that
// still owns keys returns [ErrInUse] (move or delete them first); the
// default group cannot be deleted ([ErrInvalidArgument]). Errors wrap
// [ErrNotFound].
func (s *Service) DeleteGroup(ctx context.Context, id string) error {
	const op = "delete group"
	switch {
	case id == DefaultGroupID:
		return opErr(op, id, errWrap(ErrInvalidArgument, "the default group cannot be deleted"))
	case !isID(id, groupIDPrefix):
		return opErr(op, "", ErrNotFound)
	}
	if err := s.store.DeleteGroup(ctx, id); err != nil {
		return storeErr(op, id, err)
	}
	return nil
}

// SetGroupMember makes principal principalID a member of group groupID
// holding roles there, replacing any earlier membership; an empty set
// removes the membership. The roles take effect on the principal's next
// request. Errors wrap [ErrNotFound] (no such principal, group or
// membership) or [ErrInvalidArgument] (undefined role).
func (s *Service) SetGroupMember(ctx context.Context, groupID, principalID string, roles RoleSet) error {
	const op = "set group member"
	if !isID(groupID, groupIDPrefix) || !isPrincipalID(principalID) {
		return opErr(op, "", ErrNotFound)
	}
	if !roles.Valid() {
		return opErr(op, principalID, errWrap(ErrInvalidArgument, "undefined role"))
	}
	var err error
	if roles == 0 {
		err = s.store.DeleteMembership(ctx, principalID, groupID)
	} else {
		err = s.store.SetMembership(ctx, MembershipRecord{PrincipalID: principalID, GroupID: groupID, Roles: roles})
	}
	if err != nil {
		return storeErr(op, principalID, err)
	}
	return nil
}

func (s *Service) memberships(ctx context.Context, principalID string) ([]Membership, error) {
	recs, err := s.store.ListMemberships(ctx, principalID)
	if err != nil {
		return nil, err
	}
	out := make([]Membership, len(recs))
	for i, r := range recs {
		out[i] = membershipOf(r)
	}
	return out, nil
}

// AuthorizeKey decides whether p may act with role on the key whose hex ID
// is keyID. It returns the key's group and nil when p's credential grants
// role and p holds role in the key's group; an error wrapping [ErrNotFound]
// when p is not a member of the key's group (answer as if the key did not
// exist); and one wrapping [ErrForbidden] when p is a member without role.
// It costs one store query and is safe for concurrent use.
func (s *Service) AuthorizeKey(ctx context.Context, p Principal, keyID string, role Role) (string, error) {
	const op = "authorize key"
	if !p.HasRole(role) {
		return "", opErr(op, p.ID, ErrForbidden)
	}
	group, roles, err := s.store.KeyAccess(ctx, p.ID, keyID)
	if err != nil {
		return "", storeErr(op, p.ID, err)
	}
	if p.Kind == KindExternal {
		roles = p.groupRoles(group)
	}
	switch {
	case roles == 0:
		return "", opErr(op, p.ID, ErrNotFound)
	case !roles.Has(role):
		return group, opErr(op, p.ID, ErrForbidden)
	}
	return group, nil
}

// AuthorizeGroup decides whether p may act with role in group groupID (to
// create a key there, or move one in): p's credential must grant role and
// its membership of the group hold it. Errors wrap [ErrNotFound] (not a
// member, or no such group) or [ErrForbidden].
func (s *Service) AuthorizeGroup(ctx context.Context, p Principal, groupID string, role Role) error {
	const op = "authorize group"
	if !p.HasRole(role) {
		return opErr(op, p.ID, ErrForbidden)
	}
	if !isID(groupID, groupIDPrefix) {
		return opErr(op, p.ID, ErrNotFound)
	}
	if p.Kind == KindExternal {
		if p.groupRoles(groupID) == 0 {
			return opErr(op, p.ID, ErrNotFound)
		}
		return nil
	}
	ms, err := s.store.ListMemberships(ctx, p.ID)
	if err != nil {
		return storeErr(op, p.ID, err)
	}
	for _, m := range ms {
		if m.GroupID == groupID {
			if m.Roles.Has(role) {
				return nil
			}
			return opErr(op, p.ID, ErrForbidden)
		}
	}
	return opErr(op, p.ID, ErrNotFound)
}

// AssignKey records that the key with hex ID keyID belongs to group
// groupID. Call it before the key exists (with the ID the key will have),
// so that there is no moment at which the new key sits in the default
// group. A key with a group already returns [ErrAlreadyExists]; an unknown
// group [ErrNotFound].
func (s *Service) AssignKey(ctx context.Context, keyID, groupID string) error {
	const op = "assign key"
	if !validKeyID(keyID) || !isID(groupID, groupIDPrefix) {
		return opErr(op, "", errWrap(ErrInvalidArgument, "malformed key or group ID"))
	}
	if err := s.store.AssignKey(ctx, keyID, groupID); err != nil {
		return storeErr(op, keyID, err)
	}
	return nil
}

// MoveKey moves a key from group from (its current one, as
// [Service.AuthorizeKey] reported) to group to. If the key changed group
// meanwhile, nothing happens and [ErrNotFound] is returned.
func (s *Service) MoveKey(ctx context.Context, keyID, from, to string) error {
	const op = "move key"
	if !validKeyID(keyID) || !isID(from, groupIDPrefix) || !isID(to, groupIDPrefix) {
		return opErr(op, "", errWrap(ErrInvalidArgument, "malformed key or group ID"))
	}
	if err := s.store.MoveKey(ctx, keyID, from, to); err != nil {
		return storeErr(op, keyID, err)
	}
	return nil
}

// ForgetKey drops the record of a deleted key's group.
func (s *Service) ForgetKey(ctx context.Context, keyID string) error {
	if err := s.store.ForgetKey(ctx, keyID); err != nil {
		return storeErr("forget key", keyID, err)
	}
	return nil
}

// KeyGroups returns the group of every key that was assigned one, by hex
// key ID; a key not in the map belongs to the default group.
func (s *Service) KeyGroups(ctx context.Context) (map[string]string, error) {
	m, err := s.store.ListKeyOwners(ctx)
	if err != nil {
		return nil, storeErr("list key groups", "", err)
	}
	return m, nil
}

// Memberships returns a principal's memberships, by group ID.
func (s *Service) Memberships(ctx context.Context, principalID string) ([]Membership, error) {
	if !isPrincipalID(principalID) {
		return nil, opErr("list memberships", "", ErrNotFound)
	}
	ms, err := s.memberships(ctx, principalID)
	if err != nil {
		return nil, storeErr("list memberships", principalID, err)
	}
	return ms, nil
}

// MembershipsOf returns the memberships p acts with: a stored principal's
// from the store, a KindExternal principal's from its Groups, each with
// the roles its token grants.
func (s *Service) MembershipsOf(ctx context.Context, p Principal) ([]Membership, error) {
	if p.Kind != KindExternal {
		return s.Memberships(ctx, p.ID)
	}
	out := make([]Membership, len(p.Groups))
	for i, g := range p.Groups {
		out[i] = Membership{PrincipalID: p.ID, GroupID: g, Roles: p.Roles}
	}
	return out, nil
}

// groupRoles returns the roles a KindExternal principal holds in group:
// its own, if it acts in the group.
func (p Principal) groupRoles(group string) RoleSet {
	if slices.Contains(p.Groups, group) {
		return p.Roles
	}
	return 0
}

// validKeyID accepts the hex of a backend key ID (1 to 64 bytes).
func validKeyID(s string) bool {
	if len(s) == 0 || len(s) > 128 || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
