// Package sqlstore implements [authn.Store] on SQL databases: SQLite (the
// embedded default: one file, WAL mode, pure Go through modernc.org/sqlite)
// and PostgreSQL (for several server instances sharing state, through
// github.com/jackc/pgx/v5).
//
// Open a store with [OpenSQLite] or [OpenPostgres]; both apply the embedded
// schema migrations before returning. One implementation serves both
// databases; the few differences (placeholders, row locks, error codes) are
// in [dialect]. Every method is safe for concurrent use.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"modernc.org/sqlite"

	"github.com/cryptoplug/cryptoplug/authn"
)

// Store is an [authn.Store] over SQLite or PostgreSQL.
type Store struct {
	d dialect
	// read serves queries; write serves every statement that changes
	// something. For SQLite, write is a single connection, so that writers
	// queue in Go instead of spinning on SQLITE_BUSY; for PostgreSQL both are
	// the same pool.
	read, write *sql.DB
	rebound     sync.Map // query with '?' -> query with '$n'
	closeOnce   sync.Once
	closeErr    error

	// The statements on every authenticated request's (and key
	// operation's) path, prepared once: preparing per call cost the API-key
	// path a third of its throughput.
	sessionByHash *sql.Stmt
	apiKeyByHash  *sql.Stmt
	keyAccess     *sql.Stmt
	keyState      *sql.Stmt

	// cache serves the lookups on every request's path; nil when turned
	// off (see cache.go).
	cache *cache
}

type dialect struct {
	name string
	// lockShared is appended to a SELECT to hold a shared row lock until
	// the transaction ends; SQLite needs none (writers are serialised).
	lockShared  string
	dollarParam bool
}

var (
	sqliteDialect   = dialect{name: "sqlite"}
	postgresDialect = dialect{name: "postgres", lockShared: " FOR SHARE", dollarParam: true}
)

// OpenSQLite opens (creating if needed) the SQLite database file at path,
// switches it to WAL mode and migrates its schema. path must be a file, not
// ":memory:" (the store uses separate reader and writer connections). The
// file is shared safely with other processes through SQLite's own locking,
// and the lookup cache (see [WithCacheMaxStale]) stays coherent with their
// changes.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*Store, error) {
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlstore: open sqlite %q: %w: need a plain file path", path, authn.ErrInvalidArgument)
	}
	const common = "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	write, err := sql.Open("sqlite", path+"?"+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open sqlite %q: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	s := &Store{d: sqliteDialect, write: write}
	// Migrate (and so switch to WAL) before any reader connects.
	if err := s.migrate(ctx); err != nil {
		write.Close()
		return nil, err
	}
	read, err := sql.Open("sqlite", path+"?"+common+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlstore: open sqlite %q: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	s.read = read
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if o := buildOptions(opts); o.cache {
		s.cache = &cache{}
		if s.cache.source, err = s.pollSQLite(ctx, o.maxStale, o.logger); err != nil {
			s.cache = nil
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// OpenPostgres connects to PostgreSQL with a pgx connection string (URL or
// key=value form, e.g. "postgres://user@host:5432/db?sslmode=verify-full")
// and migrates the schema in the connection's search_path. Several
// processes may open the same database; migrations are serialised with an
// advisory lock. The lookup cache (see [WithCacheMaxStale]) listens for
// their changes on a connection of its own.
func OpenPostgres(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open postgres: %w", err)
	}
	n := max(8, 4*runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s := &Store{d: postgresDialect, read: db, write: db}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: connect to postgres: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if o := buildOptions(opts); o.cache {
		s.cache = &cache{}
		if s.cache.source, err = s.listenPostgres(ctx, dsn, o.maxStale, o.logger); err != nil {
			s.cache = nil
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// prepare readies the statements on every session and API-key request's
// path.
func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&s.sessionByHash, sessionByHashQuery},
		{&s.apiKeyByHash, apiKeyByHashQuery},
		{&s.keyAccess, keyAccessQuery},
		{&s.keyState, keyStateQuery},
	} {
		st, err := s.read.PrepareContext(ctx, s.q(p.query))
		if err != nil {
			return fmt.Errorf("sqlstore: prepare: %w", err)
		}
		*p.dst = st
	}
	return nil
}

// Close closes the database connections. It is safe to call more than once.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.cache.close()
		var errs []error
		for _, st := range []*sql.Stmt{s.sessionByHash, s.apiKeyByHash, s.keyAccess, s.keyState} {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
		if s.read != nil && s.read != s.write {
			errs = append(errs, s.read.Close())
		}
		errs = append(errs, s.write.Close())
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Dialect returns "sqlite" or "postgres".
func (s *Store) Dialect() string { return s.d.name }

// q rewrites '?' placeholders to PostgreSQL's '$n'. Queries in this package
// never contain '?' elsewhere.
func (s *Store) q(query string) string {
	if !s.d.dollarParam {
		return query
	}
	if v, ok := s.rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	s.rebound.Store(query, b.String())
	return b.String()
}

// execer is what both *sql.DB and *sql.Tx offer.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// exec runs a statement and returns the rows it affected.
func (s *Store) exec(ctx context.Context, e execer, op, query string, args ...any) (int64, error) {
	res, err := e.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return 0, s.err(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.err(op, err)
	}
	return n, nil
}

// execOne runs a statement that must affect exactly one row; none is
// ErrNotFound.
func (s *Store) execOne(ctx context.Context, e execer, op, query string, args ...any) error {
	n, err := s.exec(ctx, e, op, query, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: %w", op, authn.ErrNotFound)
	}
	return nil
}

// inTx runs f in a write transaction and commits if it returns nil.
func (s *Store) inTx(ctx context.Context, op string, f func(tx *sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return s.err(op, err)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return s.err(op, err)
	}
	return nil
}

// err maps driver errors to the authn sentinels.
func (s *Store) err(op string, err error) error {
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlstore: %s: %w", op, authn.ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("sqlstore: %s: %w (%v)", op, authn.ErrAlreadyExists, err)
	case isForeignKeyViolation(err):
		// The row referred to (usually the principal) is gone.
		return fmt.Errorf("sqlstore: %s: %w (%v)", op, authn.ErrNotFound, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// SQLite extended result codes and PostgreSQL SQLSTATEs for constraint
// violations.
const (
	sqliteConstraintForeignKey = 787
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
	pgUniqueViolation          = "23505"
	pgForeignKeyViolation      = "23503"
)

func isUniqueViolation(err error) bool {
	if e, ok := errors.AsType[*sqlite.Error](err); ok {
		return e.Code() == sqliteConstraintUnique || e.Code() == sqliteConstraintPrimaryKey
	}
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		return e.Code == pgUniqueViolation
	}
	return false
}

func isForeignKeyViolation(err error) bool {
	if e, ok := errors.AsType[*sqlite.Error](err); ok {
		return e.Code() == sqliteConstraintForeignKey
	}
	if e, ok := errors.AsType[*pgconn.PgError](err); ok {
		return e.Code == pgForeignKeyViolation
	}
	return false
}

// Times are stored as Unix nanoseconds; optional ones as NULL when zero.

func nanos(t time.Time) int64 { return t.UnixNano() }

func optNanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromOptNanos(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNanos(n.Int64)
}

func optString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func optBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}
