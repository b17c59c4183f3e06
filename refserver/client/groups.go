package client

import (
	"context"

	"github.com/cryptoplug/cryptoplug/wire"
)

// The group routes need role admin, except MoveKey (keyManagement in both
// groups).

// CreateGroup creates a group (POST /sys/v1/groups).
func (c *Client) CreateGroup(ctx context.Context, name string) (wire.Group, error) {
	var out wire.Group
	return out, c.do(ctx, "POST", "/sys/v1/groups", wire.CreateGroup{Name: name}, &out, nil)
}

// ListGroups lists groups (GET /sys/v1/groups).
func (c *Client) ListGroups(ctx context.Context) ([]wire.Group, error) {
	var out wire.GroupList
	return out.Groups, c.do(ctx, "GET", "/sys/v1/groups", nil, &out, nil)
}

// GetGroup describes a group and its members (GET /sys/v1/groups/{id}).
func (c *Client) GetGroup(ctx context.Context, id string) (wire.Group, error) {
	var out wire.Group
	return out, c.do(ctx, "GET", "/sys/v1/groups/"+segment(id), nil, &out, nil)
}

// DeleteGroup deletes a group that owns no key (DELETE /sys/v1/groups/{id});
// one that still owns keys answers in_use.
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/sys/v1/groups/"+segment(id), nil, nil, nil)
}

// SetGroupMember sets the roles a principal holds in a group
// (PUT /sys/v1/groups/{id}/members/{principal}).
func (c *Client) SetGroupMember(ctx context.Context, groupID, principalID string, roles []string) (wire.GroupMember, error) {
	var out wire.GroupMember
	return out, c.do(ctx, "PUT", "/sys/v1/groups/"+segment(groupID)+"/members/"+segment(principalID), wire.SetGroupMember{Roles: roles}, &out, nil)
}

// RemoveGroupMember removes a principal from a group
// (DELETE /sys/v1/groups/{id}/members/{principal}).
func (c *Client) RemoveGroupMember(ctx context.Context, groupID, principalID string) error {
	return c.do(ctx, "DELETE", "/sys/v1/groups/"+segment(groupID)+"/members/"+segment(principalID), nil, nil, nil)
}

// MoveKey gives the key labelled label to another group
// (PUT /v1/key/{label}/group; keyManagement in both groups).
func (c *Client) MoveKey(ctx context.Context, label, groupID string) (wire.Key, error) {
	var out wire.Key
	return out, c.do(ctx, "PUT", "/v1/key/"+segment(label)+"/group", wire.MoveKey{Group: groupID}, &out, nil)
}
