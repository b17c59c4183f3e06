// Package software is the reference cryptoplug backend: keys live in this
// process, and every operation is the standard library's (or circl's, for
// Ed448 and ML-DSA) with the shared validation of package backend in front.
// Other backends are measured against it.
//
// Import it for its side effect and open it through [backend.Open]:
//
//	import _ "github.com/cryptoplug/cryptoplug/backends/software"
//
//	b, err := backend.Open(ctx, "software:")
//
// # URIs
//
// Three key stores are registered under the scheme "software":
//
//	software:
//
// is an in-memory store. Each Open returns a fresh, empty store, and its keys
// are gone after Close (Info.Kind "memory", Persistent false). Use it in tests
// and for short-lived keys.
//
//	software:dir=/abs/path?pin-source=file:/abs/passphrase-file
//	software:dir=/abs/path?pin-source=env:NAME
//	software:dir=/abs/path?pin-value=…
//
// is a directory store (Info.Kind "directory", Persistent true): every key is
// a file, encrypted at rest under a key derived from the passphrase. The
// directory is created (mode 0700) when it does not exist, and a new store is
// initialised when the directory holds no store yet. The passphrase is
// required and comes from the URI's PIN attributes (see [backend.URI.PIN]);
// prefer pin-source, since pin-value puts the secret in command lines.
// A new store's passphrase is stretched with scrypt at
// [DefaultScryptWorkFactor]; no attribute lowers it.
//
// A third store keeps the keys in PostgreSQL, shared by every process that
// opens the same database and schema — several server instances behind one
// load balancer:
//
//	software:postgres?dsn-source=file:/abs/dsn-file&pin-source=file:/abs/passphrase-file
//	software:postgres?dsn-source=env:NAME&pin-source=env:NAME[&max-stale=1s]
//
// (Info.Kind "postgres", Persistent true). dsn-source names the pgx
// connection string ("postgres://user@host/db?sslmode=verify-full", or the
// key=value form; pool settings such as pool_max_conns are accepted) through
// the same sources as pin-source, because a connection string may hold a
// password: it never appears in the URI, and no error or log quotes it. The
// tables (software_keystore, software_keys, software_keystore_migrations, a
// trigger function) are created in the connection's search_path on first
// open and migrated in versioned steps; a schema migrated by a newer program
// is refused.
//
// The PostgreSQL store encrypts exactly as the directory store does: one
// scrypt per open unlocks the store's identity (a row of software_keystore),
// and each key is a row of software_keys holding its age-encrypted key file.
// Label and ID are also stored in the clear, so that the database keeps them
// unique: of several processes creating the same label (or ID) at once
// exactly one succeeds and the others fail with [backend.ErrKeyExists]; of
// several deleting one key, one succeeds and the others get
// [backend.ErrKeyNotFound]. Create, delete and list are one statement each.
// Two processes opening an empty schema at once end up with one identity.
//
// Each process keeps the keys it has used decrypted in memory, and keeps
// that cache coherent: a trigger notifies (LISTEN/NOTIFY) every key row that
// changes or goes, and a dedicated connection per open store evicts the key
// on delivery, usually milliseconds after the commit. A key deleted through
// one process fails in that process at once and in every other within
// max-stale (default 1s, from 100ms to 1h), and this bound holds when
// notifications are lost: a heartbeat through the notification connection
// shows how far delivery has got, and once it lags by more than max-stale
// (connection down, half-open or reconnecting) each operation first asks the
// table whether its key still exists, once per key per max-stale. If the
// database cannot answer, the operation fails with [ErrUnavailable] rather
// than act on a key that may have been deleted: this store trades
// availability during a database outage (beyond max-stale) for that bound.
// The connections reconnect by themselves when the database comes back.
//
// # Directory layout
//
//	keystore.age  the store's age hybrid (ML-KEM-768 + X25519) identity,
//	              encrypted with age's scrypt passphrase recipient
//	<hex-id>.key  one key per file, encrypted with age to that identity
//	.lock         held with flock(2) while the store is open
//
// Opening a store costs one scrypt; each key file then costs one age
// decryption. The recipient is stored only inside keystore.age, so without
// the passphrase key files can be neither read nor forged, though they can be
// deleted or replaced by an older copy of the same file. Files are written to
// a temporary file in the same directory, synced, renamed into place and the
// directory synced, all with mode 0600.
//
// One process at a time: Open takes an exclusive, non-blocking flock on .lock
// for the life of the store, and fails with an error wrapping [ErrLocked] when
// another Open (in this process or another) holds it. Close releases it. On
// systems without flock (everything but Linux, macOS and the BSDs) there is no
// such protection, and two processes must not open the same directory. flock
// on network file systems is only as reliable as the file system's locking.
//
// A key file that cannot be read (damaged, truncated, or not a key file) does
// not stop Open: the other keys work, and the file is reported by
// [backend.Backend.Keys], which returns the readable keys together with an
// error joining one error per bad file (each wrapping [backend.ErrCorrupt] and
// naming the file), and by [backend.Backend.Key] for the bad file's ID. Such a
// file is never overwritten; DeleteKey with its ID removes it.
//
// # Keys and operations
//
// Every [backend.Algorithm] is supported: generate, import ([backend.Importer])
// and use. RSA keys sign, and also decrypt when created with
// [backend.UsageDecrypt]; ECDSA, Ed25519, Ed448 and ML-DSA keys sign; ML-KEM
// keys decapsulate. Signatures are those of the standard library's keys for
// the same inputs: ECDSA is ASN.1 DER (and RFC 6979 deterministic when rand is
// nil, as crypto/ecdsa does), ML-DSA is circl's deterministic signing with an
// empty context. Inputs are validated as package backend prescribes before any
// private key is touched.
//
// Software operations cannot block, so the context-free methods (Sign,
// Decrypt, Decapsulate) run without a timeout and the context-taking ones
// check the context once, before starting.
//
// Private keys are wiped from memory on DeleteKey and Close where Go allows:
// byte-slice keys (Ed25519, Ed448), circl ML-DSA keys and big.Int scalars are
// zeroed after in-flight operations finish; the standard library's internal
// copies (RSA's precomputed values, ML-KEM keys) cannot be reached and are
// left to the garbage collector.
//
// All errors are [*backend.Error] values naming the operation, the store
// ("software", or the persistent store's redacted URI) and the key's label.
// They never contain a passphrase, a connection string's password or key
// material.
package software
