package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
)

const sessionCols = `id, token_hash, pepper_version, principal_id, principal_kind, roles, method, cert_sha256, epoch,
	created_at, last_used_at, expires_at, api_key_id`

// sessionByHashQuery finds a session with the expiry of the API key it was
// made from (a revoked key took the session with it: ON DELETE CASCADE);
// prepared once in [Store.prepare].
const sessionByHashQuery = `SELECT s.id, s.token_hash, s.pepper_version, s.principal_id, s.principal_kind, s.roles, s.method,
	s.cert_sha256, s.epoch, s.created_at, s.last_used_at, s.expires_at, s.api_key_id, k.expires_at
	FROM sessions s LEFT JOIN api_keys k ON k.id = s.api_key_id WHERE s.token_hash = ?`

func scanSession(r scanner, withKey bool) (authn.SessionRecord, error) {
	var x authn.SessionRecord
	var created, used, expires int64
	var keyID sql.NullString
	var keyExpires sql.NullInt64
	dest := []any{&x.ID, &x.Hash, &x.PepperVersion, &x.PrincipalID, &x.PrincipalKind, &x.Roles, &x.Method, &x.CertSHA256, &x.Epoch,
		&created, &used, &expires, &keyID}
	if withKey {
		dest = append(dest, &keyExpires)
	}
	if err := r.Scan(dest...); err != nil {
		return x, err
	}
	x.CreatedAt, x.LastUsedAt, x.ExpiresAt = fromNanos(created), fromNanos(used), fromNanos(expires)
	x.APIKeyID, x.APIKeyExpiresAt = keyID.String, fromOptNanos(keyExpires)
	return x, nil
}

func scanSessionOnly(r scanner) (authn.SessionRecord, error) { return scanSession(r, false) }

func (s *Store) insertSession(ctx context.Context, tx *sql.Tx, op string, x authn.SessionRecord) error {
	if err := s.lockPrincipal(ctx, tx, op, x.PrincipalID, x.Epoch); err != nil {
		return err
	}
	// A missing API key fails the foreign key: ErrNotFound, as for a reset.
	_, err := s.exec(ctx, tx, op, `INSERT INTO sessions (`+sessionCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		x.ID, x.Hash, x.PepperVersion, x.PrincipalID, x.PrincipalKind, x.Roles, x.Method, optBytes(x.CertSHA256), x.Epoch,
		nanos(x.CreatedAt), nanos(x.LastUsedAt), nanos(x.ExpiresAt), optString(x.APIKeyID))
	return err
}

// CreateSession implements [authn.Store].
func (s *Store) CreateSession(ctx context.Context, x authn.SessionRecord) error {
	const op = "create session"
	return s.inTx(ctx, op, func(tx *sql.Tx) error { return s.insertSession(ctx, tx, op, x) })
}

// GetSessionByHash implements [authn.Store] with a prepared statement,
// served from the lookup cache while it is fresh: a change made through
// another process may take up to the cache's bound to show.
func (s *Store) GetSessionByHash(ctx context.Context, hash []byte) (authn.SessionRecord, error) {
	if s.cache != nil {
		if x, ok := cached(s.cache, &s.cache.sessions, hash); ok {
			return x, nil
		}
		return fill(s.cache, &s.cache.sessions, hash, func() (authn.SessionRecord, error) { return s.sessionByHashQuery(ctx, hash) },
			func(x authn.SessionRecord) { s.cache.keepSessionID(x.ID, string(hash)) })
	}
	return s.sessionByHashQuery(ctx, hash)
}

func (s *Store) sessionByHashQuery(ctx context.Context, hash []byte) (authn.SessionRecord, error) {
	x, err := scanSession(s.sessionByHash.QueryRowContext(ctx, hash), true)
	if err != nil {
		return x, s.err("get session by hash", err)
	}
	return x, nil
}

// TouchSession implements [authn.Store]. A missing session is not an error.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	defer s.cache.dropSessionID(id)
	_, err := s.exec(ctx, s.write, "touch session", `UPDATE sessions SET last_used_at = ? WHERE id = ? AND last_used_at < ?`,
		nanos(at), id, nanos(at))
	return err
}

// ReplaceSession implements [authn.Store].
func (s *Store) ReplaceSession(ctx context.Context, oldID string, next authn.SessionRecord) error {
	const op = "replace session"
	defer s.cache.dropSessionID(oldID)
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		if err := s.execOne(ctx, tx, op, `DELETE FROM sessions WHERE id = ?`, oldID); err != nil {
			return err
		}
		return s.insertSession(ctx, tx, op, next)
	})
}

// DeleteSession implements [authn.Store].
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	defer s.cache.dropSessionID(id)
	return s.execOne(ctx, s.write, "delete session", `DELETE FROM sessions WHERE id = ?`, id)
}

// DeleteSessions implements [authn.Store].
func (s *Store) DeleteSessions(ctx context.Context, principalID string) (int, error) {
	defer s.cache.dropAll()
	n, err := s.exec(ctx, s.write, "delete sessions", `DELETE FROM sessions WHERE principal_id = ?`, principalID)
	return int(n), err
}

// ListSessions implements [authn.Store].
func (s *Store) ListSessions(ctx context.Context, principalID string) ([]authn.SessionRecord, error) {
	return list(ctx, s, "list sessions", scanSessionOnly,
		`SELECT `+sessionCols+` FROM sessions WHERE principal_id = ? ORDER BY created_at, id`, principalID)
}
