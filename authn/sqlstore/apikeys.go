package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
)

const apiKeyCols = `id, principal_id, role, token_hash, pepper_version, created_at, expires_at`

func scanAPIKey(r scanner, owner bool) (authn.APIKeyRecord, error) {
	var k authn.APIKeyRecord
	var created int64
	var expires sql.NullInt64
	dest := []any{&k.ID, &k.PrincipalID, &k.Role, &k.Hash, &k.PepperVersion, &created, &expires}
	if owner {
		dest = append(dest, &k.PrincipalKind, &k.PrincipalRoles, &k.PrincipalMethod, &k.PrincipalEpoch)
	}
	if err := r.Scan(dest...); err != nil {
		return k, err
	}
	k.CreatedAt, k.ExpiresAt = fromNanos(created), fromOptNanos(expires)
	return k, nil
}

func scanAPIKeyOnly(r scanner) (authn.APIKeyRecord, error) { return scanAPIKey(r, false) }

func (s *Store) insertAPIKeys(ctx context.Context, e execer, op string, keys []authn.APIKeyRecord) error {
	for _, k := range keys {
		if _, err := s.exec(ctx, e, op, `INSERT INTO api_keys (`+apiKeyCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.PrincipalID, k.Role, k.Hash, k.PepperVersion, nanos(k.CreatedAt), optNanos(k.ExpiresAt)); err != nil {
			return err
		}
	}
	return nil
}

// CreateAPIKey implements [authn.Store].
func (s *Store) CreateAPIKey(ctx context.Context, k authn.APIKeyRecord) error {
	return s.insertAPIKeys(ctx, s.write, "create API key", []authn.APIKeyRecord{k})
}

// GetAPIKey implements [authn.Store].
func (s *Store) GetAPIKey(ctx context.Context, id string) (authn.APIKeyRecord, error) {
	k, err := scanAPIKeyOnly(s.read.QueryRowContext(ctx, s.q(`SELECT `+apiKeyCols+` FROM api_keys WHERE id = ?`), id))
	if err != nil {
		return k, s.err("get API key", err)
	}
	return k, nil
}

// apiKeyByHashQuery finds an API key with what authentication needs of its
// principal; prepared once in [Store.prepare].
const apiKeyByHashQuery = `SELECT k.id, k.principal_id, k.role, k.token_hash, k.pepper_version,
		k.created_at, k.expires_at, p.kind, p.roles, p.method, p.epoch
		FROM api_keys k JOIN principals p ON p.id = k.principal_id WHERE k.token_hash = ?`

// GetAPIKeyByHash implements [authn.Store], served from the lookup cache
// while it is fresh: a change made through another process may take up to
// the cache's bound to show.
func (s *Store) GetAPIKeyByHash(ctx context.Context, hash []byte) (authn.APIKeyRecord, error) {
	if s.cache != nil {
		if k, ok := cached(s.cache, &s.cache.apiKeys, hash); ok {
			return k, nil
		}
		return fill(s.cache, &s.cache.apiKeys, hash, func() (authn.APIKeyRecord, error) { return s.apiKeyByHashQuery(ctx, hash) }, nil)
	}
	return s.apiKeyByHashQuery(ctx, hash)
}

func (s *Store) apiKeyByHashQuery(ctx context.Context, hash []byte) (authn.APIKeyRecord, error) {
	k, err := scanAPIKey(s.apiKeyByHash.QueryRowContext(ctx, hash), true)
	if err != nil {
		return k, s.err("get API key by hash", err)
	}
	return k, nil
}

// ListAPIKeys implements [authn.Store].
func (s *Store) ListAPIKeys(ctx context.Context, principalID string) ([]authn.APIKeyRecord, error) {
	return list(ctx, s, "list API keys", scanAPIKeyOnly,
		`SELECT `+apiKeyCols+` FROM api_keys WHERE principal_id = ? ORDER BY created_at, id`, principalID)
}

// DeleteAPIKey implements [authn.Store].
func (s *Store) DeleteAPIKey(ctx context.Context, id string) error {
	defer s.cache.dropAll()
	return s.execOne(ctx, s.write, "delete API key", `DELETE FROM api_keys WHERE id = ?`, id)
}

// RotateAPIKey implements [authn.Store].
func (s *Store) RotateAPIKey(ctx context.Context, oldID string, oldExpiresAt time.Time, replacement authn.APIKeyRecord) error {
	const op = "rotate API key"
	defer s.cache.dropAll()
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		var err error
		if oldExpiresAt.IsZero() {
			err = s.execOne(ctx, tx, op, `DELETE FROM api_keys WHERE id = ?`, oldID)
		} else {
			err = s.execOne(ctx, tx, op, `UPDATE api_keys SET expires_at = ? WHERE id = ?`, nanos(oldExpiresAt), oldID)
		}
		if err != nil {
			return err
		}
		return s.insertAPIKeys(ctx, tx, op, []authn.APIKeyRecord{replacement})
	})
}
