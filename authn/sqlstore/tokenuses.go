package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/cryptoplug/cryptoplug/authn"
)

// RecordTokenUse implements [authn.Store] (and so jwtauth.ReplayStore): one
// statement that inserts key, or takes over its row if that row expired,
// and affects no row when an unexpired record exists. Both databases
// serialise the conflicting inserts, so of concurrent first uses, across
// servers, exactly one affects a row.
func (s *Store) RecordTokenUse(ctx context.Context, key []byte, expiresAt, now time.Time) (bool, error) {
	if len(key) == 0 || len(key) > 64 {
		return false, fmt.Errorf("sqlstore: record token use: key of %d bytes: %w", len(key), authn.ErrInvalidArgument)
	}
	n, err := s.exec(ctx, s.write, "record token use",
		`INSERT INTO token_uses (token_key, expires_at) VALUES (?, ?)
		 ON CONFLICT (token_key) DO UPDATE SET expires_at = excluded.expires_at WHERE token_uses.expires_at <= ?`,
		key, nanos(expiresAt), nanos(now))
	return n == 1, err
}
