// Package pgnotify keeps a process's caches coherent with a PostgreSQL
// database that other processes also write. Triggers in the database send a
// NOTIFY for every row a cache may hold that changes or goes; one dedicated
// LISTEN connection per cache receives them, in commit order, and hands
// them to the cache. A heartbeat on the same connection measures how far
// delivery has got, so that the cache can tell an entry it may still trust
// from one it must check against the table: that is what keeps a cache
// correct while the connection is down, half-open or reconnecting, when
// notifications are being lost.
//
// # The bound
//
// A [Listener] guarantees: an entry the cache last checked (loaded or
// confirmed from the table) at instant c is reported [Listener.Fresh] at
// instant now only if every change committed before now − MaxStale has
// been handed to Handle (or, across a reconnection, folded in by Resync) —
// or if c itself is within MaxStale of now. So a positive answer served from
// the cache is never staler than MaxStale, whatever happens to the
// connection; an entry that is not fresh must be checked against the table
// before it is used.
//
// Why the heartbeat proves delivery: PostgreSQL has one notification queue
// per cluster, ordered by commit, and each listening session reads it in
// that order. Every MaxStale/4 the listener notes the time t0, commits a
// NOTIFY on a channel only it listens to, and waits for that notification
// to come back. Everything committed before t0 sits ahead of the ping in
// the queue, so when the ping arrives every earlier change has been
// delivered — and, the listener handling notifications one at a time in
// order, handed to Handle. t0 becomes the delivery watermark. A ping not
// back within 2×MaxStale (at least 1 s) means the connection is dead or
// half-open: the listener drops it, reconnects with back-off, and calls
// Resync before it trusts pings again, because notifications sent in
// between were lost.
//
// Times are this process's monotonic clock ([Now]); no clock is compared
// across machines.
package pgnotify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// epoch anchors [Now]; time.Since reads the monotonic clock.
var epoch = time.Now()

// Now returns this process's monotonic clock in nanoseconds: the unit of
// every instant a Listener takes and returns.
func Now() int64 { return int64(time.Since(epoch)) }

// Bounds on MaxStale: below 100 ms the heartbeat alone would keep a
// connection busy; above an hour a "cache" would be a replica.
const (
	MinMaxStale     = 100 * time.Millisecond
	MaxMaxStale     = time.Hour
	DefaultMaxStale = time.Second
)

// Config configures a [Listener].
type Config struct {
	// Connect opens the LISTEN connection. It must open a new, dedicated
	// connection each time (never one from a pool: LISTEN belongs to a
	// session).
	Connect func(ctx context.Context) (*pgx.Conn, error)
	// Channel is the channel the database's triggers notify.
	Channel string
	// MaxStale is the bound (see the package documentation); default
	// [DefaultMaxStale], at least [MinMaxStale], at most [MaxMaxStale].
	MaxStale time.Duration
	// Handle receives each notification's payload on Channel, in commit
	// order, on the listener's goroutine. It must not block for long: the
	// watermark waits for it.
	Handle func(payload string)
	// Resync runs after every (re)connection, once LISTEN is in place and
	// before the watermark moves: changes committed while the connection
	// was down were not delivered, so it must drop or re-check every entry
	// the cache holds that predates start (a [Now] instant taken after
	// LISTEN). An error drops the connection and retries.
	Resync func(ctx context.Context, start int64) error
	// Logger receives connection losses and recoveries; default discards.
	Logger *slog.Logger
}

// Listener is a LISTEN connection with a delivery watermark. Its methods
// are safe for concurrent use; Fresh and Generation are one atomic load
// each.
type Listener struct {
	cfg      Config
	maxStale int64
	every    time.Duration // ping interval
	pongWait time.Duration // a ping not back after this drops the connection
	pingChan string

	watermark  atomic.Int64  // see Delivered
	generation atomic.Uint64 // see Generation
	connects   atomic.Int64  // successful (re)connections, for tests and metrics
	up         atomic.Bool

	cancel context.CancelFunc
	done   chan struct{}
}

// ErrClosed is returned by [Start] when its context ends first.
var ErrClosed = errors.New("pgnotify: listener closed")

// Start connects, listens on cfg.Channel, runs the first Resync and returns
// a Listener that keeps the connection up (reconnecting with back-off)
// until [Listener.Close]. It fails if that first connection or Resync
// fails: a cache that cannot listen at start is a configuration error, not
// an outage to ride out.
func Start(ctx context.Context, cfg Config) (*Listener, error) {
	if cfg.Connect == nil || cfg.Handle == nil || cfg.Resync == nil || cfg.Channel == "" {
		return nil, errors.New("pgnotify: Connect, Channel, Handle and Resync are required")
	}
	if cfg.MaxStale == 0 {
		cfg.MaxStale = DefaultMaxStale
	}
	if cfg.MaxStale < MinMaxStale || cfg.MaxStale > MaxMaxStale {
		return nil, fmt.Errorf("pgnotify: MaxStale %v is outside [%v, %v]", cfg.MaxStale, MinMaxStale, MaxMaxStale)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var nonce [8]byte
	rand.Read(nonce[:])
	l := &Listener{
		cfg:      cfg,
		maxStale: int64(cfg.MaxStale),
		every:    cfg.MaxStale / 4,
		// A late ping costs freshness, never correctness (the watermark
		// simply stays behind), so the connection is given a while before
		// it is declared dead: reconnecting a slow but live connection on a
		// loaded machine would only add load.
		pongWait: max(2*cfg.MaxStale, time.Second),
		// Pings travel on a channel of their own: the other listeners of
		// Channel need not hear this one's heartbeat.
		pingChan: "cpping_" + hex.EncodeToString(nonce[:]),
		done:     make(chan struct{}),
	}
	l.watermark.Store(-l.maxStale - 1) // nothing delivered yet
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	go l.run(runCtx, conn)
	return l, nil
}

// Close stops the listener and closes its connection, waiting for its
// goroutine. It is idempotent.
func (l *Listener) Close() {
	l.cancel()
	<-l.done
}

// Delivered returns the watermark: every change committed before this
// [Now] instant has been handed to Handle (or folded in by Resync). It only
// moves forward.
func (l *Listener) Delivered() int64 { return l.watermark.Load() }

// Fresh reports whether an entry last checked against the table at checked
// (a [Now] instant taken before that check began) may be used without
// checking again: whether max(checked, Delivered()) is within MaxStale of
// now.
func (l *Listener) Fresh(checked int64) bool {
	return Now()-max(checked, l.watermark.Load()) <= l.maxStale
}

// MaxStale returns the bound.
func (l *Listener) MaxStale() time.Duration { return time.Duration(l.maxStale) }

// Generation counts invalidations: it moves before every Handle and
// Resync call. A cache fills an entry race-free by reading Generation before
// its query and storing the result only if Generation has not moved since
// (under the lock Handle takes to evict): otherwise a change may have been
// handled between the query and the store, and the result must not be kept.
func (l *Listener) Generation() uint64 { return l.generation.Load() }

// Connected reports whether the LISTEN connection is up and resynchronised.
func (l *Listener) Connected() bool { return l.up.Load() }

// Connects returns how many times the listener has connected (1 after
// Start).
func (l *Listener) Connects() int64 { return l.connects.Load() }

// connect opens the connection, listens, and resynchronises.
func (l *Listener) connect(ctx context.Context) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, max(10*time.Second, 4*l.MaxStale()))
	defer cancel()
	conn, err := l.cfg.Connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("pgnotify: connect: %w", err)
	}
	// Channel names are identifiers; quoting keeps any name literal.
	q := "LISTEN " + pgx.Identifier{l.cfg.Channel}.Sanitize() + "; LISTEN " + pgx.Identifier{l.pingChan}.Sanitize()
	if _, err := conn.Exec(ctx, q); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("pgnotify: listen: %w", err)
	}
	start := Now()
	l.generation.Add(1)
	if err := l.cfg.Resync(ctx, start); err != nil {
		closeConn(conn)
		return nil, fmt.Errorf("pgnotify: resync: %w", err)
	}
	l.advance(start)
	l.connects.Add(1)
	l.up.Store(true)
	return conn, nil
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Close(ctx)
}

// advance moves the watermark forward to t.
func (l *Listener) advance(t int64) {
	for {
		old := l.watermark.Load()
		if t <= old || l.watermark.CompareAndSwap(old, t) {
			return
		}
	}
}

// run serves conn until it fails, then reconnects, until ctx ends.
func (l *Listener) run(ctx context.Context, conn *pgx.Conn) {
	defer close(l.done)
	backoff := 20 * time.Millisecond
	for {
		err := l.serve(ctx, conn)
		l.up.Store(false)
		closeConn(conn)
		conn = nil
		if ctx.Err() != nil {
			return
		}
		l.cfg.Logger.Warn("pgnotify: notification connection lost; entries are checked against the table until it is back",
			"channel", l.cfg.Channel, "err", err)
		for conn == nil {
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if conn, err = l.connect(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				l.cfg.Logger.Warn("pgnotify: reconnect failed", "channel", l.cfg.Channel, "err", err)
				backoff = min(2*backoff, max(l.MaxStale(), time.Second))
			}
		}
		backoff = 20 * time.Millisecond
		l.cfg.Logger.Info("pgnotify: notification connection restored", "channel", l.cfg.Channel)
	}
}

// errPongLate means a ping did not come back in time: the connection is
// dead or half-open.
var errPongLate = errors.New("heartbeat not answered in time")

// serve handles notifications and keeps the heartbeat going until the
// connection fails or ctx ends.
func (l *Listener) serve(ctx context.Context, conn *pgx.Conn) error {
	var (
		seq      uint64
		pending  string // payload of the ping in flight, "" when none
		sentAt   int64  // Now() just before the ping in flight was sent
		deadline time.Time
		nextPing = time.Now()
	)
	for {
		if pending == "" && !time.Now().Before(nextPing) {
			seq++
			pending = strconv.FormatUint(seq, 10)
			sentAt = Now()
			deadline = time.Now().Add(l.pongWait)
			pctx, cancel := context.WithDeadline(ctx, deadline)
			_, err := conn.Exec(pctx, "SELECT pg_notify($1, $2)", l.pingChan, pending)
			cancel()
			if err != nil {
				return fmt.Errorf("heartbeat: %w", err)
			}
		}
		wake := nextPing
		if pending != "" {
			wake = deadline
		}
		wctx, cancel := context.WithDeadline(ctx, wake)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if wctx.Err() == nil || conn.IsClosed() {
				return err
			}
			// The wait timed out with the connection intact: time to ping,
			// or the ping in flight is late.
			if pending != "" && !time.Now().Before(deadline) {
				return errPongLate
			}
			continue
		}
		switch {
		case n.Channel == l.pingChan:
			if n.Payload == pending {
				l.advance(sentAt)
				pending = ""
				nextPing = time.Now().Add(l.every)
			}
		case n.Channel == l.cfg.Channel:
			l.generation.Add(1)
			l.cfg.Handle(n.Payload)
		}
	}
}

// ChannelFor returns a channel name for a table: prefix followed by the MD5
// of the table's schema name in hex, the same name the triggers compute
// with prefix || md5(TG_TABLE_SCHEMA). Channels are global to a
// PostgreSQL database while tables live in schemas, so each schema's caches
// get their own channel. The result is at most 63 bytes, the length
// PostgreSQL keeps of an identifier, when prefix is at most 31.
func ChannelFor(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, prefix, table string) (string, error) {
	var ch string
	err := q.QueryRow(ctx, `SELECT $1::text || md5(n.nspname::text) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = to_regclass($2)`, prefix, table).Scan(&ch)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("pgnotify: table %s not found in the search path", table)
	}
	return ch, err
}
