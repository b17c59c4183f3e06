package authn_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

func principalOf(t *testing.T, e *env, keys []authn.IssuedAPIKey, role authn.Role) authn.Principal {
	t.Helper()
	for _, k := range keys {
		if k.Role == role {
			p, err := e.svc.Authenticate(ctx, authn.Credentials{APIKey: k.Key})
			require.NoError(t, err)
			return p
		}
	}
	t.Fatalf("no key for %v", role)
	return authn.Principal{}
}

// TestKeysAreOwnedByGroups: an operation on a key needs the role in the
// credential and in the caller's membership of the key's group; keys never
// assigned, and principals created without groups, are in the default
// group, which is how everything behaved before groups existed.
func TestKeysAreOwnedByGroups(t *testing.T) {
	e := newEnv(t)
	g, err := e.svc.CreateGroup(ctx, "payments")
	require.NoError(t, err)
	_, err = e.svc.CreateGroup(ctx, "payments")
	require.ErrorIs(t, err, authn.ErrAlreadyExists)

	old, oldKeys := e.app(t, authn.RoleKeyOperation, authn.RoleKeyManagement)
	inG, _, err := e.svc.CreateApplication(ctx, authn.ApplicationSpec{Name: "payments app", Roles: authn.NewRoleSet(authn.RoleKeyOperation, authn.RoleKeyManagement),
		Method: authn.MethodAPIKey, Groups: []string{g.ID}})
	require.NoError(t, err)
	require.Equal(t, []authn.Membership{{PrincipalID: inG.ID, GroupID: g.ID, Roles: inG.Roles}}, inG.Groups)
	inGKeys, err := e.svc.ResetApplicationSecret(ctx, inG.ID)
	require.NoError(t, err)
	_, _, err = e.svc.CreateApplication(ctx, authn.ApplicationSpec{Name: "x", Roles: authn.NewRoleSet(authn.RoleService), Method: authn.MethodAPIKey,
		Groups: []string{"grp_ffffffffffffffffffffffffffffffff"}})
	require.ErrorIs(t, err, authn.ErrInvalidArgument, "an unknown group")

	oldOps, oldMgmt := principalOf(t, e, oldKeys, authn.RoleKeyOperation), principalOf(t, e, oldKeys, authn.RoleKeyManagement)
	gOps, gMgmt := principalOf(t, e, inGKeys, authn.RoleKeyOperation), principalOf(t, e, inGKeys, authn.RoleKeyManagement)

	// A key nobody assigned: the default group, open to old, closed to inG.
	grp, err := e.svc.AuthorizeKey(ctx, oldOps, "0a0b", authn.RoleKeyOperation)
	require.NoError(t, err)
	require.Equal(t, authn.DefaultGroupID, grp)
	_, err = e.svc.AuthorizeKey(ctx, gOps, "0a0b", authn.RoleKeyOperation)
	require.ErrorIs(t, err, authn.ErrNotFound, "not a member: as if the key did not exist")

	// A key created into g.
	require.NoError(t, e.svc.AuthorizeGroup(ctx, gMgmt, g.ID, authn.RoleKeyManagement))
	require.ErrorIs(t, e.svc.AuthorizeGroup(ctx, oldMgmt, g.ID, authn.RoleKeyManagement), authn.ErrNotFound)
	require.ErrorIs(t, e.svc.AuthorizeGroup(ctx, gOps, g.ID, authn.RoleKeyManagement), authn.ErrForbidden, "the credential lacks the role")
	require.NoError(t, e.svc.AssignKey(ctx, "0c0d", g.ID))
	require.ErrorIs(t, e.svc.AssignKey(ctx, "0c0d", authn.DefaultGroupID), authn.ErrAlreadyExists)
	_, err = e.svc.AuthorizeKey(ctx, gOps, "0c0d", authn.RoleKeyOperation)
	require.NoError(t, err)
	_, err = e.svc.AuthorizeKey(ctx, oldOps, "0c0d", authn.RoleKeyOperation)
	require.ErrorIs(t, err, authn.ErrNotFound)
	_, err = e.svc.AuthorizeKey(ctx, gOps, "0c0d", authn.RoleKeyManagement)
	require.ErrorIs(t, err, authn.ErrForbidden, "the credential's role counts too")

	// Narrowing the membership takes effect on the next call.
	require.NoError(t, e.svc.SetGroupMember(ctx, g.ID, inG.ID, authn.NewRoleSet(authn.RoleKeyManagement)))
	_, err = e.svc.AuthorizeKey(ctx, gOps, "0c0d", authn.RoleKeyOperation)
	require.ErrorIs(t, err, authn.ErrForbidden, "a member without the role")
	require.NoError(t, e.svc.SetGroupMember(ctx, g.ID, old.ID, authn.NewRoleSet(authn.RoleKeyOperation)))
	_, err = e.svc.AuthorizeKey(ctx, oldOps, "0c0d", authn.RoleKeyOperation)
	require.NoError(t, err, "a new member")

	// Moving a key between groups is conditional on where it was.
	require.ErrorIs(t, e.svc.MoveKey(ctx, "0c0d", authn.DefaultGroupID, g.ID), authn.ErrNotFound)
	require.NoError(t, e.svc.MoveKey(ctx, "0c0d", g.ID, authn.DefaultGroupID))
	_, err = e.svc.AuthorizeKey(ctx, gOps, "0c0d", authn.RoleKeyOperation)
	require.ErrorIs(t, err, authn.ErrNotFound)

	// Groups that own keys stay; the default group always stays.
	require.NoError(t, e.svc.AssignKey(ctx, "0e0f", g.ID))
	require.ErrorIs(t, e.svc.DeleteGroup(ctx, g.ID), authn.ErrInUse)
	require.NoError(t, e.svc.ForgetKey(ctx, "0e0f"))
	require.NoError(t, e.svc.DeleteGroup(ctx, g.ID))
	require.ErrorIs(t, e.svc.DeleteGroup(ctx, authn.DefaultGroupID), authn.ErrInvalidArgument)
	a, err := e.svc.GetAccount(ctx, old.ID)
	require.NoError(t, err)
	require.Equal(t, []authn.Membership{{PrincipalID: old.ID, GroupID: authn.DefaultGroupID, Roles: old.Roles}}, a.Groups)
}
