package software

import (
	"cmp"
	"context"
	"crypto"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/internal/pgnotify"
	"github.com/cryptoplug/cryptoplug/internal/privkey"
	"github.com/cryptoplug/cryptoplug/internal/scryptcost"
)

// ErrUnavailable means a PostgreSQL store could not reach its database (or
// the database refused the statement) when the answer depended on it: a
// key's creation, deletion or listing, a lookup the process had not cached,
// or the confirmation, once the cache's bound has run out, that a cached key
// still exists. The error says which.
var ErrUnavailable = errors.New("key store database unavailable")

// Attributes of a software:postgres URI; see the package documentation.
const (
	attrPostgres  = "postgres"
	attrDSNSource = "dsn-source"
	attrMaxStale  = "max-stale"
)

// pgStore keeps keys as rows of software_keys, each sealed with age to the
// store's identity exactly as the directory store's key files are, shared
// by every process that opens the same database and schema.
//
// Its embedded store is an index of the keys this process has decrypted: a
// cache of the table. The table is the truth — its unique constraints
// decide races between processes — and the listener keeps the index
// coherent: a trigger notifies every key row that changes or goes, the
// listener evicts that key, and an operation on a key confirms, before it
// runs, that the listener has delivered everything committed up to MaxStale
// ago or else asks the table (see confirm).
type pgStore struct {
	*store
	pool      *pgxpool.Pool
	identity  *age.HybridIdentity
	recipient *age.HybridRecipient
	listener  *pgnotify.Listener
	closeOnce sync.Once
}

var (
	_ backend.Backend  = (*pgStore)(nil)
	_ backend.Importer = (*pgStore)(nil)
)

// openPostgres opens the PostgreSQL store u names, creating its tables and
// identity when the database has none yet.
func openPostgres(ctx context.Context, u *backend.URI) (_ backend.Backend, err error) {
	name := u.Redacted()
	fail := func(err error) (backend.Backend, error) { return nil, backend.Errorf("open", name, "", err) }
	if err := u.CheckAttrs(attrPostgres, attrDSNSource, "pin-source", "pin-value", attrMaxStale); err != nil {
		return fail(err)
	}
	if v, _ := u.Get(attrPostgres); v != "" {
		return fail(fmt.Errorf("%s URI: %q is a flag and takes no value: %w", u.Scheme, attrPostgres, backend.ErrInvalidInput))
	}
	for _, attr := range []string{attrDSNSource, "pin-source", "pin-value", attrMaxStale} {
		if _, _, err := getValue(u, attr); err != nil {
			return fail(err)
		}
	}
	maxStale := pgnotify.DefaultMaxStale
	if v, ok := u.Get(attrMaxStale); ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < pgnotify.MinMaxStale || d > pgnotify.MaxMaxStale {
			return fail(fmt.Errorf("%s URI: %s must be a duration from %v to %v: %w", u.Scheme, attrMaxStale,
				pgnotify.MinMaxStale, pgnotify.MaxMaxStale, backend.ErrInvalidInput))
		}
		maxStale = d
	}
	cfg, err := poolConfig(u)
	if err != nil {
		return fail(err)
	}
	pass, ok, err := u.PIN()
	if err != nil {
		return fail(err)
	}
	defer pass.Wipe()
	if !ok {
		return fail(fmt.Errorf("a PostgreSQL store needs its passphrase: add pin-source=file:/path or pin-source=env:NAME to the URI: %w",
			backend.ErrInvalidInput))
	}
	if len(pass) == 0 {
		return fail(fmt.Errorf("the passphrase is empty: %w", backend.ErrInvalidInput))
	}

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fail(dbErr(ctx, "connect", err))
	}
	p := &pgStore{pool: pool}
	defer func() {
		if err != nil {
			if p.listener != nil {
				p.listener.Close()
			}
			pool.Close()
		}
	}()
	if err := migratePG(ctx, pool); err != nil {
		return fail(dbErr(ctx, "create the key store's tables", err))
	}
	if err := p.unlock(ctx, pass); err != nil {
		return fail(err)
	}
	info := backend.Info{Name: Scheme, Kind: "postgres", URI: name, Persistent: true}
	p.store = newStore(name, info, nil)
	p.store.confirm = p.confirm
	p.store.opTimeout = backend.DefaultTimeout

	channel, err := pgnotify.ChannelFor(ctx, pool, "cpkeys_", "software_keys")
	if err != nil {
		return fail(dbErr(ctx, "find the notification channel", err))
	}
	lc := cfg.ConnConfig.Copy()
	lc.RuntimeParams["application_name"] = lc.RuntimeParams["application_name"] + "-listener"
	l, err := pgnotify.Start(ctx, pgnotify.Config{
		Connect:  func(ctx context.Context) (*pgx.Conn, error) { return pgx.ConnectConfig(ctx, lc) },
		Channel:  channel,
		MaxStale: maxStale,
		Handle:   p.handle,
		Resync:   p.resync,
	})
	if err != nil {
		return fail(dbErr(ctx, "listen for changes", err))
	}
	p.listener = l
	return p, nil
}

// poolConfig reads the connection string from dsn-source, through the same
// sources as the passphrase ([backend.URI.PIN]): a DSN may hold a password,
// so it never appears in the URI, and no error quotes it.
func poolConfig(u *backend.URI) (*pgxpool.Config, error) {
	src, ok := u.Get(attrDSNSource)
	if !ok {
		return nil, fmt.Errorf("a PostgreSQL store needs its connection string: add %s=file:/path or %s=env:NAME to the URI: %w",
			attrDSNSource, attrDSNSource, backend.ErrInvalidInput)
	}
	srcURI := &backend.URI{Scheme: u.Scheme, Query: []backend.Attr{{Name: "pin-source", Value: src, HasValue: true}}}
	dsn, _, err := srcURI.PIN()
	if err != nil {
		return nil, fmt.Errorf("%s (read as a pin-source is): %w", attrDSNSource, err)
	}
	defer dsn.Wipe()
	cfg, err := pgxpool.ParseConfig(string(dsn))
	if err != nil {
		// pgx quotes the string, redacting passwords only as best it can.
		return nil, fmt.Errorf("the connection string from %s does not parse: %w", attrDSNSource, backend.ErrInvalidInput)
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "cryptoplug-keystore"
	}
	return cfg, nil
}

// dbErr describes a failed database call: the context's error when it
// ended, else what the database said wrapped in ErrUnavailable. pgx's
// errors name host, user and database, never the password.
func dbErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	return fmt.Errorf("%s: %v: %w", what, err, ErrUnavailable)
}

// unlock reads the store's identity and decrypts it with pass, creating
// one when the database has none. Two processes creating a store at once
// race on the table's single row: the loser unlocks the winner's identity.
func (p *pgStore) unlock(ctx context.Context, pass backend.Secret) error {
	read := func() ([]byte, error) {
		var data []byte
		return data, p.pool.QueryRow(ctx, `SELECT identity FROM software_keystore`).Scan(&data)
	}
	data, err := read()
	if errors.Is(err, pgx.ErrNoRows) {
		id, enc, err := newIdentity(pass, scryptcost.WorkFactor())
		if err != nil {
			return err
		}
		tag, err := p.pool.Exec(ctx, `INSERT INTO software_keystore (identity, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
			enc, time.Now().UnixNano())
		if err != nil {
			return dbErr(ctx, "create the key store", err)
		}
		if tag.RowsAffected() == 1 {
			p.identity, p.recipient = id, id.Recipient()
			return nil
		}
		data, err = read()
		if err != nil {
			return dbErr(ctx, "read the key store's identity", err)
		}
	} else if err != nil {
		return dbErr(ctx, "read the key store's identity", err)
	}
	id, err := openIdentity(data, pass)
	switch {
	case errors.Is(err, errWrongPassphrase):
		return fmt.Errorf("wrong passphrase for the key store in this database: %w", backend.ErrAuth)
	case err != nil:
		return fmt.Errorf("table software_keystore: %v: %w", err, backend.ErrCorrupt)
	}
	p.identity, p.recipient = id, id.Recipient()
	return nil
}

// rowCorrupt describes a key row that cannot be used, naming it by ID.
func rowCorrupt(id []byte, cause error) error {
	return fmt.Errorf("table software_keys, key ID %s: %v: %w", backend.KeyID(id), cause, backend.ErrCorrupt)
}

// openRow decrypts a key row into a key, checking that the sealed record
// names the row's own ID and label, so that a row's sealed key cannot be
// passed off under another row's name.
func (p *pgStore) openRow(id []byte, label string, sealed []byte) (*key, error) {
	rec, priv, err := openKeyFile(sealed, p.identity)
	if err != nil {
		return nil, rowCorrupt(id, err)
	}
	if !rec.ID.Equal(id) || rec.Label != label {
		privkey.Wipe(priv)
		return nil, rowCorrupt(id, errors.New("sealed key belongs to another row"))
	}
	k, err := p.newKey(rec, priv)
	if err != nil {
		return nil, rowCorrupt(id, err)
	}
	return k, nil
}

// index puts k, read from or written to the table after the listener's
// generation was gen, into the index, evicting the keys its ID or label
// named before (the table's unique constraints say they are gone). If the
// index already holds the same key, that one is returned and k retired, so
// that handles given out earlier stay valid. If a notification was handled
// since gen, it may have been k's own deletion, which then had nothing to
// evict: k is marked to be checked against the table before its first use.
func (p *pgStore) index(k *key, gen uint64) (*key, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Load() {
		k.retire()
		return nil, backend.ErrClosed
	}
	stem := k.id.String()
	if old := p.byID[stem]; old != nil {
		if old.label == k.label && equalPublic(old.pub, k.pub) {
			k.retire()
			return old, nil
		}
		p.drop(old)
	}
	if old := p.byLabel[k.label]; old != nil {
		p.drop(old)
	}
	k.indexedAt = pgnotify.Now()
	if p.listener.Generation() != gen {
		k.verify.Store(true)
	}
	p.byID[stem] = k
	p.byLabel[k.label] = k
	return k, nil
}

// drop removes k from the index and retires it. p.mu must be held.
func (p *pgStore) drop(k *key) {
	stem := k.id.String()
	if p.byID[stem] == k {
		delete(p.byID, stem)
	}
	if p.byLabel[k.label] == k {
		delete(p.byLabel, k.label)
	}
	k.retire()
}

// handle is the listener's Handle: a key row changed or went elsewhere
// (payload: its hex ID), or the table was truncated ("*").
func (p *pgStore) handle(payload string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if payload == "*" {
		for _, k := range p.byID {
			p.drop(k)
		}
		return
	}
	if k := p.byID[payload]; k != nil {
		p.drop(k)
	}
}

// resync is the listener's Resync: after a reconnection, keys indexed
// before start whose row has gone or changed label while notifications
// were lost are evicted. Keys indexed since are covered by the
// notifications or, when one was handled while they loaded, by their check
// against the table (see index).
func (p *pgStore) resync(ctx context.Context, start int64) error {
	rows, err := p.pool.Query(ctx, `SELECT id, label FROM software_keys`)
	if err != nil {
		return err
	}
	present := map[string]string{}
	var (
		id    []byte
		label string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &label}, func() error {
		present[backend.KeyID(id).String()] = label
		return nil
	})
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for stem, k := range p.byID {
		if l, ok := present[stem]; k.indexedAt < start && (!ok || l != k.label) {
			p.drop(k)
		}
	}
	return nil
}

// confirm is the store's confirm hook, on every operation's path: a key
// may be used without asking the table while the listener has delivered
// every change committed up to MaxStale ago (or the table itself showed the
// key that recently). It costs two atomic loads and a clock read; only
// once the bound has run out — the notification connection is down — does
// it ask the table, once per key per bound.
func (p *pgStore) confirm(ctx context.Context, k *key) error {
	if !k.verify.Load() && p.listener.Fresh(k.checked.Load()) {
		return nil
	}
	return p.recheck(ctx, k)
}

// recheck asks the table whether k still exists, evicting it if not. One
// goroutine per key asks; the others wait for its answer.
func (p *pgStore) recheck(ctx context.Context, k *key) error {
	k.recheckMu.Lock()
	defer k.recheckMu.Unlock()
	if !k.verify.Load() && p.listener.Fresh(k.checked.Load()) {
		return nil
	}
	// No deadline of its own: the operation waits for the answer (within
	// the caller's context), and the answer is as of the query, however
	// long a loaded machine takes to get it.
	start := pgnotify.Now()
	var label string
	err := p.pool.QueryRow(ctx, `SELECT label FROM software_keys WHERE id = $1`, []byte(k.id)).Scan(&label)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && label != k.label {
		p.mu.Lock()
		p.drop(k)
		p.mu.Unlock()
		return fmt.Errorf("key was deleted: %w", backend.ErrKeyNotFound)
	}
	if err != nil {
		return dbErr(ctx, "confirm that the key still exists", err)
	}
	for {
		old := k.checked.Load()
		if start <= old || k.checked.CompareAndSwap(old, start) {
			break
		}
	}
	k.verify.Store(false)
	return nil
}

// Key finds the key ref names: from the index when the key there is still
// confirmed (see confirm), else from the table. It fails with
// [backend.ErrKeyNotFound] when the table has no such key, with an error
// wrapping [backend.ErrCorrupt] when its row cannot be decrypted, and with
// [ErrUnavailable] when the database cannot be asked.
func (p *pgStore) Key(ctx context.Context, ref backend.KeyRef) (backend.Key, error) {
	const op = "find key"
	if err := p.check(ctx, op, ref.String()); err != nil {
		return nil, err
	}
	if err := ref.Validate(); err != nil {
		return nil, backend.Errorf(op, p.name, "", err)
	}
	p.mu.RLock()
	k := p.findKey(ref)
	p.mu.RUnlock()
	if k != nil {
		err := p.confirm(ctx, k)
		if err == nil {
			return k, nil
		}
		if !errors.Is(err, backend.ErrKeyNotFound) {
			return nil, backend.Errorf(op, p.name, ref.String(), err)
		}
		// Deleted elsewhere; another key may hold the label now.
	}
	return p.load(ctx, op, ref)
}

// load reads the key ref names from the table into the index.
func (p *pgStore) load(ctx context.Context, op string, ref backend.KeyRef) (backend.Key, error) {
	gen := p.listener.Generation()
	start := pgnotify.Now()
	var (
		id     []byte
		label  string
		sealed []byte
		row    pgx.Row
	)
	if len(ref.ID) > 0 {
		row = p.pool.QueryRow(ctx, `SELECT id, label, sealed FROM software_keys WHERE id = $1`, []byte(ref.ID))
	} else {
		row = p.pool.QueryRow(ctx, `SELECT id, label, sealed FROM software_keys WHERE label = $1`, ref.Label)
	}
	err := row.Scan(&id, &label, &sealed)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !ref.Matches(id, label) {
		return nil, backend.Errorf(op, p.name, ref.String(), backend.ErrKeyNotFound)
	}
	if err != nil {
		return nil, backend.Errorf(op, p.name, ref.String(), dbErr(ctx, "read the key", err))
	}
	k, err := p.openRow(id, label, sealed)
	if err != nil {
		return nil, backend.Errorf(op, p.name, ref.String(), err)
	}
	k.checked.Store(start)
	got, err := p.index(k, gen)
	if err != nil {
		return nil, backend.Errorf(op, p.name, ref.String(), err)
	}
	return got, nil
}

// Keys lists the table's keys, sorted by label, in one statement (one
// snapshot). Rows that cannot be decrypted are reported as for the
// directory store: the readable keys come with an error joining one error
// per bad row, each naming the row's key ID and wrapping
// [backend.ErrCorrupt].
func (p *pgStore) Keys(ctx context.Context) ([]backend.Key, error) {
	const op = "list keys"
	if err := p.check(ctx, op, ""); err != nil {
		return nil, err
	}
	gen := p.listener.Generation()
	start := pgnotify.Now()
	rows, err := p.pool.Query(ctx, `SELECT id, label, sealed FROM software_keys`)
	if err != nil {
		return nil, backend.Errorf(op, p.name, "", dbErr(ctx, "list the keys", err))
	}
	type row struct {
		id     []byte
		label  string
		sealed []byte
	}
	var r row
	var all []row
	if _, err := pgx.ForEachRow(rows, []any{&r.id, &r.label, &r.sealed}, func() error {
		all = append(all, row{slices.Clone(r.id), r.label, slices.Clone(r.sealed)})
		return nil
	}); err != nil {
		return nil, backend.Errorf(op, p.name, "", dbErr(ctx, "list the keys", err))
	}
	keys := make([]backend.Key, 0, len(all))
	var errs []error
	for _, r := range all {
		p.mu.RLock()
		k := p.byID[backend.KeyID(r.id).String()]
		p.mu.RUnlock()
		if k == nil || k.label != r.label {
			if k, err = p.openRow(r.id, r.label, r.sealed); err != nil {
				errs = append(errs, err)
				continue
			}
			k.checked.Store(start)
			if k, err = p.index(k, gen); err != nil {
				return nil, backend.Errorf(op, p.name, "", err)
			}
		}
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b backend.Key) int { return cmp.Compare(a.Label(), b.Label()) })
	if len(errs) > 0 {
		return keys, backend.Errorf(op, p.name, "", errors.Join(errs...))
	}
	return keys, nil
}

// DeleteKey deletes the key's row in one statement: of several processes
// deleting one key, exactly one succeeds and the others get
// [backend.ErrKeyNotFound]. The key is evicted here at once — handles this
// process gave out fail from the next operation — and, through the
// table's trigger, from every other process within the bound. A ref by ID
// also deletes a row that cannot be decrypted.
func (p *pgStore) DeleteKey(ctx context.Context, ref backend.KeyRef) error {
	const op = "delete key"
	if err := p.check(ctx, op, ref.String()); err != nil {
		return err
	}
	if err := ref.Validate(); err != nil {
		return backend.Errorf(op, p.name, "", err)
	}
	var (
		id  []byte
		err error
	)
	switch {
	case len(ref.ID) > 0 && ref.Label != "":
		err = p.pool.QueryRow(ctx, `DELETE FROM software_keys WHERE id = $1 AND label = $2 RETURNING id`, []byte(ref.ID), ref.Label).Scan(&id)
	case len(ref.ID) > 0:
		err = p.pool.QueryRow(ctx, `DELETE FROM software_keys WHERE id = $1 RETURNING id`, []byte(ref.ID)).Scan(&id)
	default:
		err = p.pool.QueryRow(ctx, `DELETE FROM software_keys WHERE label = $1 RETURNING id`, ref.Label).Scan(&id)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return backend.Errorf(op, p.name, ref.String(), backend.ErrKeyNotFound)
	}
	if err != nil {
		return backend.Errorf(op, p.name, ref.String(), dbErr(ctx, "delete the key", err))
	}
	p.handle(backend.KeyID(id).String())
	return nil
}

// GenerateKey creates a key from spec with crypto/rand and inserts it. A
// zero spec.ID gets a random 16-byte ID. Of several processes creating the
// same label (or ID) at once exactly one succeeds; the others fail with
// [backend.ErrKeyExists]. [backend.ErrInvalidInput] means a malformed spec.
func (p *pgStore) GenerateKey(ctx context.Context, spec backend.KeySpec) (backend.Key, error) {
	const op = "generate key"
	if err := p.check(ctx, op, spec.Label); err != nil {
		return nil, err
	}
	spec, err := normalize(op, p.name, spec)
	if err != nil {
		return nil, err
	}
	priv, err := privkey.Generate(spec.Algorithm)
	if err != nil {
		return nil, backend.Errorf(op, p.name, spec.Label, err)
	}
	defer privkey.Wipe(priv)
	if err := p.check(ctx, op, spec.Label); err != nil {
		return nil, err
	}
	return p.insert(ctx, op, spec, priv)
}

// ImportKey stores a copy of priv under spec, as the in-memory store's
// ImportKey does, with GenerateKey's guarantees about concurrent creation.
func (p *pgStore) ImportKey(ctx context.Context, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
	const op = "import key"
	if err := p.check(ctx, op, spec.Label); err != nil {
		return nil, err
	}
	spec, err := normalize(op, p.name, spec)
	if err != nil {
		return nil, err
	}
	return p.insert(ctx, op, spec, priv)
}

// insert seals the key and inserts its row; the table's unique
// constraints pick the one winner of a race.
func (p *pgStore) insert(ctx context.Context, op string, spec backend.KeySpec, priv crypto.PrivateKey) (backend.Key, error) {
	k, rec, err := p.build(op, spec, priv)
	if err != nil {
		return nil, err
	}
	defer clear(rec.Private)
	plaintext := rec.marshal()
	sealed, err := encrypt(plaintext, p.recipient)
	clear(plaintext)
	if err != nil {
		k.retire()
		return nil, backend.Errorf(op, p.name, spec.Label, err)
	}
	gen := p.listener.Generation()
	start := pgnotify.Now()
	_, err = p.pool.Exec(ctx, `INSERT INTO software_keys (id, label, sealed, created_at) VALUES ($1, $2, $3, $4)`,
		[]byte(spec.ID), spec.Label, sealed, time.Now().UnixNano())
	if err != nil {
		k.retire()
		if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == "23505" {
			if pe.ConstraintName == "software_keys_pkey" {
				err = fmt.Errorf("ID %s is in use: %w", spec.ID, backend.ErrKeyExists)
			} else {
				err = fmt.Errorf("label is in use: %w", backend.ErrKeyExists)
			}
			return nil, backend.Errorf(op, p.name, spec.Label, err)
		}
		return nil, backend.Errorf(op, p.name, spec.Label, dbErr(ctx, "insert the key", err))
	}
	k.checked.Store(start)
	got, err := p.index(k, gen)
	if err != nil {
		return nil, backend.Errorf(op, p.name, spec.Label, err)
	}
	return got, nil
}

// Close wipes every key this process decrypted after its in-flight
// operations finish, stops listening and closes the connections. Later
// calls return nil; every operation afterwards fails with
// [backend.ErrClosed]. Keys stay in the database.
func (p *pgStore) Close() error {
	err := p.store.Close()
	p.closeOnce.Do(func() {
		p.listener.Close()
		p.pool.Close()
	})
	return err
}

// equalPublic reports whether two public keys are the same key.
func equalPublic(a, b crypto.PublicKey) bool {
	if ea, ok := a.(interface{ Bytes() []byte }); ok {
		eb, ok := b.(interface{ Bytes() []byte })
		return ok && string(ea.Bytes()) == string(eb.Bytes())
	}
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
