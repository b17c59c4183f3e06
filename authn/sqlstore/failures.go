package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
)

var _ authn.FailureCounter = (*Store)(nil)

// AddFailure implements [authn.FailureCounter] in one statement: the upsert
// decays the score and adds the failure atomically, so that concurrent
// failures from several processes all count.
func (s *Store) AddFailure(ctx context.Context, table, key string, now time.Time, halfLife time.Duration) (float64, time.Time, error) {
	if halfLife <= 0 {
		return 0, time.Time{}, authn.ErrInvalidArgument
	}
	var (
		score float64
		until int64
	)
	err := s.write.QueryRowContext(ctx, s.q(`INSERT INTO auth_failures (tbl, subject, score, updated_at, blocked_until) VALUES (?, ?, 1, ?, 0)
		ON CONFLICT (tbl, subject) DO UPDATE SET
			score = auth_failures.score * power(2, -CAST(CASE WHEN excluded.updated_at > auth_failures.updated_at
				THEN excluded.updated_at - auth_failures.updated_at ELSE 0 END AS DOUBLE PRECISION) / ?) + 1,
			updated_at = CASE WHEN excluded.updated_at > auth_failures.updated_at THEN excluded.updated_at ELSE auth_failures.updated_at END
		RETURNING score, blocked_until`), table, key, nanos(now), float64(halfLife)).Scan(&score, &until)
	if err != nil {
		return 0, time.Time{}, s.err("add failure", err)
	}
	return score, optUnix(until), nil
}

// BlockFailures implements [authn.FailureCounter].
func (s *Store) BlockFailures(ctx context.Context, table, key string, until time.Time) error {
	_, err := s.exec(ctx, s.write, "block failures", `UPDATE auth_failures SET blocked_until = ? WHERE tbl = ? AND subject = ? AND blocked_until < ?`,
		nanos(until), table, key, nanos(until))
	return err
}

// FailureBlock implements [authn.FailureCounter].
func (s *Store) FailureBlock(ctx context.Context, table, key string) (time.Time, error) {
	var until int64
	err := s.read.QueryRowContext(ctx, s.q(`SELECT blocked_until FROM auth_failures WHERE tbl = ? AND subject = ?`), table, key).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, s.err("failure block", err)
	}
	return optUnix(until), nil
}

// ResetFailures implements [authn.FailureCounter].
func (s *Store) ResetFailures(ctx context.Context, table, key string) error {
	_, err := s.exec(ctx, s.write, "reset failures", `DELETE FROM auth_failures WHERE tbl = ? AND subject = ?`, table, key)
	return err
}

// failureRetention is how long a count that blocks nothing is kept after
// its last failure: by then any half-life a limiter uses has decayed it to
// nothing.
const failureRetention = 24 * time.Hour

// optUnix reads a time stored as Unix nanoseconds where 0 means none.
func optUnix(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}
