package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
)

// How an approval task is kept atomic. PostgreSQL runs at READ COMMITTED,
// so each statement that decides a race either is one conditional UPDATE
// (a claim, a cancel, a finish: of concurrent ones exactly one matches the
// row) or runs after a row lock that makes the racers queue: a decision
// locks the task's row FOR UPDATE and then sees every decision committed
// before it; a new task locks the key state's row FOR SHARE, so that a
// concurrent state change (which cancels the key's open tasks) waits for
// it, and its requester's row FOR UPDATE, so that the count of open tasks
// is exact. SQLite serialises every write transaction on its one writer
// connection (BEGIN IMMEDIATE), which gives the same guarantees.

const taskCols = `id, operation, class, key_id, key_label, key_algorithm, key_version, requester, requester_role,
	created_at, expires_at, collect_by, params, body, rules, status, ended_at`

func scanTask(r scanner, extra ...any) (authn.ApprovalTask, error) {
	var t authn.ApprovalTask
	var created, expires int64
	var collect, ended sql.NullInt64
	var params, rules string
	dest := []any{&t.ID, &t.Operation, &t.Class, &t.KeyID, &t.KeyLabel, &t.KeyAlg, &t.KeyVersion, &t.Requester, &t.RequesterRole,
		&created, &expires, &collect, &params, &t.Body, &rules, &t.Status, &ended}
	if err := r.Scan(append(dest, extra...)...); err != nil {
		return t, err
	}
	t.CreatedAt, t.ExpiresAt, t.CollectBy, t.EndedAt = fromNanos(created), fromNanos(expires), fromOptNanos(collect), fromOptNanos(ended)
	if err := json.Unmarshal([]byte(params), &t.Params); err != nil {
		return t, fmt.Errorf("corrupt params column: %w", err)
	}
	if err := json.Unmarshal([]byte(rules), &t.Rules); err != nil {
		return t, fmt.Errorf("corrupt rules column: %w", err)
	}
	return t, nil
}

func scanDecision(r scanner) (authn.ApprovalDecision, error) {
	var d authn.ApprovalDecision
	var approve int
	var at int64
	if err := r.Scan(&d.Approver, &approve, &d.Signature, &at); err != nil {
		return d, err
	}
	d.Approve, d.At = approve != 0, fromNanos(at)
	return d, nil
}

// queryer is what both *sql.DB and *sql.Tx offer for reading rows.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) decisions(ctx context.Context, q queryer, op, taskID string) ([]authn.ApprovalDecision, error) {
	rows, err := q.QueryContext(ctx, s.q(`SELECT principal_id, approve, signature, decided_at FROM approval_decisions
		WHERE task_id = ? ORDER BY decided_at, principal_id`), taskID)
	if err != nil {
		return nil, s.err(op, err)
	}
	defer rows.Close()
	var out []authn.ApprovalDecision
	for rows.Next() {
		d, err := scanDecision(rows)
		if err != nil {
			return nil, s.err(op, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, s.err(op, err)
	}
	return out, nil
}

// CreateApprovalTask implements [authn.ApprovalStore].
func (s *Store) CreateApprovalTask(ctx context.Context, t authn.ApprovalTask, maxOpen int) error {
	const op = "create approval task"
	params, err := json.Marshal(t.Params)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	rules, err := json.Marshal(t.Rules)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	return s.inTx(ctx, op, func(tx *sql.Tx) error {
		var v int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT version FROM key_states WHERE key_id = ?`+s.d.lockShared), t.KeyID).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) || err == nil && v != t.KeyVersion {
			return fmt.Errorf("sqlstore: %s: the key's state changed meanwhile: %w", op, authn.ErrNotFound)
		}
		if err != nil {
			return s.err(op, err)
		}
		var one int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM principals WHERE id = ?`+s.forUpdate()), t.Requester).Scan(&one); err != nil {
			return s.err(op, err)
		}
		var open int
		at := nanos(t.CreatedAt)
		if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM approval_tasks WHERE requester = ?
			AND (status = ? AND expires_at > ? OR status = ? AND collect_by > ?)`),
			t.Requester, authn.TaskPending, at, authn.TaskApproved, at).Scan(&open); err != nil {
			return s.err(op, err)
		}
		if open >= maxOpen {
			return fmt.Errorf("sqlstore: %s: %d open: %w", op, open, authn.ErrTooManyTasks)
		}
		if _, err := s.exec(ctx, tx, op, `INSERT INTO approval_tasks (`+taskCols+`, request)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, t.Operation, t.Class, t.KeyID, t.KeyLabel, t.KeyAlg, t.KeyVersion, t.Requester, t.RequesterRole,
			at, nanos(t.ExpiresAt), optNanos(t.CollectBy), string(params), t.Body, string(rules), authn.TaskPending, optNanos(t.EndedAt),
			optBytes(t.Request)); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, r := range t.Rules {
			for _, a := range r.Approvers {
				if seen[a] {
					continue
				}
				seen[a] = true
				if _, err := s.exec(ctx, tx, op, `INSERT INTO approval_task_approvers (principal_id, task_id) VALUES (?, ?)`, a, t.ID); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// GetApprovalTask implements [authn.ApprovalStore].
func (s *Store) GetApprovalTask(ctx context.Context, id string) (authn.ApprovalTask, error) {
	const op = "get approval task"
	t, err := scanTask(s.read.QueryRowContext(ctx, s.q(`SELECT `+taskCols+` FROM approval_tasks WHERE id = ?`), id))
	if err != nil {
		return t, s.err(op, err)
	}
	if t.Decisions, err = s.decisions(ctx, s.read, op, id); err != nil {
		return t, err
	}
	return t, nil
}

// ListApprovalTasks implements [authn.ApprovalStore]: one indexed walk of
// the approver's rows in approval_task_approvers.
func (s *Store) ListApprovalTasks(ctx context.Context, approverID string, now time.Time, limit int) ([]authn.ApprovalTask, error) {
	return list(ctx, s, "list approval tasks", func(r scanner) (authn.ApprovalTask, error) { return scanTask(r) },
		`SELECT `+prefixed("t.", taskCols)+` FROM approval_task_approvers a JOIN approval_tasks t ON t.id = a.task_id
		WHERE a.principal_id = ? AND t.status = ? AND t.expires_at > ? AND t.requester <> ?
		AND NOT EXISTS (SELECT 1 FROM approval_decisions d WHERE d.task_id = t.id AND d.principal_id = ?)
		ORDER BY t.created_at, t.id LIMIT ?`,
		approverID, authn.TaskPending, nanos(now), approverID, approverID, limit)
}

// prefixed qualifies each column of a comma-separated list.
func prefixed(p, cols string) string {
	var b bytes.Buffer
	b.WriteString(p)
	for i := 0; i < len(cols); i++ {
		b.WriteByte(cols[i])
		if cols[i] == ',' {
			for i+1 < len(cols) && (cols[i+1] == ' ' || cols[i+1] == '\n' || cols[i+1] == '\t') {
				i++
				b.WriteByte(cols[i])
			}
			b.WriteString(p)
		}
	}
	return b.String()
}

// AddApprovalDecision implements [authn.ApprovalStore]: every check and
// the quorum run under the task's row lock.
func (s *Store) AddApprovalDecision(ctx context.Context, id string, d authn.ApprovalDecision, approverKey []byte, now, collectBy time.Time) (authn.ApprovalTask, error) {
	const op = "add approval decision"
	var out authn.ApprovalTask
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		t, err := scanTask(tx.QueryRowContext(ctx, s.q(`SELECT `+taskCols+` FROM approval_tasks WHERE id = ?`+s.forUpdate()), id))
		if err != nil {
			return s.err(op, err)
		}
		switch st := t.State(now); {
		case !t.Names(d.Approver):
			return fmt.Errorf("sqlstore: %s: the task's rules do not name the approver: %w", op, authn.ErrNotFound)
		case t.Requester == d.Approver:
			return fmt.Errorf("sqlstore: %s: the requester cannot decide its own task: %w", op, authn.ErrForbidden)
		case st != authn.TaskPending:
			return &authn.TaskClosedError{TaskID: id, Status: st}
		}
		var key []byte
		err = tx.QueryRowContext(ctx, s.q(`SELECT public_key FROM approvers WHERE principal_id = ?`+s.d.lockShared), d.Approver).Scan(&key)
		if errors.Is(err, sql.ErrNoRows) || err == nil && !bytes.Equal(key, approverKey) {
			return fmt.Errorf("sqlstore: %s: the approver's key is no longer the one that signed: %w", op, authn.ErrForbidden)
		}
		if err != nil {
			return s.err(op, err)
		}
		if _, err := s.exec(ctx, tx, op, `INSERT INTO approval_decisions (task_id, principal_id, approve, signature, decided_at) VALUES (?, ?, ?, ?, ?)`,
			id, d.Approver, boolInt(d.Approve), d.Signature, nanos(d.At)); err != nil {
			return err
		}
		if t.Decisions, err = s.decisions(ctx, tx, op, id); err != nil {
			return err
		}
		var approvedBy []string
		for _, x := range t.Decisions {
			if x.Approve {
				approvedBy = append(approvedBy, x.Approver)
			}
		}
		switch {
		case !d.Approve:
			t.Status, t.EndedAt = authn.TaskRejected, now
			_, err = s.exec(ctx, tx, op, `UPDATE approval_tasks SET status = ?, ended_at = ?, request = NULL WHERE id = ?`, t.Status, nanos(now), id)
		case authn.QuorumMet(t.Rules, approvedBy):
			t.Status, t.CollectBy = authn.TaskApproved, collectBy
			_, err = s.exec(ctx, tx, op, `UPDATE approval_tasks SET status = ?, collect_by = ? WHERE id = ?`, t.Status, nanos(collectBy), id)
		}
		out = t
		return err
	})
	return out, err
}

// CancelApprovalTask implements [authn.ApprovalStore] with one conditional
// UPDATE.
func (s *Store) CancelApprovalTask(ctx context.Context, id, requester string, now time.Time) error {
	at := nanos(now)
	return s.execOne(ctx, s.write, "cancel approval task", `UPDATE approval_tasks SET status = ?, ended_at = ?, request = NULL
		WHERE id = ? AND requester = ? AND (status = ? AND expires_at > ? OR status = ? AND collect_by > ?)`,
		authn.TaskCancelled, at, id, requester, authn.TaskPending, at, authn.TaskApproved, at)
}

// ClaimApprovalTask implements [authn.ApprovalStore]: the conditional
// UPDATE decides the race; the read that follows is in the same
// transaction.
func (s *Store) ClaimApprovalTask(ctx context.Context, id, requester string, now time.Time) (authn.ApprovalTask, error) {
	const op = "claim approval task"
	var out authn.ApprovalTask
	err := s.inTx(ctx, op, func(tx *sql.Tx) error {
		if err := s.execOne(ctx, tx, op, `UPDATE approval_tasks SET status = ?
			WHERE id = ? AND requester = ? AND status = ? AND collect_by > ?`,
			authn.TaskExecuting, id, requester, authn.TaskApproved, nanos(now)); err != nil {
			return err
		}
		t, err := scanTask(tx.QueryRowContext(ctx, s.q(`SELECT `+taskCols+`, request FROM approval_tasks WHERE id = ?`), id), &out.Request)
		if err != nil {
			return s.err(op, err)
		}
		t.Request = out.Request
		if t.Decisions, err = s.decisions(ctx, tx, op, id); err != nil {
			return err
		}
		out = t
		return nil
	})
	return out, err
}

// FinishApprovalTask implements [authn.ApprovalStore].
func (s *Store) FinishApprovalTask(ctx context.Context, id string, status authn.TaskStatus, now time.Time) error {
	if status != authn.TaskDone && status != authn.TaskFailed {
		return fmt.Errorf("sqlstore: finish approval task: %w: status %v", authn.ErrInvalidArgument, status)
	}
	return s.execOne(ctx, s.write, "finish approval task", `UPDATE approval_tasks SET status = ?, ended_at = ?, request = NULL
		WHERE id = ? AND status = ?`, status, nanos(now), id, authn.TaskExecuting)
}

// PurgeApprovalTasks implements [authn.ApprovalStore]; decisions and the
// approver index go with their task (ON DELETE CASCADE).
func (s *Store) PurgeApprovalTasks(ctx context.Context, before time.Time) (int64, error) {
	b := nanos(before)
	return s.exec(ctx, s.write, "purge approval tasks", `DELETE FROM approval_tasks
		WHERE ended_at IS NOT NULL AND ended_at < ?
		OR status = ? AND expires_at < ?
		OR status IN (?, ?) AND collect_by < ?`,
		b, authn.TaskPending, b, authn.TaskApproved, authn.TaskExecuting, b)
}
