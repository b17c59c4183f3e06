package refserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
	"github.com/cryptoplug/cryptoplug/internal/scryptcost"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/wire"
)

// staleBound is how long a change made through one instance may take to
// reach the others: the default max-stale of the software:postgres
// keystore and of the authn store's cache.
const staleBound = time.Second

// fleet is several `refserver serve` processes on one PostgreSQL cluster:
// one authn store, one software:postgres keystore, one data directory (TLS
// certificate, pepper, keystore passphrase), each with its own audit log.
type fleet struct {
	t       *testing.T
	bin     string
	args    []string
	data    string
	ca      string
	cluster *pgtest.Cluster
	servers []*serverProcess
	// alive is what the load balancer (the load's workers) believes;
	// killed is the truth the test set before it sent SIGKILL.
	alive, killed []atomic.Bool
}

func newFleet(t *testing.T, n int) *fleet {
	ctx := context.Background()
	f := &fleet{t: t, bin: buildServer(t)}
	var err error
	f.cluster, err = pgtest.Start(ctx)
	require.NoError(t, err, "PostgreSQL is required: %s", pgtest.Hint)
	t.Cleanup(func() { require.NoError(t, f.cluster.Stop()) })
	dir := t.TempDir()
	f.data = filepath.Join(dir, "data")
	f.ca = filepath.Join(f.data, "tls", "server.crt")
	require.NoError(t, os.MkdirAll(f.data, 0o700))
	dsnFile := filepath.Join(dir, "dsn")
	require.NoError(t, os.WriteFile(dsnFile, []byte(f.cluster.DSN()+"\n"), 0o600))
	passFile := filepath.Join(f.data, "keystore.pass")
	require.NoError(t, os.WriteFile(passFile, []byte("multi-instance keystore passphrase\n"), 0o600))
	uri := "software:postgres?dsn-source=file:" + dsnFile + "&pin-source=file:" + passFile
	// The keystore's identity is created here, at the lowest scrypt cost:
	// the servers then unlock it at that cost instead of a second each.
	restore := scryptcost.SetForTests(scryptcost.Min)
	b, err := backend.Open(ctx, uri)
	restore()
	require.NoError(t, err)
	require.NoError(t, b.Close())

	f.args = []string{"-data", f.data, "-authn-store", f.cluster.DSN(), "-backend", uri, "-rate-limit-free-failures", "1000"}
	out, err := exec.Command(f.bin, append([]string{"init", "-credential-file", filepath.Join(dir, "admin")}, f.args...)...).CombinedOutput()
	require.NoError(t, err, "init: %s", out)
	f.alive, f.killed = make([]atomic.Bool, n), make([]atomic.Bool, n)
	for i := range n {
		f.start(i)
	}
	return f
}

// start (re)starts server i.
func (f *fleet) start(i int) {
	p := startServer(f.t, f.bin, append(f.args, "-audit-log", filepath.Join(f.data, fmt.Sprintf("audit-%d.log", i)))...)
	if i < len(f.servers) {
		f.servers[i] = p
	} else {
		f.servers = append(f.servers, p)
	}
	f.killed[i].Store(false)
	f.alive[i].Store(true)
}

// kill ends server i with SIGKILL: no shutdown, requests in flight cut.
// The load keeps sending it requests until a worker finds it dead.
func (f *fleet) kill(i int) {
	f.killed[i].Store(true)
	require.NoError(f.t, f.servers[i].cmd.Process.Kill())
	<-f.servers[i].done
}

// client returns a client of server i with credential cred.
func (f *fleet) client(i int, cred client.Credential) *client.Client {
	c, err := client.New(f.servers[i].url, client.WithCAFile(f.ca), client.WithCredential(cred))
	require.NoError(f.t, err)
	return c
}

func (f *fleet) adminCredential() (string, string) {
	return readCredential(f.t, filepath.Join(filepath.Dir(f.data), "admin"))
}

var signDigest = sha256.Sum256([]byte("multi-instance"))

func signOn(ctx context.Context, c *client.Client, label string) ([]byte, error) {
	return c.Sign(ctx, wire.SignRequest{Label: label, Digest: signDigest[:], Hash: "SHA-256"})
}

func parsePublic(t *testing.T, k wire.Key) *ecdsa.PublicKey {
	pub, err := wire.ParsePublicKey(k.PublicKey)
	require.NoError(t, err)
	return pub.(*ecdsa.PublicKey)
}

// refusedWithin calls try on the test goroutine until it fails with want,
// and checks the bound: no call that started more than staleBound after
// changedAt may succeed.
func refusedWithin(t *testing.T, what string, changedAt time.Time, want error, try func() error) time.Duration {
	t.Helper()
	for {
		start := time.Now()
		err := try()
		if err != nil {
			require.ErrorIs(t, err, want, what)
			return time.Since(changedAt)
		}
		require.True(t, start.Before(changedAt.Add(staleBound)), "%s: still accepted %v after the change (bound %v)",
			what, start.Sub(changedAt), staleBound)
	}
}

// TestMultiInstance runs three refserver processes on one throwaway
// PostgreSQL cluster and a client spreading requests over them: a key made
// on one is used on all; a session terminated, an API key revoked and a key
// deleted through one instance are refused there at once and on the others
// within staleBound; an instance killed with SIGKILL under load loses and
// duplicates nothing; a PostgreSQL restart under load is survived by every
// instance without a restart of its own. About 30 s on two cores, most of
// it building the binary.
func TestMultiInstance(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: this test builds refserver and runs three of them on a PostgreSQL cluster; make test runs it")
	}
	ctx := context.Background()
	f := newFleet(t, 3)
	email, password := f.adminCredential()
	as, err := f.client(0, client.Credential{}).Login(ctx, email, password)
	require.NoError(t, err)
	admin := f.client(0, client.Bearer(as.AccessToken))
	_, err = f.client(1, client.Bearer(as.AccessToken)).CreateUser(ctx, wire.CreateUser{
		Email: "ops@localhost", Password: "ops password 0123456789", Roles: []string{"keyManagement", "keyOperation"}})
	require.NoError(t, err, "the administrator's session works on another instance")
	login := func(i int) string {
		s, err := f.client(i, client.Credential{}).Login(ctx, "ops@localhost", "ops password 0123456789")
		require.NoError(t, err)
		return s.AccessToken
	}
	session := login(2)
	ops := func(i int) *client.Client { return f.client(i, client.Bearer(session)) }
	app, err := admin.CreateApplication(ctx, wire.CreateApplication{Name: "app", Roles: []string{"keyOperation"}, Method: "apiKey"})
	require.NoError(t, err)

	// A key created on one instance is used on all three.
	shared, err := ops(0).CreateKey(ctx, wire.KeySpec{Label: "shared", Algorithm: "ECDSA-P256"})
	require.NoError(t, err)
	pub := parsePublic(t, shared)
	for i := range f.servers {
		for _, cred := range []client.Credential{client.Bearer(session), client.APIKey(app.APIKeys[0].Key)} {
			sig, err := signOn(ctx, f.client(i, cred), "shared")
			require.NoError(t, err, "instance %d", i)
			require.True(t, ecdsa.VerifyASN1(pub, signDigest[:], sig))
		}
	}

	t.Run("terminate", func(t *testing.T) {
		s2 := login(0)
		for i := range f.servers { // every instance has seen (and may cache) the session
			_, err := signOn(ctx, f.client(i, client.Bearer(s2)), "shared")
			require.NoError(t, err)
		}
		require.NoError(t, f.client(1, client.Bearer(s2)).Terminate(ctx))
		at := time.Now()
		_, err := signOn(ctx, f.client(1, client.Bearer(s2)), "shared")
		require.ErrorIs(t, err, backend.ErrAuth, "refused at once where it was terminated")
		for _, i := range []int{0, 2} {
			took := refusedWithin(t, fmt.Sprintf("terminated session on instance %d", i), at, backend.ErrAuth, func() error {
				_, err := signOn(ctx, f.client(i, client.Bearer(s2)), "shared")
				return err
			})
			t.Logf("instance %d refused the session %v after instance 1 terminated it", i, took)
		}
	})

	t.Run("revoke", func(t *testing.T) {
		k2, err := f.client(2, client.Bearer(as.AccessToken)).CreateAPIKey(ctx, app.Account.ID, wire.CreateAPIKey{Role: "keyOperation"})
		require.NoError(t, err)
		for i := range f.servers {
			_, err := signOn(ctx, f.client(i, client.APIKey(k2.Key)), "shared")
			require.NoError(t, err)
		}
		require.NoError(t, admin.RevokeAPIKey(ctx, k2.ID))
		at := time.Now()
		_, err = signOn(ctx, f.client(0, client.APIKey(k2.Key)), "shared")
		require.ErrorIs(t, err, backend.ErrAuth)
		for _, i := range []int{1, 2} {
			took := refusedWithin(t, fmt.Sprintf("revoked API key on instance %d", i), at, backend.ErrAuth, func() error {
				_, err := signOn(ctx, f.client(i, client.APIKey(k2.Key)), "shared")
				return err
			})
			t.Logf("instance %d refused the API key %v after instance 0 revoked it", i, took)
		}
	})

	t.Run("delete key", func(t *testing.T) {
		deleteAndCheck(t, f, ops, "doomed", 2, 1)
	})

	t.Run("SIGKILL under load", func(t *testing.T) {
		l := startLoad(f, "kill", session, pub)
		l.waitOps(t, 200)
		f.kill(2)
		killedAt := l.ops.Load()
		l.waitOps(t, killedAt+200)
		l.stop(t)
		l.check(t, ctx, f, ops(0))
		// Back again: the restarted instance sees everything made meanwhile.
		f.start(2)
		keys, err := ops(2).ListKeys(ctx)
		require.NoError(t, err)
		require.Len(t, keys.Keys, len(l.created)+1, "shared, and every key the load created")
		l.check(t, ctx, f, ops(2))
	})

	t.Run("PostgreSQL restart under load", func(t *testing.T) {
		l := startLoad(f, "restart", session, pub)
		l.waitOps(t, 100)
		l.allow5xx.Store(true)
		require.NoError(t, f.cluster.Restart(ctx))
		restarted := time.Now()
		// Every instance serves again, no restart of its own.
		for i := range f.servers {
			for {
				_, err := signOn(ctx, ops(i), "shared")
				if err == nil {
					break
				}
				require.Less(t, time.Since(restarted), 30*time.Second, "instance %d did not recover: %v", i, err)
			}
		}
		// Pooled connections the restart broke fail once each, as they are
		// used; then the failures stop for good.
		l.waitFor(t, "200 requests in a row to succeed", func() bool { return l.streak >= 200 })
		l.stop(t)
		l.check(t, ctx, f, ops(1))
		// And changes reach every instance again within the bound.
		deleteAndCheck(t, f, ops, "after-restart", 0, 2)
	})
}

// deleteAndCheck creates a key through instance creator, uses it on every
// instance, deletes it through instance deleter and checks it is refused
// there at once and on the others within the bound.
func deleteAndCheck(t *testing.T, f *fleet, ops func(int) *client.Client, label string, creator, deleter int) {
	ctx := context.Background()
	_, err := ops(creator).CreateKey(ctx, wire.KeySpec{Label: label, Algorithm: "ECDSA-P256"})
	require.NoError(t, err)
	for i := range f.servers {
		_, err := signOn(ctx, ops(i), label)
		require.NoError(t, err, "instance %d", i)
	}
	require.NoError(t, ops(deleter).DeleteKey(ctx, label))
	at := time.Now()
	_, err = signOn(ctx, ops(deleter), label)
	require.ErrorIs(t, err, backend.ErrKeyNotFound, "refused at once where it was deleted")
	for i := range f.servers {
		if i == deleter {
			continue
		}
		took := refusedWithin(t, fmt.Sprintf("deleted key on instance %d", i), at, backend.ErrKeyNotFound, func() error {
			_, err := signOn(ctx, ops(i), label)
			return err
		})
		t.Logf("instance %d refused key %q %v after instance %d deleted it", i, label, took, deleter)
	}
}

// load is a client spreading requests over the fleet's live instances, as
// a load balancer with health checks would: signatures with the shared key
// (each verified) and, every tenth request, a new key with a label of its
// own. A request that cannot reach its instance marks it down and goes to
// another; a key creation whose answer was lost is repeated elsewhere under
// the same label, so that it ends as created or as already there.
type load struct {
	name    string // prefix of the labels of the keys it creates
	f       *fleet
	session string
	pub     *ecdsa.PublicKey
	stopped atomic.Bool
	wg      sync.WaitGroup
	ops     atomic.Int64

	// allow5xx is set while the database is away: a 5xx answer is then
	// an outage, not a wrong answer.
	allow5xx atomic.Bool

	mu      sync.Mutex
	created map[string]bool // labels whose creation succeeded (or found it done)
	bad     []error         // wrong answers: never allowed
	outage  int             // failures while an instance or the database was down
	streak  int             // answers in a row without an outage failure
	waiter  *waiter
}

// waiter is closed once cond holds (checked under load.mu after every
// operation).
type waiter struct {
	cond func() bool
	ch   chan struct{}
}

func startLoad(f *fleet, name, session string, pub *ecdsa.PublicKey) *load {
	l := &load{name: name + "-", f: f, session: session, pub: pub, created: map[string]bool{}}
	for w := range 6 {
		l.wg.Go(func() { l.work(w) })
	}
	return l
}

func (l *load) work(w int) {
	ctx := context.Background()
	clients := make([]*client.Client, len(l.f.servers))
	for i := range clients {
		clients[i] = l.f.client(i, client.Bearer(l.session))
	}
	for n := 0; !l.stopped.Load(); n++ {
		i := l.pick(w + n)
		if n%10 == 9 {
			l.create(ctx, clients, i, fmt.Sprintf("%s%d-%d-%d", l.name, w, n, rand.Uint32()))
		} else {
			sig, err := signOn(ctx, clients[i], "shared")
			l.record(i, err, func() error {
				if !ecdsa.VerifyASN1(l.pub, signDigest[:], sig) {
					return errors.New("a signature that does not verify")
				}
				return nil
			})
		}
		l.ops.Add(1)
		l.mu.Lock()
		if l.waiter != nil && l.waiter.cond() {
			close(l.waiter.ch)
			l.waiter = nil
		}
		l.mu.Unlock()
	}
}

// pick returns a live instance, round robin.
func (l *load) pick(n int) int {
	for k := range len(l.f.servers) {
		i := (n + k) % len(l.f.servers)
		if l.f.alive[i].Load() {
			return i
		}
	}
	return n % len(l.f.servers)
}

// create makes a key labelled label, retrying on other instances (for up
// to 30 s: the database may be restarting) until the answer is "created" or
// "already exists".
func (l *load) create(ctx context.Context, clients []*client.Client, i int, label string) {
	end := time.Now().Add(30 * time.Second)
	for attempt := 0; time.Now().Before(end); attempt++ {
		_, err := clients[i].CreateKey(ctx, wire.KeySpec{Label: label, Algorithm: "ECDSA-P256"})
		if err == nil || errors.Is(err, backend.ErrKeyExists) && attempt > 0 {
			l.mu.Lock()
			l.created[label] = true
			l.mu.Unlock()
			return
		}
		l.record(i, err, nil)
		i = l.pick(i + 1)
	}
	l.mu.Lock()
	l.bad = append(l.bad, fmt.Errorf("key %q: no instance answered its creation in 30 s", label))
	l.mu.Unlock()
}

// record sorts one answer: an answer that is wrong is always a failure;
// a request that did not get one (the instance died) or got a 5xx (the
// database was away) counts as outage.
func (l *load) record(i int, err error, check func() error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ce *client.Error
	if err == nil {
		l.streak++
	} else {
		l.streak = 0
	}
	switch {
	case err == nil && check != nil:
		if e := check(); e != nil {
			l.bad = append(l.bad, e)
		}
	case err == nil:
	case errors.As(err, &ce) && ce.Status >= 500 && l.allow5xx.Load():
		l.outage++
	case errors.As(err, &ce):
		l.bad = append(l.bad, fmt.Errorf("instance %d: %w", i, err))
	default: // no answer: connection refused or cut
		if l.f.killed[i].Load() {
			l.outage++
			l.f.alive[i].Store(false) // health check failed: route elsewhere
			return
		}
		l.bad = append(l.bad, fmt.Errorf("instance %d gave no answer, though it runs: %w", i, err))
	}
}

// waitOps lets the load run until it has made n operations.
func (l *load) waitOps(t *testing.T, n int64) {
	l.waitFor(t, fmt.Sprintf("%d operations", n), func() bool { return l.ops.Load() >= n })
}

// waitFor lets the load run until cond holds, for at most 60 s.
func (l *load) waitFor(t *testing.T, what string, cond func() bool) {
	ch := make(chan struct{})
	l.mu.Lock()
	if cond() {
		close(ch)
	} else {
		l.waiter = &waiter{cond: cond, ch: ch}
	}
	l.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(60 * time.Second):
		t.Fatalf("waited 60 s for %s; %d operations made", what, l.ops.Load())
	}
}

func (l *load) stop(t *testing.T) {
	l.stopped.Store(true)
	l.wg.Wait()
	require.Empty(t, l.bad, "wrong answers under load")
	t.Logf("load: %d operations, %d failed during the outage, %d keys created", l.ops.Load(), l.outage, len(l.created))
}

// check lists the keys through c: every key the load created is there,
// exactly once, and there is no key it did not create.
func (l *load) check(t *testing.T, ctx context.Context, f *fleet, c *client.Client) {
	keys, err := c.ListKeys(ctx)
	require.NoError(t, err)
	seen := map[string]int{}
	for _, k := range keys.Keys {
		seen[k.Label]++
	}
	for label := range l.created {
		require.Equal(t, 1, seen[label], "key %q", label)
	}
	for label, n := range seen {
		require.Equal(t, 1, n, "key %q listed %d times", label, n)
		if strings.HasPrefix(label, l.name) {
			require.True(t, l.created[label], "key %q exists but no creation of it was answered", label)
		}
	}
}
