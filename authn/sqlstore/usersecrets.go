package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
)

const pinCols = `id, principal_id, pin_hash, issued_by, created_at, expires_at, attempts`

func scanPIN(r scanner) (authn.PINRecord, error) {
	var p authn.PINRecord
	var created, expires int64
	if err := r.Scan(&p.ID, &p.PrincipalID, &p.Hash, &p.IssuedBy, &created, &expires, &p.Attempts); err != nil {
		return p, err
	}
	p.CreatedAt, p.ExpiresAt = fromNanos(created), fromNanos(expires)
	return p, nil
}

// PutPIN implements [authn.Store].
func (s *Store) PutPIN(ctx context.Context, p authn.PINRecord) error {
	_, err := s.exec(ctx, s.write, "put PIN", `INSERT INTO pins (`+pinCols+`) VALUES (?, ?, ?, ?, ?, ?, 0)
		ON CONFLICT (principal_id) DO UPDATE SET id = excluded.id, pin_hash = excluded.pin_hash, issued_by = excluded.issued_by,
			created_at = excluded.created_at, expires_at = excluded.expires_at, attempts = 0`,
		p.ID, p.PrincipalID, p.Hash, p.IssuedBy, nanos(p.CreatedAt), nanos(p.ExpiresAt))
	return err
}

// ReservePINAttempt implements [authn.Store] with one conditional UPDATE,
// which both databases apply atomically per row.
func (s *Store) ReservePINAttempt(ctx context.Context, principalID string, now time.Time, maxAttempts int) (authn.PINRecord, error) {
	p, err := scanPIN(s.write.QueryRowContext(ctx, s.q(`UPDATE pins SET attempts = attempts + 1
		WHERE principal_id = ? AND expires_at > ? AND attempts < ? RETURNING `+pinCols), principalID, nanos(now), maxAttempts))
	if err != nil {
		return p, s.err("reserve PIN attempt", err)
	}
	return p, nil
}

// ConsumePIN implements [authn.Store]: the DELETE decides the winner.
func (s *Store) ConsumePIN(ctx context.Context, pinID string, now time.Time, secret authn.UserSecretRecord) error {
	const op = "consume PIN"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		if err := s.execOne(ctx, tx, op, `DELETE FROM pins WHERE id = ? AND principal_id = ? AND expires_at > ?`,
			pinID, secret.PrincipalID, nanos(now)); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, op, `INSERT INTO user_secrets (`+userSecretCols+`) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (principal_id) DO UPDATE SET token_hash = excluded.token_hash, pepper_version = excluded.pepper_version,
				fingerprint = excluded.fingerprint, created_at = excluded.created_at, valid_until = excluded.valid_until`,
			secret.PrincipalID, secret.Hash, secret.PepperVersion, secret.Fingerprint, nanos(secret.CreatedAt), optNanos(secret.ValidUntil))
		return err
	})
}

const userSecretCols = `principal_id, token_hash, pepper_version, fingerprint, created_at, valid_until`

func scanUserSecret(r scanner, owner bool) (authn.UserSecretRecord, error) {
	var u authn.UserSecretRecord
	var created int64
	var valid sql.NullInt64
	dest := []any{&u.PrincipalID, &u.Hash, &u.PepperVersion, &u.Fingerprint, &created, &valid}
	if owner {
		dest = append(dest, &u.PrincipalRoles)
	}
	if err := r.Scan(dest...); err != nil {
		return u, err
	}
	u.CreatedAt, u.ValidUntil = fromNanos(created), fromOptNanos(valid)
	return u, nil
}

// GetUserSecret implements [authn.Store].
func (s *Store) GetUserSecret(ctx context.Context, principalID string) (authn.UserSecretRecord, error) {
	u, err := scanUserSecret(s.read.QueryRowContext(ctx, s.q(`SELECT `+userSecretCols+` FROM user_secrets WHERE principal_id = ?`), principalID), false)
	if err != nil {
		return u, s.err("get user secret", err)
	}
	return u, nil
}

// GetUserSecretByHash implements [authn.Store].
func (s *Store) GetUserSecretByHash(ctx context.Context, hash []byte) (authn.UserSecretRecord, error) {
	u, err := scanUserSecret(s.read.QueryRowContext(ctx, s.q(`SELECT u.principal_id, u.token_hash, u.pepper_version, u.fingerprint,
		u.created_at, u.valid_until, p.roles FROM user_secrets u JOIN principals p ON p.id = u.principal_id WHERE u.token_hash = ?`), hash), true)
	if err != nil {
		return u, s.err("get user secret by hash", err)
	}
	return u, nil
}

// SetUserSecretValidity implements [authn.Store].
func (s *Store) SetUserSecretValidity(ctx context.Context, principalID string, validUntil time.Time) error {
	return s.execOne(ctx, s.write, "set user secret validity", `UPDATE user_secrets SET valid_until = ? WHERE principal_id = ?`,
		optNanos(validUntil), principalID)
}

// DeleteUserSecret implements [authn.Store].
func (s *Store) DeleteUserSecret(ctx context.Context, principalID string) error {
	return s.execOne(ctx, s.write, "delete user secret", `DELETE FROM user_secrets WHERE principal_id = ?`, principalID)
}
