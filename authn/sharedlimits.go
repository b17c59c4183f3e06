package authn

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"
)

// FailureCounter keeps failure counts in the Store, so that every
// [Service] on the same database counts together ([RateLimitConfig.Shared]).
// A count is named by a table ("guess-address", "guess-account", "token",
// "token-address") and a key, which the Service hashes first: no address,
// typed e-mail or token reaches the database. Methods are safe for
// concurrent use, also by several processes.
type FailureCounter interface {
	// AddFailure atomically decays the count to now — its score halves
	// every halfLife since it last changed — adds one failure, and returns
	// the new score and the end of the block in force before this failure
	// (zero if none). A count that does not exist starts at zero.
	AddFailure(ctx context.Context, table, key string, now time.Time, halfLife time.Duration) (score float64, blockedUntil time.Time, err error)
	// BlockFailures extends the count's block to until; it never shortens
	// one.
	BlockFailures(ctx context.Context, table, key string, until time.Time) error
	// FailureBlock returns the end of the count's block, zero if none.
	FailureBlock(ctx context.Context, table, key string) (time.Time, error)
	// ResetFailures forgets the count.
	ResetFailures(ctx context.Context, table, key string) error
}

// The shared tables; see limits for what each answers.
const (
	tableGuessAddr    = "guess-address"
	tableGuessAccount = "guess-account"
	tableToken        = "token"
	tableTokenAddr    = "token-address"
)

// sharedCounts keeps the limits' counts in the Store, beside the in-memory
// tables, which stay: they answer at once, and they go on blocking what
// this Service has seen when the database does not answer.
//
// What reads the database and what does not:
//   - passwords and PINs (guessThrottle) read the address's and the
//     account's blocks before the secret is checked — one query beside an
//     argon2id computation — and every failure writes them;
//   - tokens: the per-token check is on every request's path, so it reads
//     only the in-memory table, which learns the shared block of a token
//     the first time the token fails here (the database's count includes
//     the failures elsewhere). A valid token never fails, so it costs
//     nothing more. Token failures are written to the database, except
//     while this Service already blocks the address: an address spraying
//     made-up tokens then costs no writes.
//
// A database error is logged and counts nothing: the in-memory tables go on.
type sharedCounts struct {
	store FailureCounter
	cfg   RateLimitConfig
	log   *slog.Logger
}

// sharedKey names a count in the database: the SHA-256 of the in-memory
// key, so that no address, typed e-mail or token is stored.
func sharedKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

// wait returns how long the count is still blocked at now.
func (c *sharedCounts) wait(ctx context.Context, table, key string, now time.Time) time.Duration {
	until, err := c.store.FailureBlock(ctx, table, sharedKey(key))
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "authn: shared rate limit unreadable", slog.String("table", table), slog.Any("error", err))
		return 0
	}
	if until.After(now) {
		return until.Sub(now)
	}
	return 0
}

// fail counts one failure and blocks the count as its new score demands.
// It returns the block in force before the failure and the one after it
// (zero times when none).
func (c *sharedCounts) fail(ctx context.Context, table, key string, now time.Time, maxDelay time.Duration) (before, after time.Time) {
	k := sharedKey(key)
	score, before, err := c.store.AddFailure(ctx, table, k, now, c.cfg.HalfLife)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "authn: shared rate limit not counted", slog.String("table", table), slog.Any("error", err))
		return time.Time{}, time.Time{}
	}
	after = before
	if d := c.cfg.delayFor(score, maxDelay); d > 0 && now.Add(d).After(after) {
		after = now.Add(d)
		if err := c.store.BlockFailures(ctx, table, k, after); err != nil {
			c.log.LogAttrs(ctx, slog.LevelWarn, "authn: shared rate limit not blocked", slog.String("table", table), slog.Any("error", err))
		}
	}
	return before, after
}

// reset forgets the count.
func (c *sharedCounts) reset(ctx context.Context, table, key string) {
	if err := c.store.ResetFailures(ctx, table, sharedKey(key)); err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "authn: shared rate limit not reset", slog.String("table", table), slog.Any("error", err))
	}
}
