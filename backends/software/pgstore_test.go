package software_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/backends/software"
)

// pgBench is one test's PostgreSQL schema, the DSN that reaches it (in a
// 0600 file, as an operator would keep it) and an admin connection.
type pgBench struct {
	t       testing.TB
	dsn     string
	schema  string
	admin   *pgx.Conn
	dsnFile string
}

func newPGBench(t testing.TB) *pgBench {
	t.Helper()
	dsn := pgtest.Shared(t).NewSchema(t)
	admin, err := pgx.Connect(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close(context.Background()) })
	b := &pgBench{t: t, dsn: dsn, admin: admin, dsnFile: writeSecretFile(t, dsn)}
	require.NoError(t, admin.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&b.schema))
	return b
}

func writeSecretFile(t testing.TB, content string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "secret")
	require.NoError(t, os.WriteFile(f, []byte(content+"\n"), 0o600))
	return f
}

// uri returns a software:postgres URI for the bench's schema.
func (b *pgBench) uri(pass, extra string) string {
	return "software:postgres?dsn-source=file:" + b.dsnFile + "&pin-source=file:" + writeSecretFile(b.t, pass) + extra
}

// newPGURI returns the URI of a PostgreSQL store in a fresh schema.
func newPGURI(t testing.TB, extra string) string {
	return newPGBench(t).uri(testPassphrase, extra)
}

// roleURI creates a role of its own with rights on the bench's schema and
// returns a URI that connects as it: the test can then refuse that role new
// connections (ALTER ROLE … NOLOGIN) while its open connections carry on.
func (b *pgBench) roleURI(extra string) (uri, role string) {
	var r [6]byte
	rand.Read(r[:])
	role = "ks_" + hex.EncodeToString(r[:])
	ctx := context.Background()
	_, err := b.admin.Exec(ctx, `CREATE ROLE `+role+` LOGIN;
		GRANT USAGE, CREATE ON SCHEMA `+b.schema+` TO `+role+`;
		GRANT ALL ON ALL TABLES IN SCHEMA `+b.schema+` TO `+role)
	require.NoError(b.t, err)
	b.t.Cleanup(func() {
		b.admin.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, role)
	})
	u, err := url.Parse(b.dsn)
	require.NoError(b.t, err)
	u.User = url.User(role)
	return "software:postgres?dsn-source=file:" + writeSecretFile(b.t, u.String()) +
		"&pin-source=file:" + writeSecretFile(b.t, testPassphrase) + extra, role
}

func TestPGRestart(t *testing.T) {
	uri := newPGURI(t, "")
	b := openDir(t, uri)
	require.Equal(t, "postgres", b.Info().Kind)
	require.True(t, b.Info().Persistent)
	require.NotContains(t, b.Info().URI, testPassphrase)
	keys := fillDir(t, b)
	require.NoError(t, b.Close())

	b = openDir(t, uri)
	list, err := b.Keys(context.Background())
	require.NoError(t, err)
	require.Len(t, list, len(keys))
	for _, k := range list {
		want := keys[k.Label()]
		require.NotNil(t, want, k.Label())
		require.True(t, k.ID().Equal(want.ID()))
		require.True(t, publicEqual(k.Public(), want.Public()))
		exercise(t, k)
	}
	byID, err := b.Key(context.Background(), backend.ByID(list[0].ID()))
	require.NoError(t, err)
	require.Equal(t, list[0], byID, "a key already in memory is handed out again, not decrypted twice")
}

func TestPGPassphrase(t *testing.T) {
	pb := newPGBench(t)
	b := openDir(t, pb.uri(testPassphrase, ""))
	_, err := b.GenerateKey(context.Background(), backend.KeySpec{Algorithm: backend.Ed25519, Label: "k"})
	require.NoError(t, err)

	_, err = backend.Open(context.Background(), pb.uri("not the passphrase", ""))
	requireErr(t, err, backend.ErrAuth)
	require.NotContains(t, err.Error(), "not the passphrase")

	_, err = backend.Open(context.Background(), "software:postgres?dsn-source=file:"+pb.dsnFile)
	requireErr(t, err, backend.ErrInvalidInput)
	require.ErrorContains(t, err, "passphrase")
}

func TestPGOpenRejects(t *testing.T) {
	pb := newPGBench(t)
	pass := "&pin-source=file:" + writeSecretFile(t, testPassphrase)
	for _, tc := range []struct {
		name, uri, says string
	}{
		{"no DSN", "software:postgres?pin-source=file:/nonexistent", "dsn-source"},
		{"DSN file missing", "software:postgres?dsn-source=file:/nonexistent/dsn" + pass, "/nonexistent/dsn"},
		{"DSN variable unset", "software:postgres?dsn-source=env:CRYPTOPLUG_TEST_UNSET_DSN" + pass, "CRYPTOPLUG_TEST_UNSET_DSN"},
		{"DSN in the URI", "software:postgres?dsn=" + url.QueryEscape(pb.dsn) + pass, "unknown attribute"},
		{"flag with a value", "software:postgres=yes?dsn-source=file:" + pb.dsnFile + pass, "flag"},
		{"with a dir", "software:postgres;dir=/tmp/x?dsn-source=file:" + pb.dsnFile + pass, "unknown attribute"},
		{"max-stale malformed", "software:postgres?dsn-source=file:" + pb.dsnFile + pass + "&max-stale=soon", "max-stale"},
		{"max-stale too small", "software:postgres?dsn-source=file:" + pb.dsnFile + pass + "&max-stale=1ms", "max-stale"},
		{"max-stale too large", "software:postgres?dsn-source=file:" + pb.dsnFile + pass + "&max-stale=1000h", "max-stale"},
		{"max-stale without value", "software:postgres?dsn-source=file:" + pb.dsnFile + pass + "&max-stale", "needs a value"},
		{"DSN does not parse", "software:postgres?dsn-source=file:" + writeSecretFile(t, "postgres://u:s3cret@h:notaport/db") + pass, "does not parse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := backend.Open(context.Background(), tc.uri)
			requireErr(t, err, backend.ErrInvalidInput)
			require.ErrorContains(t, err, tc.says)
			require.NotContains(t, err.Error(), "s3cret")
			require.NotContains(t, err.Error(), testPassphrase)
		})
	}
}

func TestPGUnreachableDatabaseNamesNoPassword(t *testing.T) {
	// Port 1: nothing listens there, so the connection is refused at once.
	dsn := "postgres://keystore:hunter2-s3cret@127.0.0.1:1/keys?sslmode=disable&connect_timeout=2"
	uri := "software:postgres?dsn-source=file:" + writeSecretFile(t, dsn) + "&pin-source=file:" + writeSecretFile(t, testPassphrase)
	_, err := backend.Open(context.Background(), uri)
	requireErr(t, err, software.ErrUnavailable)
	require.NotContains(t, err.Error(), "hunter2")
}

// TestPGInstancesShareKeys opens the store twice, as two server instances
// would: a key created through one is found, listed and used through the
// other, and one created elsewhere after an instance cached a miss is found.
func TestPGInstancesShareKeys(t *testing.T) {
	uri := newPGURI(t, "")
	a, b := openDir(t, uri), openDir(t, uri)
	ctx := context.Background()
	_, err := b.Key(ctx, backend.ByLabel("shared"))
	requireErr(t, err, backend.ErrKeyNotFound)
	ka, err := a.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "shared"})
	require.NoError(t, err)
	kb, err := b.Key(ctx, backend.ByLabel("shared"))
	require.NoError(t, err)
	require.True(t, ka.ID().Equal(kb.ID()))
	msg, sig, opts := signDefault(t, kb)
	require.NoError(t, verify(ka.Public(), msg, sig, opts), "B signs with the key A created")
	list, err := b.Keys(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, kb, list[0])
}

// TestPGCreateAndDeleteRace races two instances (and several goroutines
// each) to create one label, then to delete it: the table's constraints
// leave exactly one winner each time.
func TestPGCreateAndDeleteRace(t *testing.T) {
	uri := newPGURI(t, "")
	insts := []backend.Backend{openDir(t, uri), openDir(t, uri)}
	ctx := context.Background()
	const perInstance = 6
	for round := range 3 {
		label := fmt.Sprintf("contested-%d", round)
		var created, exists atomic.Int32
		errs := make(chan error, 2*perInstance)
		var wg sync.WaitGroup
		for _, b := range insts {
			for range perInstance {
				wg.Go(func() {
					_, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: label})
					switch {
					case err == nil:
						created.Add(1)
					case errors.Is(err, backend.ErrKeyExists):
						exists.Add(1)
					default:
						errs <- err
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.EqualValues(t, 1, created.Load())
		require.EqualValues(t, 2*perInstance-1, exists.Load())

		var deleted, missing atomic.Int32
		errs = make(chan error, 2*perInstance)
		for _, b := range insts {
			for range perInstance {
				wg.Go(func() {
					err := b.DeleteKey(ctx, backend.ByLabel(label))
					switch {
					case err == nil:
						deleted.Add(1)
					case errors.Is(err, backend.ErrKeyNotFound):
						missing.Add(1)
					default:
						errs <- err
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.EqualValues(t, 1, deleted.Load())
		require.EqualValues(t, 2*perInstance-1, missing.Load())
		for _, b := range insts {
			_, err := b.Key(ctx, backend.ByLabel(label))
			requireErr(t, err, backend.ErrKeyNotFound)
		}
	}
}

// staleBound signs through s until the signature is refused, on the test
// goroutine, and checks the store's promise: no signature that started more
// than bound after deletedAt succeeds. It returns how long the refusal took.
func staleBound(t *testing.T, s backend.Signer, alg backend.Algorithm, deletedAt time.Time, bound time.Duration) time.Duration {
	t.Helper()
	for {
		start := time.Now()
		err := signOnce(s, alg)
		if err != nil {
			requireErr(t, err, backend.ErrKeyNotFound)
			return time.Since(deletedAt)
		}
		require.True(t, start.Before(deletedAt.Add(bound)),
			"a signature started %v after the key was deleted elsewhere succeeded (bound %v)", start.Sub(deletedAt), bound)
	}
}

// TestPGDeletionReachesOtherInstances deletes a key on one instance and
// checks that the other refuses it within the bound (1 s by default; in
// practice the notification takes milliseconds), through a handle it holds
// and through Key.
func TestPGDeletionReachesOtherInstances(t *testing.T) {
	uri := newPGURI(t, "")
	a, b := openDir(t, uri), openDir(t, uri)
	ctx := context.Background()
	_, err := a.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "doomed"})
	require.NoError(t, err)
	kb, err := b.Key(ctx, backend.ByLabel("doomed"))
	require.NoError(t, err)
	sb, err := kb.Signer()
	require.NoError(t, err)
	require.NoError(t, signOnce(sb, backend.ECDSAP256))

	require.NoError(t, a.DeleteKey(ctx, backend.ByLabel("doomed")))
	took := staleBound(t, sb, backend.ECDSAP256, time.Now(), time.Second)
	t.Logf("instance B refused the deleted key %v after A deleted it", took)
	_, err = b.Key(ctx, backend.ByLabel("doomed"))
	requireErr(t, err, backend.ErrKeyNotFound)

	// Recreated under the same label on A: B finds the new key, not the old.
	k2, err := a.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "doomed"})
	require.NoError(t, err)
	kb2, err := b.Key(ctx, backend.ByLabel("doomed"))
	require.NoError(t, err)
	require.True(t, kb2.ID().Equal(k2.ID()))
}

// TestPGFallbackWhileListenerIsDown takes instance B's notification
// connection away and keeps it away (its role may not log in again): B
// must keep serving its keys by asking the table, and refuse a key deleted
// on A within the bound, though no notification can reach it. Then B's
// listener comes back by itself.
func TestPGFallbackWhileListenerIsDown(t *testing.T) {
	pb := newPGBench(t)
	const bound = 300 * time.Millisecond
	extra := "&max-stale=" + bound.String()
	a := openDir(t, pb.uri(testPassphrase, extra))
	ctx := context.Background()
	// A creates the tables, so that B's role can be granted rights on them.
	_, err := a.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "kept"})
	require.NoError(t, err)
	_, err = a.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "doomed"})
	require.NoError(t, err)
	bURI, role := pb.roleURI(extra)
	b := openDir(t, bURI)
	signerOf := func(label string) backend.Signer {
		k, err := b.Key(ctx, backend.ByLabel(label))
		require.NoError(t, err)
		s, err := k.Signer()
		require.NoError(t, err)
		return s
	}
	kept, doomed := signerOf("kept"), signerOf("doomed")

	_, err = pb.admin.Exec(ctx, `ALTER ROLE `+role+` NOLOGIN`)
	require.NoError(t, err)
	_, err = pb.admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE usename = $1 AND application_name = 'cryptoplug-keystore-listener'`, role)
	require.NoError(t, err)
	// Well past the bound with no listener, B still signs: it asks the table.
	end := time.Now().Add(3 * bound)
	for time.Now().Before(end) {
		require.NoError(t, signOnce(kept, backend.ECDSAP256))
	}
	var listeners int
	require.NoError(t, pb.admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE usename = $1 AND application_name = 'cryptoplug-keystore-listener'`, role).Scan(&listeners))
	require.Zero(t, listeners, "B's listener is still down")

	require.NoError(t, a.DeleteKey(ctx, backend.ByLabel("doomed")))
	took := staleBound(t, doomed, backend.ECDSAP256, time.Now(), bound)
	t.Logf("with its listener down, B refused the deleted key %v after A deleted it (bound %v)", took, bound)
	require.NoError(t, signOnce(kept, backend.ECDSAP256))

	_, err = pb.admin.Exec(ctx, `ALTER ROLE `+role+` LOGIN`)
	require.NoError(t, err)
	// Back to notifications: a deletion reaches B with no table check needed.
	_, err = a.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "doomed-2"})
	require.NoError(t, err)
	doomed2 := signerOf("doomed-2")
	for {
		require.NoError(t, pb.admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE usename = $1 AND application_name = 'cryptoplug-keystore-listener'`, role).Scan(&listeners))
		if listeners == 1 {
			break
		}
		require.NoError(t, signOnce(kept, backend.ECDSAP256))
	}
	require.NoError(t, a.DeleteKey(ctx, backend.ByLabel("doomed-2")))
	staleBound(t, doomed2, backend.ECDSAP256, time.Now(), bound)
}

func TestPGDatabaseDownRefusesAfterBound(t *testing.T) {
	pb := newPGBench(t)
	const bound = 200 * time.Millisecond
	a := openDir(t, pb.uri(testPassphrase, "&max-stale="+bound.String()))
	ctx := context.Background()
	k, err := a.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.ECDSAP256, Label: "k"})
	require.NoError(t, err)
	b, role := pb.roleURI("&max-stale=" + bound.String())
	bs := openDir(t, b)
	kb, err := bs.Key(ctx, backend.ByID(k.ID()))
	require.NoError(t, err)
	s, err := kb.Signer()
	require.NoError(t, err)
	// Every connection of B's role gone, and none allowed back: B cannot
	// confirm anything, so once the bound has run out it refuses rather
	// than answer from memory.
	_, err = pb.admin.Exec(ctx, `ALTER ROLE `+role+` NOLOGIN`)
	require.NoError(t, err)
	_, err = pb.admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, role)
	require.NoError(t, err)
	cut := time.Now()
	for {
		start := time.Now()
		err := signOnce(s, backend.ECDSAP256)
		if err != nil {
			requireErr(t, err, software.ErrUnavailable)
			break
		}
		require.True(t, start.Before(cut.Add(bound)), "signed %v after the database went away", start.Sub(cut))
	}
	_, err = pb.admin.Exec(ctx, `ALTER ROLE `+role+` LOGIN`)
	require.NoError(t, err)
	for signOnce(s, backend.ECDSAP256) != nil {
		// The pool reconnects on the next query: no restart needed.
		require.True(t, time.Since(cut) < 30*time.Second, "B never recovered")
	}
}

func TestPGCorruptRows(t *testing.T) {
	pb := newPGBench(t)
	uri := pb.uri(testPassphrase, "")
	b := openDir(t, uri)
	ctx := context.Background()
	var ids []backend.KeyID
	for _, label := range []string{"a", "b", "c"} {
		k, err := b.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: label})
		require.NoError(t, err)
		ids = append(ids, k.ID())
	}
	// Row a: damaged. Row b: c's sealed key, under b's name.
	_, err := pb.admin.Exec(ctx, `UPDATE software_keys SET sealed = substr(sealed, 1, 100) WHERE label = 'a'`)
	require.NoError(t, err)
	_, err = pb.admin.Exec(ctx, `UPDATE software_keys SET sealed = (SELECT sealed FROM software_keys WHERE label = 'c') WHERE label = 'b'`)
	require.NoError(t, err)

	b2 := openDir(t, uri)
	for _, s := range []backend.Backend{b, b2} { // b learns of the change through the trigger
		keys, err := waitCorrupt(t, s)
		requireErr(t, err, backend.ErrCorrupt)
		require.Len(t, keys, 1)
		require.Equal(t, "c", keys[0].Label())
		require.ErrorContains(t, err, ids[0].String())
		require.ErrorContains(t, err, ids[1].String())
		require.ErrorContains(t, err, "belongs to another row")
		_, err = s.Key(ctx, backend.ByID(ids[0]))
		requireErr(t, err, backend.ErrCorrupt)
	}
	require.NoError(t, b2.DeleteKey(ctx, backend.ByID(ids[0])))
	require.NoError(t, b2.DeleteKey(ctx, backend.ByLabel("b")))
	keys, err := b2.Keys(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 1)
}

// waitCorrupt lists s's keys until the listing reports the damaged rows: b
// held them in memory before they were damaged, and learns of the change
// through the notification, which may still be in flight.
func waitCorrupt(t *testing.T, s backend.Backend) ([]backend.Key, error) {
	end := time.Now().Add(5 * time.Second)
	for {
		keys, err := s.Keys(context.Background())
		if err != nil || time.Now().After(end) {
			return keys, err
		}
	}
}

func TestPGNoPlaintext(t *testing.T) {
	pb := newPGBench(t)
	b := openDir(t, pb.uri(testPassphrase, ""))
	needles := importNeedles(t, b, false)
	require.NoError(t, b.Close())
	ctx := context.Background()
	rows, err := pb.admin.Query(ctx, `SELECT sealed FROM software_keys UNION ALL SELECT identity FROM software_keystore`)
	require.NoError(t, err)
	blobs, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	require.NoError(t, err)
	require.Len(t, blobs, len(backend.Algorithms())+1)
	for _, blob := range blobs {
		for _, n := range needles {
			require.False(t, bytes.Contains(blob, []byte(n.bytes)), "%s found in the database", n.what)
		}
	}
}

// TestPGConcurrentFirstOpen opens a fresh schema from several goroutines at
// once: they race to create the tables and the identity, and every one of
// them must end up with the same identity.
func TestPGConcurrentFirstOpen(t *testing.T) {
	uri := newPGURI(t, "")
	const n = 4
	stores := make([]backend.Backend, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = backend.Open(context.Background(), uri) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		t.Cleanup(func() { stores[i].Close() })
	}
	ctx := context.Background()
	for i, s := range stores {
		_, err := s.GenerateKey(ctx, backend.KeySpec{Algorithm: backend.Ed25519, Label: fmt.Sprint("from-", i)})
		require.NoError(t, err)
	}
	for _, s := range stores {
		keys, err := s.Keys(ctx)
		require.NoError(t, err, "every instance decrypts every other's keys: one identity")
		require.Len(t, keys, n)
	}
}

func TestPGRefusesNewerSchema(t *testing.T) {
	pb := newPGBench(t)
	uri := pb.uri(testPassphrase, "")
	require.NoError(t, openDir(t, uri).Close())
	_, err := pb.admin.Exec(context.Background(), `INSERT INTO software_keystore_migrations (version, name, applied_at) VALUES (999, 'future', 0)`)
	require.NoError(t, err)
	_, err = backend.Open(context.Background(), uri)
	require.Error(t, err)
	require.True(t, strings.Contains(err.Error(), "newer than this program"), err.Error())
}
