package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
)

// boolInt stores a flag as 0 or 1, which both databases keep in INTEGER.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// forUpdate is appended to a SELECT that must hold an exclusive row lock
// until the transaction ends; SQLite needs none (writers are serialised).
func (s *Store) forUpdate() string {
	if s.d.name == "postgres" {
		return " FOR UPDATE"
	}
	return ""
}

const approverCols = `principal_id, public_key, algorithm, created_by, created_at`

func scanApprover(r scanner) (authn.ApproverRecord, error) {
	var a authn.ApproverRecord
	var created int64
	if err := r.Scan(&a.PrincipalID, &a.PublicKey, &a.Algorithm, &a.CreatedBy, &created); err != nil {
		return a, err
	}
	a.CreatedAt = fromNanos(created)
	return a, nil
}

// CreateApprover implements [authn.ApprovalStore].
func (s *Store) CreateApprover(ctx context.Context, a authn.ApproverRecord) error {
	_, err := s.exec(ctx, s.write, "create approver", `INSERT INTO approvers (`+approverCols+`) VALUES (?, ?, ?, ?, ?)`,
		a.PrincipalID, a.PublicKey, a.Algorithm, a.CreatedBy, nanos(a.CreatedAt))
	return err
}

// GetApprover implements [authn.ApprovalStore].
func (s *Store) GetApprover(ctx context.Context, principalID string) (authn.ApproverRecord, error) {
	a, err := scanApprover(s.read.QueryRowContext(ctx, s.q(`SELECT `+approverCols+` FROM approvers WHERE principal_id = ?`), principalID))
	if err != nil {
		return a, s.err("get approver", err)
	}
	return a, nil
}

// ListApprovers implements [authn.ApprovalStore].
func (s *Store) ListApprovers(ctx context.Context) ([]authn.ApproverRecord, error) {
	return list(ctx, s, "list approvers", scanApprover, `SELECT `+approverCols+` FROM approvers ORDER BY principal_id`)
}

// DeleteApprover implements [authn.ApprovalStore]. The approver's row is
// locked before the policies are counted, and SetKeyState holds a shared
// lock on every approver it names until it commits: whichever comes second
// sees the other's work.
func (s *Store) DeleteApprover(ctx context.Context, principalID string) error {
	const op = "delete approver"
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM approvers WHERE principal_id = ?`+s.forUpdate()), principalID).Scan(&one); err != nil {
			return s.err(op, err)
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM key_state_approvers WHERE principal_id = ?`), principalID).Scan(&n); err != nil {
			return s.err(op, err)
		}
		if n > 0 {
			return fmt.Errorf("sqlstore: %s: %d key policies name it: %w", op, n, authn.ErrInUse)
		}
		_, err := s.exec(ctx, tx, op, `DELETE FROM approvers WHERE principal_id = ?`, principalID)
		return err
	})
}

// keyStateQuery reads a key's state; prepared once in [Store.prepare].
const keyStateQuery = `SELECT policy, blocked, version FROM key_states WHERE key_id = ?`

// errNoKeyState is GetKeyState's answer for a key without state, made
// once: it is the common answer, on every key use's path.
var errNoKeyState = fmt.Errorf("sqlstore: get key state: %w", authn.ErrNotFound)

// GetKeyState implements [authn.ApprovalStore] with a prepared statement,
// served from the lookup cache while it is fresh (a key without state
// too): a change made through another process may take up to the cache's
// bound to show; one made through this Store shows at once. The returned
// policy's slices may be shared with the cache: read them, never write.
func (s *Store) GetKeyState(ctx context.Context, keyID string) (authn.KeyStateRecord, error) {
	var e keyStateEntry
	var err error
	if s.cache == nil {
		e, err = s.keyStateQuery(ctx, keyID)
	} else {
		var buf [160]byte
		key := append(buf[:0], keyID...)
		var ok bool
		if e, ok = cached(s.cache, &s.cache.states, key); !ok {
			e, err = fill(s.cache, &s.cache.states, key, func() (keyStateEntry, error) { return s.keyStateQuery(ctx, keyID) }, nil)
		}
	}
	switch {
	case err != nil:
		return authn.KeyStateRecord{KeyID: keyID}, err
	case !e.found:
		return authn.KeyStateRecord{KeyID: keyID}, errNoKeyState
	}
	return e.rec, nil
}

func (s *Store) keyStateQuery(ctx context.Context, keyID string) (keyStateEntry, error) {
	const op = "get key state"
	st := authn.KeyStateRecord{KeyID: keyID}
	var policy string
	var blocked int
	err := s.keyState.QueryRowContext(ctx, keyID).Scan(&policy, &blocked, &st.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return keyStateEntry{rec: st}, nil
	}
	if err != nil {
		return keyStateEntry{}, s.err(op, err)
	}
	st.Blocked = blocked != 0
	if err := json.Unmarshal([]byte(policy), &st.Policy); err != nil {
		return keyStateEntry{}, fmt.Errorf("sqlstore: %s: corrupt policy column: %w", op, err)
	}
	return keyStateEntry{rec: st, found: true}, nil
}

// cancelOpenTasks ends the key's pending and approved tasks: its state
// changed, and what was approved under the old one does not carry over.
func (s *Store) cancelOpenTasks(ctx context.Context, tx *sql.Tx, op, keyID string, now time.Time) error {
	_, err := s.exec(ctx, tx, op, `UPDATE approval_tasks SET status = ?, ended_at = ?, request = NULL
		WHERE key_id = ? AND status IN (?, ?)`, authn.TaskCancelled, nanos(now), keyID, authn.TaskPending, authn.TaskApproved)
	return err
}

// SetKeyState implements [authn.ApprovalStore]. In PostgreSQL the state's
// row is locked for update and each named approver's for share; two first
// states racing for a key without a row collide on its primary key.
func (s *Store) SetKeyState(ctx context.Context, from int64, next authn.KeyStateRecord, now time.Time) error {
	const op = "set key state"
	defer s.cache.dropAll()
	policy, err := json.Marshal(next.Policy)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		var v int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT version FROM key_states WHERE key_id = ?`+s.forUpdate()), next.KeyID).Scan(&v)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return s.err(op, err)
		}
		if v != from {
			return fmt.Errorf("sqlstore: %s: the state changed meanwhile: %w", op, authn.ErrNotFound)
		}
		approvers := next.Policy.Approvers()
		for _, id := range approvers {
			var one int
			err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM approvers WHERE principal_id = ?`+s.d.lockShared), id).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("sqlstore: %s: %w: the policy names %s, not a registered approver", op, authn.ErrInvalidArgument, id)
			}
			if err != nil {
				return s.err(op, err)
			}
		}
		if exists {
			_, err = s.exec(ctx, tx, op, `UPDATE key_states SET policy = ?, blocked = ?, version = ? WHERE key_id = ?`,
				string(policy), boolInt(next.Blocked), next.Version, next.KeyID)
		} else {
			_, err = tx.ExecContext(ctx, s.q(`INSERT INTO key_states (key_id, policy, blocked, version) VALUES (?, ?, ?, ?)`),
				next.KeyID, string(policy), boolInt(next.Blocked), next.Version)
			if isUniqueViolation(err) {
				return fmt.Errorf("sqlstore: %s: the state changed meanwhile: %w", op, authn.ErrNotFound)
			}
			if err != nil {
				err = s.err(op, err)
			}
		}
		if err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, op, `DELETE FROM key_state_approvers WHERE key_id = ?`, next.KeyID); err != nil {
			return err
		}
		for _, id := range approvers {
			if _, err := s.exec(ctx, tx, op, `INSERT INTO key_state_approvers (key_id, principal_id) VALUES (?, ?)`, next.KeyID, id); err != nil {
				return err
			}
		}
		return s.cancelOpenTasks(ctx, tx, op, next.KeyID, now)
	})
}

// DeleteKeyState implements [authn.ApprovalStore].
func (s *Store) DeleteKeyState(ctx context.Context, keyID string, now time.Time) error {
	const op = "delete key state"
	defer s.cache.dropAll()
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, op, `DELETE FROM key_states WHERE key_id = ?`, keyID); err != nil {
			return err
		}
		return s.cancelOpenTasks(ctx, tx, op, keyID, now)
	})
}
