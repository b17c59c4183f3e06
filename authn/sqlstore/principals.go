package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cryptoplug/cryptoplug/authn"
)

const principalCols = `id, kind, name, email, roles, password_hash, method, cert_sha256, public_keys, epoch, created_at`

type scanner interface{ Scan(dest ...any) error }

func scanPrincipal(r scanner) (authn.PrincipalRecord, error) {
	var p authn.PrincipalRecord
	var email, pwh sql.NullString
	var keys []byte
	var created int64
	if err := r.Scan(&p.ID, &p.Kind, &p.Name, &email, &p.Roles, &pwh, &p.Method, &p.CertSHA256, &keys, &p.Epoch, &created); err != nil {
		return p, err
	}
	p.Email, p.PasswordHash, p.CreatedAt = email.String, pwh.String, fromNanos(created)
	var err error
	if p.PublicKeys, err = decodeKeys(keys); err != nil {
		return p, err
	}
	return p, nil
}

// encodeKeys packs public keys as length-prefixed (uvarint) DER.
func encodeKeys(keys [][]byte) []byte {
	var out []byte
	for _, k := range keys {
		out = binary.AppendUvarint(out, uint64(len(k)))
		out = append(out, k...)
	}
	return out
}

func decodeKeys(b []byte) ([][]byte, error) {
	var out [][]byte
	for len(b) > 0 {
		n, m := binary.Uvarint(b)
		if m <= 0 || uint64(len(b)-m) < n {
			return nil, errors.New("corrupt public_keys column")
		}
		out = append(out, b[m:m+int(n)])
		b = b[m+int(n):]
	}
	return out, nil
}

// insertPrincipal inserts p and its memberships of p.Groups.
func (s *Store) insertPrincipal(ctx context.Context, e execer, op string, p authn.PrincipalRecord) error {
	_, err := s.exec(ctx, e, op, `INSERT INTO principals (`+principalCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`,
		p.ID, p.Kind, p.Name, optString(p.Email), p.Roles, optString(p.PasswordHash), p.Method,
		optBytes(p.CertSHA256), optBytes(encodeKeys(p.PublicKeys)), nanos(p.CreatedAt))
	if err != nil {
		return err
	}
	for _, g := range p.Groups {
		if _, err := s.exec(ctx, e, op, `INSERT INTO group_members (principal_id, group_id, roles) VALUES (?, ?, ?)`, p.ID, g, p.Roles); err != nil {
			return err
		}
	}
	return nil
}

// CreatePrincipal implements [authn.Store].
func (s *Store) CreatePrincipal(ctx context.Context, p authn.PrincipalRecord, keys []authn.APIKeyRecord) error {
	const op = "create principal"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		if err := s.insertPrincipal(ctx, tx, op, p); err != nil {
			return err
		}
		return s.insertAPIKeys(ctx, tx, op, keys)
	})
}

func (s *Store) getPrincipal(ctx context.Context, op, where string, arg any) (authn.PrincipalRecord, error) {
	p, err := scanPrincipal(s.read.QueryRowContext(ctx, s.q(`SELECT `+principalCols+` FROM principals WHERE `+where), arg))
	if err != nil {
		return p, s.err(op, err)
	}
	return p, nil
}

// GetPrincipal implements [authn.Store].
func (s *Store) GetPrincipal(ctx context.Context, id string) (authn.PrincipalRecord, error) {
	return s.getPrincipal(ctx, "get principal", `id = ?`, id)
}

// GetUserByEmail implements [authn.Store].
func (s *Store) GetUserByEmail(ctx context.Context, email string) (authn.PrincipalRecord, error) {
	return s.getPrincipal(ctx, "get user by e-mail", `email = ?`, email)
}

// GetPrincipalByCertificate implements [authn.Store].
func (s *Store) GetPrincipalByCertificate(ctx context.Context, certSHA256 []byte) (authn.PrincipalRecord, error) {
	if len(certSHA256) == 0 {
		return authn.PrincipalRecord{}, fmt.Errorf("sqlstore: get principal by certificate: %w", authn.ErrNotFound)
	}
	return s.getPrincipal(ctx, "get principal by certificate", `cert_sha256 = ?`, certSHA256)
}

// ListPrincipals implements [authn.Store].
func (s *Store) ListPrincipals(ctx context.Context) ([]authn.PrincipalRecord, error) {
	return list(ctx, s, "list principals", scanPrincipal, `SELECT `+principalCols+` FROM principals ORDER BY created_at, id`)
}

// DeletePrincipal implements [authn.Store]. Foreign keys cascade to
// everything the principal owns.
func (s *Store) DeletePrincipal(ctx context.Context, id string) error {
	defer s.cache.dropAll()
	return s.execOne(ctx, s.write, "delete principal", `DELETE FROM principals WHERE id = ?`, id)
}

// ResetCredentials implements [authn.Store].
func (s *Store) ResetCredentials(ctx context.Context, p authn.PrincipalRecord, keys []authn.APIKeyRecord) error {
	defer s.cache.dropAll()
	const op = "reset credentials"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		// Updating the row first takes its lock, which session creation
		// waits for (lockPrincipal), so no session can slip in unseen.
		if err := s.execOne(ctx, tx, op, `UPDATE principals SET method = ?, cert_sha256 = ?, password_hash = ?, epoch = epoch + 1 WHERE id = ?`,
			p.Method, optBytes(p.CertSHA256), optString(p.PasswordHash), p.ID); err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, op, `DELETE FROM api_keys WHERE principal_id = ?`, p.ID); err != nil {
			return err
		}
		for _, table := range []string{"sessions", "user_secrets", "pins"} {
			if _, err := s.exec(ctx, tx, op, `DELETE FROM `+table+` WHERE principal_id = ?`, p.ID); err != nil {
				return err
			}
		}
		return s.insertAPIKeys(ctx, tx, op, keys)
	})
}

// lockPrincipal checks, inside tx, that the principal exists with this
// credential epoch, and on PostgreSQL holds a shared lock on its row until
// the transaction ends, so a concurrent ResetCredentials either happens
// wholly before (and the epoch differs) or waits until after (and sees
// what tx inserted).
func (s *Store) lockPrincipal(ctx context.Context, tx *sql.Tx, op, id string, epoch int64) error {
	var got int64
	err := tx.QueryRowContext(ctx, s.q(`SELECT epoch FROM principals WHERE id = ?`+s.d.lockShared), id).Scan(&got)
	if err != nil {
		return s.err(op, err)
	}
	if got != epoch {
		return fmt.Errorf("sqlstore: %s: credentials of %q were reset: %w", op, id, authn.ErrNotFound)
	}
	return nil
}

// list runs a query on the read pool and scans every row.
func list[T any](ctx context.Context, s *Store, op string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := s.read.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, s.err(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, s.err(op, err)
	}
	return out, nil
}
