// Package pgtest starts a throwaway PostgreSQL cluster for tests: initdb in
// a fresh directory under /tmp, a server on 127.0.0.1 and a free port, trust
// authentication (the server listens on loopback only), fsync off. No
// Docker is needed, only the Debian PostgreSQL server binaries.
//
// initdb and pg_ctl refuse to run as root, and CI runs as root, so as root
// they run as the "postgres" system user (runuser -u postgres) on a
// directory that user owns.
//
// Typical use, one cluster per test binary:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		pgtest.StopShared()
//		os.Exit(code)
//	}
//
//	func TestSomething(t *testing.T) {
//		dsn := pgtest.Shared(t).NewSchema(t) // a fresh, empty schema
//		...
//	}
//
// If PostgreSQL is missing or cannot start, [Shared] fails the test (it
// never skips) and says to run `make deps`.
//
// It lives outside internal/ so that other packages' tests (the reference
// server's) can use it too.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// Hint ends every error that means "PostgreSQL is not usable here".
const Hint = "run `make deps` to install the PostgreSQL server (Debian package postgresql)"

const (
	dirPrefix = "cryptoplug-pg-"
	osUser    = "postgres"
)

// Cluster is a running throwaway PostgreSQL cluster. Its methods are safe
// for concurrent use.
type Cluster struct {
	dir    string // owned by the server's user; holds data/, the socket and the log
	bin    string
	port   int
	asUser bool // run binaries through runuser -u postgres

	mu      sync.Mutex
	stopped bool
	db      *sql.DB // admin connection for NewSchema, opened lazily
}

// BinDir returns the directory holding initdb and pg_ctl: $PGTEST_BINDIR if
// set, else the newest /usr/lib/postgresql/<major>/bin that has both.
func BinDir() (string, error) {
	if d := os.Getenv("PGTEST_BINDIR"); d != "" {
		return d, checkBin(d)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if checkBin(d) == nil {
			return d, nil
		}
	}
	return "", fmt.Errorf("pgtest: no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin: %s", Hint)
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func checkBin(d string) error {
	for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(d, name)); err != nil {
			return fmt.Errorf("pgtest: %s missing in %s: %s", name, d, Hint)
		}
	}
	return nil
}

// Start creates and starts a new cluster. Stop it with [Cluster.Stop].
// Clusters left behind by test processes that died are stopped and removed
// first.
func Start(ctx context.Context) (*Cluster, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, asUser: os.Geteuid() == 0}
	var uid, gid int = -1, -1
	if c.asUser {
		if _, err := exec.LookPath("runuser"); err != nil {
			return nil, fmt.Errorf("pgtest: running as root needs runuser (util-linux): %s", Hint)
		}
		u, err := user.Lookup(osUser)
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root needs the %q system user: %s", osUser, Hint)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	reapOrphans(c)
	// /tmp rather than $TMPDIR: the server's user must be able to traverse
	// every parent directory, and go test's own temp dirs are 0700.
	c.dir, err = os.MkdirTemp("/tmp", dirPrefix)
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(c.dir)
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	if c.asUser {
		if err := os.Chown(c.dir, uid, gid); err != nil {
			os.RemoveAll(c.dir)
			return nil, fmt.Errorf("pgtest: %w", err)
		}
	}
	if out, err := c.run(ctx, "initdb", "-D", c.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8",
		"--locale=C", "--no-sync", "--no-instructions"); err != nil {
		os.RemoveAll(c.dir)
		return nil, fmt.Errorf("pgtest: initdb failed: %v\n%s\n%s", err, out, Hint)
	}
	// The port is picked by binding :0 and releasing it; another process
	// could take it in between, so try a few times.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		c.port, err = freePort()
		if err != nil {
			lastErr = err
			continue
		}
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -c port=%d -c unix_socket_directories=%s "+
			"-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", c.port, c.dir)
		out, err := c.run(ctx, "pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "postgres.log"), "-w", "-t", "60", "-o", opts, "start")
		if err == nil {
			return c, nil
		}
		log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
		lastErr = fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	os.RemoveAll(c.dir)
	return nil, fmt.Errorf("pgtest: PostgreSQL did not start: %v\n%s", lastErr, Hint)
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

// run runs a PostgreSQL binary, as the postgres user when we are root.
func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.asUser {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", osUser, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = c.dir
	return cmd.CombinedOutput()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// reapOrphans stops and removes clusters whose owning test process is gone.
func reapOrphans(c *Cluster) {
	dirs, _ := filepath.Glob(filepath.Join("/tmp", dirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue // unreadable, or its owner is still running
		}
		orphan := &Cluster{dir: d, bin: c.bin, asUser: c.asUser}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		orphan.run(ctx, "pg_ctl", "-D", orphan.data(), "-m", "immediate", "-w", "stop")
		cancel()
		os.RemoveAll(d)
	}
}

// Port returns the TCP port the server listens on (on 127.0.0.1).
func (c *Cluster) Port() int { return c.port }

// DSN returns a pgx connection string for database "postgres" as the
// superuser "postgres".
func (c *Cluster) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

func (c *Cluster) admin() (*sql.DB, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, errors.New("pgtest: cluster stopped")
	}
	if c.db == nil {
		db, err := sql.Open("pgx", c.DSN())
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(2)
		c.db = db
	}
	return c.db, nil
}

// NewSchema creates an empty schema with a random name and returns a DSN
// whose connections use it as their search_path, so that each test sees
// only its own tables. The schema is dropped when tb ends.
func (c *Cluster) NewSchema(tb testing.TB) string {
	tb.Helper()
	db, err := c.admin()
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	var b [8]byte
	rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		tb.Fatalf("pgtest: create schema: %v", err)
	}
	tb.Cleanup(func() {
		if db, err := c.admin(); err == nil {
			db.Exec("DROP SCHEMA " + name + " CASCADE")
		}
	})
	return c.DSN() + "&search_path=" + name
}

// Restart stops the server (fast shutdown: every session is disconnected,
// in-flight transactions roll back) and starts it again on the same data
// and port, as clients see a database restarted for maintenance or a
// failover. It returns once the server accepts connections again.
func (c *Cluster) Restart(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return errors.New("pgtest: cluster stopped")
	}
	// -l again: without it the new server would keep pg_ctl's output pipe
	// open, and pg_ctl's caller would wait for the server to exit.
	out, err := c.run(ctx, "pg_ctl", "-D", c.data(), "-l", filepath.Join(c.dir, "postgres.log"), "-m", "fast", "-w", "-t", "60", "restart")
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl restart: %v\n%s", err, out)
	}
	return nil
}

// Stop stops the server and removes its directory. It is safe to call more
// than once.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil
	}
	c.stopped = true
	if c.db != nil {
		c.db.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := c.run(ctx, "pg_ctl", "-D", c.data(), "-m", "fast", "-w", "stop")
	os.RemoveAll(c.dir)
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl stop: %v\n%s", err, out)
	}
	return nil
}

var shared struct {
	once    sync.Once
	cluster *Cluster
	err     error
}

// Shared returns the test binary's cluster, starting it on first use. If
// PostgreSQL cannot start, it fails tb with the reason and [Hint]; it never
// skips. Call [StopShared] from TestMain after m.Run.
func Shared(tb testing.TB) *Cluster {
	tb.Helper()
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.cluster, shared.err = Start(ctx)
	})
	if shared.err != nil {
		tb.Fatalf("PostgreSQL is required for this test and could not start: %v", shared.err)
	}
	return shared.cluster
}

// StopShared stops the cluster [Shared] started, if any.
func StopShared() error {
	if shared.cluster == nil {
		return nil
	}
	return shared.cluster.Stop()
}

// Main runs a package's tests and then stops the cluster [Shared] started,
// failing the run if it cannot be stopped (a leaked server would outlive the
// tests). Call it from TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if err := StopShared(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}
