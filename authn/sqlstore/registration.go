package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
)

const regTokenCols = `id, token_hash, pepper_version, roles, uses_left, created_by, created_at, expires_at`

func scanRegToken(r scanner) (authn.RegistrationTokenRecord, error) {
	var t authn.RegistrationTokenRecord
	var created, expires int64
	if err := r.Scan(&t.ID, &t.Hash, &t.PepperVersion, &t.Roles, &t.UsesLeft, &t.CreatedBy, &created, &expires); err != nil {
		return t, err
	}
	t.CreatedAt, t.ExpiresAt = fromNanos(created), fromNanos(expires)
	return t, nil
}

// CreateRegistrationToken implements [authn.Store].
func (s *Store) CreateRegistrationToken(ctx context.Context, t authn.RegistrationTokenRecord) error {
	_, err := s.exec(ctx, s.write, "create registration token", `INSERT INTO registration_tokens (`+regTokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Hash, t.PepperVersion, t.Roles, t.UsesLeft, t.CreatedBy, nanos(t.CreatedAt), nanos(t.ExpiresAt))
	return err
}

// GetRegistrationTokenByHash implements [authn.Store].
func (s *Store) GetRegistrationTokenByHash(ctx context.Context, hash []byte) (authn.RegistrationTokenRecord, error) {
	t, err := scanRegToken(s.read.QueryRowContext(ctx, s.q(`SELECT `+regTokenCols+` FROM registration_tokens WHERE token_hash = ?`), hash))
	if err != nil {
		return t, s.err("get registration token by hash", err)
	}
	return t, nil
}

// ListRegistrationTokens implements [authn.Store].
func (s *Store) ListRegistrationTokens(ctx context.Context) ([]authn.RegistrationTokenRecord, error) {
	return list(ctx, s, "list registration tokens", scanRegToken, `SELECT `+regTokenCols+` FROM registration_tokens ORDER BY created_at, id`)
}

// DeleteRegistrationToken implements [authn.Store].
func (s *Store) DeleteRegistrationToken(ctx context.Context, id string) error {
	return s.execOne(ctx, s.write, "delete registration token", `DELETE FROM registration_tokens WHERE id = ?`, id)
}

// RegisterClient implements [authn.Store]: the conditional decrement
// decides which registrations get a use.
func (s *Store) RegisterClient(ctx context.Context, tokenID string, now time.Time, client authn.PrincipalRecord, keys []authn.APIKeyRecord, backup []byte) error {
	const op = "register client"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		if err := s.execOne(ctx, tx, op, `UPDATE registration_tokens SET uses_left = uses_left - 1
			WHERE id = ? AND uses_left > 0 AND expires_at > ?`, tokenID, nanos(now)); err != nil {
			return err
		}
		if err := s.insertPrincipal(ctx, tx, op, client); err != nil {
			return err
		}
		if err := s.insertAPIKeys(ctx, tx, op, keys); err != nil {
			return err
		}
		if backup != nil {
			return s.putBackup(ctx, tx, op, client.ID, backup, now)
		}
		return nil
	})
}

func (s *Store) putBackup(ctx context.Context, e execer, op, principalID string, blob []byte, at time.Time) error {
	_, err := s.exec(ctx, e, op, `INSERT INTO client_backups (principal_id, blob, created_at) VALUES (?, ?, ?)
		ON CONFLICT (principal_id) DO UPDATE SET blob = excluded.blob, created_at = excluded.created_at`,
		principalID, blob, nanos(at))
	return err
}

// PutBackup implements [authn.Store].
func (s *Store) PutBackup(ctx context.Context, principalID string, blob []byte, at time.Time) error {
	return s.putBackup(ctx, s.write, "put backup", principalID, blob, at)
}

// GetBackup implements [authn.Store].
func (s *Store) GetBackup(ctx context.Context, principalID string) (authn.BackupRecord, error) {
	b := authn.BackupRecord{PrincipalID: principalID}
	var created int64
	err := s.read.QueryRowContext(ctx, s.q(`SELECT blob, created_at FROM client_backups WHERE principal_id = ?`), principalID).Scan(&b.Blob, &created)
	if err != nil {
		return b, s.err("get backup", err)
	}
	b.CreatedAt = fromNanos(created)
	return b, nil
}

// Rehash implements [authn.Store].
func (s *Store) Rehash(ctx context.Context, kind authn.TokenKind, id string, oldVersion uint32, hash []byte, version uint32) error {
	defer s.cache.dropAll()
	var table, idCol string
	switch kind {
	case authn.TokenAPIKey:
		table, idCol = "api_keys", "id"
	case authn.TokenSession:
		table, idCol = "sessions", "id"
	case authn.TokenUserSecret:
		table, idCol = "user_secrets", "principal_id"
	case authn.TokenRegistration:
		table, idCol = "registration_tokens", "id"
	default:
		return fmt.Errorf("sqlstore: rehash: %w: token kind %v", authn.ErrInvalidArgument, kind)
	}
	return s.execOne(ctx, s.write, "rehash "+kind.String(),
		`UPDATE `+table+` SET token_hash = ?, pepper_version = ? WHERE `+idCol+` = ? AND pepper_version = ?`,
		hash, version, id, oldVersion)
}

// PurgeExpired implements [authn.Store]. Only rows the lookup cache may
// hold drop it: expired failure counts and token-use records, which go on
// every run under load, leave it warm.
func (s *Store) PurgeExpired(ctx context.Context, now, idleBefore time.Time) (total int64, err error) {
	var cached int64
	defer func() {
		if cached > 0 {
			s.cache.dropAll()
		}
	}()
	const op = "purge expired"
	err = s.inTx(ctx, op, func(tx *sql.Tx) error {
		for _, q := range []struct {
			query  string
			args   []any
			cached bool
		}{
			{`DELETE FROM sessions WHERE expires_at <= ? OR last_used_at <= ?`, []any{nanos(now), nanos(idleBefore)}, true},
			{`DELETE FROM api_keys WHERE expires_at IS NOT NULL AND expires_at <= ?`, []any{nanos(now)}, true},
			{`DELETE FROM pins WHERE expires_at <= ?`, []any{nanos(now)}, true},
			{`DELETE FROM registration_tokens WHERE expires_at <= ? OR uses_left <= 0`, []any{nanos(now)}, true},
			{`DELETE FROM auth_failures WHERE blocked_until <= ? AND updated_at <= ?`, []any{nanos(now), nanos(now.Add(-failureRetention))}, false},
			{`DELETE FROM token_uses WHERE expires_at <= ?`, []any{nanos(now)}, false},
		} {
			n, err := s.exec(ctx, tx, op, q.query, q.args...)
			if err != nil {
				return err
			}
			total += n
			if q.cached {
				cached += n
			}
		}
		return nil
	})
	return total, err
}
