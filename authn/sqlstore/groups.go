package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/cryptoplug/cryptoplug/authn"
)

const groupCols = `id, name, created_at`

func scanGroup(r scanner) (authn.GroupRecord, error) {
	var g authn.GroupRecord
	var created int64
	if err := r.Scan(&g.ID, &g.Name, &created); err != nil {
		return g, err
	}
	g.CreatedAt = fromNanos(created)
	return g, nil
}

// CreateGroup implements [authn.Store].
func (s *Store) CreateGroup(ctx context.Context, g authn.GroupRecord) error {
	_, err := s.exec(ctx, s.write, "create group", `INSERT INTO access_groups (`+groupCols+`) VALUES (?, ?, ?)`, g.ID, g.Name, nanos(g.CreatedAt))
	return err
}

// GetGroup implements [authn.Store].
func (s *Store) GetGroup(ctx context.Context, id string) (authn.GroupRecord, error) {
	g, err := scanGroup(s.read.QueryRowContext(ctx, s.q(`SELECT `+groupCols+` FROM access_groups WHERE id = ?`), id))
	if err != nil {
		return g, s.err("get group", err)
	}
	return g, nil
}

// ListGroups implements [authn.Store].
func (s *Store) ListGroups(ctx context.Context) ([]authn.GroupRecord, error) {
	return list(ctx, s, "list groups", scanGroup, `SELECT `+groupCols+` FROM access_groups ORDER BY created_at, id`)
}

// DeleteGroup implements [authn.Store]. key_owners refers to the group
// without a cascade, so a key assigned concurrently fails the delete
// rather than being orphaned.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	defer s.cache.dropAll()
	const op = "delete group"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM key_owners WHERE group_id = ?`), id).Scan(&n); err != nil {
			return s.err(op, err)
		}
		if n > 0 {
			return fmt.Errorf("sqlstore: %s: %d keys belong to it: %w", op, n, authn.ErrInUse)
		}
		res, err := tx.ExecContext(ctx, s.q(`DELETE FROM access_groups WHERE id = ?`), id)
		if isForeignKeyViolation(err) {
			return fmt.Errorf("sqlstore: %s: a key was assigned meanwhile: %w", op, authn.ErrInUse)
		}
		if err != nil {
			return s.err(op, err)
		}
		if gone, err := res.RowsAffected(); err != nil || gone == 0 {
			return fmt.Errorf("sqlstore: %s: %w", op, authn.ErrNotFound)
		}
		return nil
	})
}

// SetMembership implements [authn.Store].
func (s *Store) SetMembership(ctx context.Context, m authn.MembershipRecord) error {
	defer s.cache.dropAll()
	_, err := s.exec(ctx, s.write, "set membership", `INSERT INTO group_members (principal_id, group_id, roles) VALUES (?, ?, ?)
		ON CONFLICT (principal_id, group_id) DO UPDATE SET roles = excluded.roles`, m.PrincipalID, m.GroupID, m.Roles)
	return err
}

// DeleteMembership implements [authn.Store].
func (s *Store) DeleteMembership(ctx context.Context, principalID, groupID string) error {
	defer s.cache.dropAll()
	return s.execOne(ctx, s.write, "delete membership", `DELETE FROM group_members WHERE principal_id = ? AND group_id = ?`, principalID, groupID)
}

func scanMembership(r scanner) (authn.MembershipRecord, error) {
	var m authn.MembershipRecord
	err := r.Scan(&m.PrincipalID, &m.GroupID, &m.Roles)
	return m, err
}

// ListMemberships implements [authn.Store].
func (s *Store) ListMemberships(ctx context.Context, principalID string) ([]authn.MembershipRecord, error) {
	return list(ctx, s, "list memberships", scanMembership,
		`SELECT principal_id, group_id, roles FROM group_members WHERE principal_id = ? ORDER BY group_id`, principalID)
}

// ListGroupMembers implements [authn.Store].
func (s *Store) ListGroupMembers(ctx context.Context, groupID string) ([]authn.MembershipRecord, error) {
	return list(ctx, s, "list group members", scanMembership,
		`SELECT principal_id, group_id, roles FROM group_members WHERE group_id = ? ORDER BY principal_id`, groupID)
}

// keyAccessQuery resolves a key's group (the default one when it has no
// row) and the caller's roles in it in one round trip; prepared once in
// [Store.prepare].
const keyAccessQuery = `SELECT g.group_id, COALESCE(m.roles, 0)
	FROM (SELECT COALESCE((SELECT group_id FROM key_owners WHERE key_id = ?), '` + authn.DefaultGroupID + `') AS group_id) g
	LEFT JOIN group_members m ON m.group_id = g.group_id AND m.principal_id = ?`

// KeyAccess implements [authn.Store] with a prepared statement, served
// from the lookup cache while it is fresh: a change made through another
// process may take up to the cache's bound to show.
func (s *Store) KeyAccess(ctx context.Context, principalID, keyID string) (string, authn.RoleSet, error) {
	if s.cache == nil {
		a, err := s.keyAccessQuery(ctx, principalID, keyID)
		return a.group, a.roles, err
	}
	var buf [160]byte
	key := accessKey(buf[:0], principalID, keyID)
	if a, ok := cached(s.cache, &s.cache.access, key); ok {
		return a.group, a.roles, nil
	}
	a, err := fill(s.cache, &s.cache.access, key, func() (keyAccess, error) { return s.keyAccessQuery(ctx, principalID, keyID) }, nil)
	return a.group, a.roles, err
}

func (s *Store) keyAccessQuery(ctx context.Context, principalID, keyID string) (keyAccess, error) {
	var a keyAccess
	if err := s.keyAccess.QueryRowContext(ctx, keyID, principalID).Scan(&a.group, &a.roles); err != nil {
		return keyAccess{}, s.err("key access", err)
	}
	return a, nil
}

// AssignKey implements [authn.Store].
func (s *Store) AssignKey(ctx context.Context, keyID, groupID string) error {
	defer s.cache.dropAll()
	_, err := s.exec(ctx, s.write, "assign key", `INSERT INTO key_owners (key_id, group_id) VALUES (?, ?)`, keyID, groupID)
	return err
}

// MoveKey implements [authn.Store]. Each branch is one conditional
// statement, so that of two racing moves from the same group one wins.
func (s *Store) MoveKey(ctx context.Context, keyID, from, to string) error {
	defer s.cache.dropAll()
	const op = "move key"
	if from == authn.DefaultGroupID {
		n, err := s.exec(ctx, s.write, op, `INSERT INTO key_owners (key_id, group_id) VALUES (?, ?) ON CONFLICT (key_id) DO NOTHING`, keyID, to)
		if err != nil || n == 1 {
			return err
		}
	}
	return s.execOne(ctx, s.write, op, `UPDATE key_owners SET group_id = ? WHERE key_id = ? AND group_id = ?`, to, keyID, from)
}

// ForgetKey implements [authn.Store].
func (s *Store) ForgetKey(ctx context.Context, keyID string) error {
	defer s.cache.dropAll()
	_, err := s.exec(ctx, s.write, "forget key", `DELETE FROM key_owners WHERE key_id = ?`, keyID)
	return err
}

// ListKeyOwners implements [authn.Store].
func (s *Store) ListKeyOwners(ctx context.Context) (map[string]string, error) {
	type owner struct{ key, group string }
	rows, err := list(ctx, s, "list key owners", func(r scanner) (owner, error) {
		var o owner
		err := r.Scan(&o.key, &o.group)
		return o, err
	}, `SELECT key_id, group_id FROM key_owners`)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(rows))
	for _, o := range rows {
		out[o.key] = o.group
	}
	return out, nil
}
