package pgnotify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"math"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// bench is one test's database: a table of events whose inserts a trigger
// notifies, a superuser connection that writes them, and a role of its own
// for the listener, so that the test can refuse the listener new
// connections (ALTER ROLE … NOLOGIN) while the writer carries on.
type bench struct {
	t       *testing.T
	writer  *pgx.Conn
	role    string
	roleDSN string
	app     string // the listener's application_name, to find its backend

	mu      sync.Mutex
	handled map[int]bool
	commits map[int]int64 // seq -> Now() just after its commit returned
	next    int
}

const maxStale = 200 * time.Millisecond

func newBench(t *testing.T) *bench {
	ctx := context.Background()
	cluster := pgtest.Shared(t)
	dsn := cluster.NewSchema(t)
	w, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { w.Close(context.Background()) })
	var schema string
	require.NoError(t, w.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema))
	var b [6]byte
	rand.Read(b[:])
	role := "r_" + hex.EncodeToString(b[:])
	_, err = w.Exec(ctx, `
		CREATE TABLE events (seq INTEGER PRIMARY KEY);
		CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			PERFORM pg_notify('cptest_' || md5(TG_TABLE_SCHEMA::text), NEW.seq::text);
			RETURN NULL;
		END $$;
		CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH ROW EXECUTE FUNCTION events_notify();
		CREATE ROLE `+role+` LOGIN;
		GRANT USAGE ON SCHEMA `+schema+` TO `+role+`;
		GRANT SELECT ON events TO `+role+`;`)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx := context.Background()
		w.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, role)
	})
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.User = url.User(role)
	return &bench{t: t, writer: w, role: role, roleDSN: u.String(), app: "pgnotify-test-" + role,
		handled: map[int]bool{}, commits: map[int]int64{}}
}

// start starts a listener whose "cache" is the set of handled events.
func (b *bench) start() *Listener {
	ctx := context.Background()
	ch, err := ChannelFor(ctx, b.writer, "cptest_", "events")
	require.NoError(b.t, err)
	cfg, err := pgx.ParseConfig(b.roleDSN)
	require.NoError(b.t, err)
	cfg.RuntimeParams["application_name"] = b.app
	l, err := Start(ctx, Config{
		Connect:  func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, cfg) },
		Channel:  ch,
		MaxStale: maxStale,
		Handle: func(p string) {
			n, err := strconv.Atoi(p)
			if err != nil {
				panic(err)
			}
			b.mu.Lock()
			b.handled[n] = true
			b.mu.Unlock()
		},
		// Everything in the table has happened: mark it handled, as a cache
		// that re-checks its entries would.
		Resync: func(ctx context.Context, _ int64) error {
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			var top int
			if err := conn.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM events`).Scan(&top); err != nil {
				return err
			}
			b.mu.Lock()
			for i := 1; i <= top; i++ {
				b.handled[i] = true
			}
			b.mu.Unlock()
			return nil
		},
	})
	require.NoError(b.t, err)
	b.t.Cleanup(l.Close)
	return l
}

// step commits one event, then checks the bound: if the listener says an
// entry checked at the dawn of time is still fresh, every event committed
// more than maxStale ago must have been handled. It returns whether the
// listener reported itself fresh.
func (b *bench) step(l *Listener) bool {
	b.t.Helper()
	b.next++
	_, err := b.writer.Exec(context.Background(), `INSERT INTO events (seq) VALUES ($1)`, b.next)
	require.NoError(b.t, err)
	after := Now()
	b.mu.Lock()
	b.commits[b.next] = after
	b.mu.Unlock()

	now := Now()
	fresh := l.Fresh(math.MinInt64)
	if fresh {
		b.mu.Lock()
		defer b.mu.Unlock()
		for seq, at := range b.commits {
			if at < now-int64(maxStale) {
				require.True(b.t, b.handled[seq], "event %d committed %v ago is not handled, yet the listener claims freshness",
					seq, time.Duration(now-at))
			}
		}
	}
	return fresh
}

// until steps until cond holds, failing after limit.
func (b *bench) until(l *Listener, limit time.Duration, what string, cond func(fresh bool) bool) {
	b.t.Helper()
	end := time.Now().Add(limit)
	for {
		if cond(b.step(l)) {
			return
		}
		require.True(b.t, time.Now().Before(end), "gave up waiting: %s", what)
	}
}

func (b *bench) backendPID() int {
	var pid int
	require.NoError(b.t, b.writer.QueryRow(context.Background(),
		`SELECT pid FROM pg_stat_activity WHERE application_name = $1`, b.app).Scan(&pid))
	return pid
}

func TestDeliversAndStaysFresh(t *testing.T) {
	b := newBench(t)
	l := b.start()
	require.True(t, l.Connected())
	// Healthy: the heartbeat keeps the listener fresh while events flow.
	b.until(l, 10*time.Second, "fresh", func(fresh bool) bool { return fresh })
	end := time.Now().Add(3 * maxStale)
	for time.Now().Before(end) {
		b.step(l)
	}
	b.until(l, 10*time.Second, "every event handled", func(bool) bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.handled) == b.next
	})
	require.EqualValues(t, 1, l.Connects(), "a healthy connection is never dropped, though every wait times out for the heartbeat")
}

func TestReconnectsAfterTermination(t *testing.T) {
	b := newBench(t)
	l := b.start()
	b.until(l, 10*time.Second, "fresh", func(fresh bool) bool { return fresh })
	_, err := b.writer.Exec(context.Background(), `SELECT pg_terminate_backend($1)`, b.backendPID())
	require.NoError(t, err)
	b.until(l, 10*time.Second, "reconnected and fresh", func(fresh bool) bool { return fresh && l.Connects() >= 2 })
}

func TestHalfOpenConnectionIsDropped(t *testing.T) {
	b := newBench(t)
	l := b.start()
	b.until(l, 10*time.Second, "fresh", func(fresh bool) bool { return fresh })
	// SIGSTOP freezes the listener's server process: its TCP connection stays
	// open but nothing answers, like a peer behind a dead NAT entry.
	pid := b.backendPID()
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	b.until(l, 10*time.Second, "reconnected on a new backend", func(fresh bool) bool { return fresh && l.Connects() >= 2 })
	require.NoError(t, syscall.Kill(pid, syscall.SIGCONT))
}

func TestStaysStaleWhileReconnectIsRefused(t *testing.T) {
	b := newBench(t)
	l := b.start()
	b.until(l, 10*time.Second, "fresh", func(fresh bool) bool { return fresh })
	ctx := context.Background()
	_, err := b.writer.Exec(ctx, `ALTER ROLE `+b.role+` NOLOGIN`)
	require.NoError(t, err)
	_, err = b.writer.Exec(ctx, `SELECT pg_terminate_backend($1)`, b.backendPID())
	require.NoError(t, err)
	b.until(l, 10*time.Second, "stale", func(fresh bool) bool { return !fresh })
	require.False(t, l.Connected())
	// Events keep coming; the bound keeps holding (step checks it) and the
	// listener stays stale for as long as it cannot reconnect.
	end := time.Now().Add(3 * maxStale)
	for time.Now().Before(end) {
		require.False(t, b.step(l), "fresh without a connection")
	}
	_, err = b.writer.Exec(ctx, `ALTER ROLE `+b.role+` LOGIN`)
	require.NoError(t, err)
	b.until(l, 10*time.Second, "reconnected and fresh", func(fresh bool) bool { return fresh && l.Connected() })
}

func TestStartRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no connect":      {Channel: "c", Handle: func(string) {}, Resync: func(context.Context, int64) error { return nil }},
		"no channel":      {Connect: func(context.Context) (*pgx.Conn, error) { return nil, nil }, Handle: func(string) {}, Resync: func(context.Context, int64) error { return nil }},
		"stale too small": {Connect: func(context.Context) (*pgx.Conn, error) { return nil, nil }, Channel: "c", Handle: func(string) {}, Resync: func(context.Context, int64) error { return nil }, MaxStale: time.Millisecond},
		"stale too large": {Connect: func(context.Context) (*pgx.Conn, error) { return nil, nil }, Channel: "c", Handle: func(string) {}, Resync: func(context.Context, int64) error { return nil }, MaxStale: 2 * time.Hour},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Start(context.Background(), cfg)
			require.Error(t, err)
		})
	}
}
