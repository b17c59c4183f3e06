package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cryptoplug/cryptoplug/internal/pgnotify"
)

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }

// listenPostgres starts the cache's PostgreSQL coherence source: a LISTEN
// connection on the channel the triggers of migration 4 (0004_cache_invalidation) notify for this
// schema.
func (s *Store) listenPostgres(ctx context.Context, dsn string, maxStale time.Duration, log *slog.Logger) (coherence, error) {
	var channel string
	if err := s.read.QueryRowContext(ctx, `SELECT 'cpauthn_' || md5(n.nspname::text) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass('sessions')`).Scan(&channel); err != nil {
		return nil, fmt.Errorf("sqlstore: find the cache's notification channel: %w", err)
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open postgres: the connection string does not parse")
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "cryptoplug-authn-cache"
	}
	l, err := pgnotify.Start(ctx, pgnotify.Config{
		Connect:  func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, cfg) },
		Channel:  channel,
		MaxStale: maxStale,
		Handle:   s.cache.handle,
		Resync:   s.cache.resync,
		Logger:   log,
	})
	if err != nil {
		return nil, fmt.Errorf("sqlstore: listen for changes: %w", err)
	}
	return l, nil
}

// logPoller is the cache's SQLite coherence source. SQLite has no
// notifications, so the triggers of migration 4 append each change to
// cache_invalidations, and the poller reads what was appended every
// MaxStale/4. A poll that began at t and handled every row it read proves
// every change committed before t was handled (the writer is serialised,
// so rows are numbered in commit order): t is its watermark, as a delivered
// heartbeat is for PostgreSQL.
type logPoller struct {
	db        *sql.DB
	write     *sql.DB
	c         *cache
	maxStale  int64
	watermark atomic.Int64
	last      int64 // the highest row handled
	cancel    context.CancelFunc
	done      chan struct{}
	log       *slog.Logger
}

// keepInvalidations is how long rows stay in cache_invalidations: far
// longer than any poll interval, so that a poller that fell behind still
// finds every row after its last, and notices (and empties its cache)
// when it did not.
const keepInvalidations = time.Hour

func (s *Store) pollSQLite(ctx context.Context, maxStale time.Duration, log *slog.Logger) (coherence, error) {
	if maxStale < pgnotify.MinMaxStale || maxStale > pgnotify.MaxMaxStale {
		return nil, fmt.Errorf("sqlstore: cache bound %v is outside [%v, %v]", maxStale, pgnotify.MinMaxStale, pgnotify.MaxMaxStale)
	}
	p := &logPoller{db: s.read, write: s.write, c: s.cache, maxStale: int64(maxStale), done: make(chan struct{}), log: log}
	start := pgnotify.Now()
	if err := s.read.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM cache_invalidations`).Scan(&p.last); err != nil {
		return nil, fmt.Errorf("sqlstore: read cache_invalidations: %w", err)
	}
	p.watermark.Store(start)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	go p.run(runCtx, maxStale/4)
	return p, nil
}

func (p *logPoller) Fresh(checked int64) bool {
	return pgnotify.Now()-max(checked, p.watermark.Load()) <= p.maxStale
}

func (p *logPoller) Close() {
	p.cancel()
	<-p.done
}

func (p *logPoller) run(ctx context.Context, every time.Duration) {
	defer close(p.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.poll(ctx); err != nil && ctx.Err() == nil {
			p.log.Warn("sqlstore: reading cache invalidations failed; entries are checked against the table", "err", err)
		}
		if n%1000 == 0 {
			p.write.ExecContext(ctx, `DELETE FROM cache_invalidations WHERE at < ?`, time.Now().Add(-keepInvalidations).Unix())
		}
	}
}

// poll handles the rows appended since the last poll and moves the
// watermark to the poll's start.
func (p *logPoller) poll(ctx context.Context) error {
	start := pgnotify.Now()
	rows, err := p.db.QueryContext(ctx, `SELECT seq, payload FROM cache_invalidations WHERE seq > ? ORDER BY seq`, p.last)
	if err != nil {
		return err
	}
	defer rows.Close()
	first := true
	for rows.Next() {
		var (
			seq     int64
			payload string
		)
		if err := rows.Scan(&seq, &payload); err != nil {
			return err
		}
		if first && seq != p.last+1 {
			// Rows between were pruned before this poller read them.
			p.c.dropAll()
		}
		first = false
		p.c.handle(payload)
		p.last = seq
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for {
		old := p.watermark.Load()
		if start <= old || p.watermark.CompareAndSwap(old, start) {
			return nil
		}
	}
}
