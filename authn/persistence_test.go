package authn_test

import (
	"bytes"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/pgtest"
	"github.com/cryptoplug/cryptoplug/authn/sqlstore"
	"github.com/cryptoplug/cryptoplug/seal"
)

func TestStatePersistsAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "authn.db")
	st, err := sqlstore.OpenSQLite(ctx, path)
	require.NoError(t, err)
	e := newEnvOn(t, st, path)
	app, keys := e.app(t, authn.RoleService)
	sess, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: app.ID, BasicPassword: keys[0].Key})
	require.NoError(t, err)
	u := e.user(t, "pat@example.com", authn.RoleKeyOperation)
	pin, err := e.svc.CreatePIN(ctx, e.admin(t), u.ID)
	require.NoError(t, err)
	sec, err := e.svc.RedeemPIN(ctx, u.ID, pin.PIN, addr)
	require.NoError(t, err)
	revoked, err := e.svc.CreateAPIKey(ctx, app.ID, authn.RoleService, 0)
	require.NoError(t, err)
	require.NoError(t, e.svc.RevokeAPIKey(ctx, revoked.ID))
	require.NoError(t, st.Close())

	// A new process: same file, same peppers, a fresh Service.
	st2, err := sqlstore.OpenSQLite(ctx, path)
	require.NoError(t, err)
	t.Cleanup(func() { st2.Close() })
	e2 := newEnvOn(t, st2, path, func(c *authn.Config) { c.Clock = e.clock.Now })
	for name, c := range map[string]authn.Credentials{
		"API key":     {APIKey: keys[0].Key},
		"session":     {Bearer: sess.Token},
		"user secret": {UserSecret: sec.Secret},
	} {
		_, err := e2.svc.Authenticate(ctx, c)
		require.NoError(t, err, name)
	}
	_, err = e2.svc.CreateSession(ctx, authn.Credentials{BasicUser: "pat@example.com", BasicPassword: authn.NewSecret(password)})
	require.NoError(t, err, "password")
	_, err = e2.svc.Authenticate(ctx, authn.Credentials{APIKey: revoked.Key})
	require.ErrorIs(t, err, authn.ErrUnauthenticated, "revocation persists too")
	v, err := st2.SchemaVersion(ctx)
	require.NoError(t, err)
	require.Equal(t, 7, v)
}

// plaintexts runs every flow that handles a secret and returns all the
// plaintexts that went through the store's hands.
func plaintexts(t *testing.T, e *env) []string {
	t.Helper()
	admin := e.admin(t)
	u := e.user(t, "quinn@example.com", authn.RoleKeyOperation)
	app, keys := e.app(t, authn.RoleService, authn.RoleKeyOperation)
	sess, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: u.Email, BasicPassword: authn.NewSecret(password)})
	require.NoError(t, err)
	reauth, err := e.svc.Reauth(ctx, authn.Credentials{Bearer: sess.Token})
	require.NoError(t, err)
	appSess, err := e.svc.CreateSession(ctx, authn.Credentials{BasicUser: app.ID, BasicPassword: keys[0].Key})
	require.NoError(t, err)
	rotated, err := e.svc.RotateAPIKey(ctx, keys[1].ID, time.Hour)
	require.NoError(t, err)
	pin, err := e.svc.CreatePIN(ctx, admin, u.ID)
	require.NoError(t, err)
	sec, err := e.svc.RedeemPIN(ctx, u.ID, pin.PIN, addr)
	require.NoError(t, err)
	pending, err := e.svc.CreatePIN(ctx, admin, u.ID) // left unredeemed in the table
	require.NoError(t, err)
	reg, err := e.svc.CreateRegistrationToken(ctx, admin, authn.RegistrationTokenSpec{Roles: authn.NewRoleSet(authn.RoleService), Uses: 3, ValidFor: time.Hour})
	require.NoError(t, err)
	priv, pub := clientKeys(t)
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	require.NoError(t, err)
	blob, err := seal.Seal(e.svc.RecoveryPublicKey(), privDER)
	require.NoError(t, err)
	client, err := e.svc.RegisterClient(ctx, reg.Token, authn.ClientRegistration{Name: "c", PublicKeys: [][]byte{pub}, Backup: blob}, addr)
	require.NoError(t, err)

	return []string{
		password, keys[0].Key.Reveal(), keys[1].Key.Reveal(), rotated.Key.Reveal(), sess.Token.Reveal(), reauth.Token.Reveal(),
		appSess.Token.Reveal(), pin.PIN.Reveal(), pending.PIN.Reveal(), sec.Secret.Reveal(), reg.Token.Reveal(),
		client.APIKeys[0].Key.Reveal(), string(privDER),
	}
}

// requireAbsent fails if any plaintext, or its random part, or its hex
// encoding, occurs in data.
func requireAbsent(t *testing.T, data []byte, secrets []string, where string) {
	t.Helper()
	for _, s := range secrets {
		needles := []string{s, hex.EncodeToString([]byte(s))}
		if authn.TokenKindOf(s) != 0 {
			needles = append(needles, s[4:])
		}
		for _, n := range needles {
			require.False(t, bytes.Contains(data, []byte(n)), "%s contains a plaintext secret (%d bytes)", where, len(s))
		}
	}
}

func TestSQLiteFileHoldsNoPlaintext(t *testing.T) {
	dk := mlkem768(t)
	e := newEnv(t, withRecovery(dk))
	secrets := plaintexts(t, e)
	scan := func(when string) {
		files, err := filepath.Glob(e.path + "*") // the database, -wal and -shm
		require.NoError(t, err)
		require.NotEmpty(t, files)
		for _, f := range files {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			requireAbsent(t, b, secrets, when+" "+filepath.Base(f))
		}
	}
	scan("open")
	// The scan is not vacuous: the file does hold the non-secret data.
	b, err := os.ReadFile(e.path)
	require.NoError(t, err)
	wal, _ := os.ReadFile(e.path + "-wal")
	require.True(t, bytes.Contains(append(b, wal...), []byte("quinn@example.com")))
	require.NoError(t, e.store.Close())
	scan("closed")
}

func TestPostgresTablesHoldNoPlaintext(t *testing.T) {
	dsn := pgtest.Shared(t).NewSchema(t)
	st, err := sqlstore.OpenPostgres(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	e := newEnvOn(t, st, "", withRecovery(mlkem768(t)), func(c *authn.Config) { c.RateLimit.Shared = true })
	secrets := plaintexts(t, e)
	// Failures, counted in the shared rate-limit table: neither the token
	// nor what the caller typed may land there.
	badKey := authn.NewToken(authn.TokenAPIKey)
	_, err = e.svc.Authenticate(ctx, authn.Credentials{APIKey: badKey, RemoteAddr: netip.MustParseAddr("198.51.100.9")})
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	_, err = e.svc.CreateSession(ctx, authn.Credentials{BasicUser: "typo-user@example.com", BasicPassword: authn.NewSecret("wrong password 0123"),
		RemoteAddr: netip.MustParseAddr("198.51.100.9")})
	require.ErrorIs(t, err, authn.ErrUnauthenticated)
	secrets = append(secrets, badKey.Reveal(), "wrong password 0123", "typo-user@example.com", "198.51.100.9")

	db, err := sql.Open("pgx", dsn)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	require.Contains(t, tables, "sessions")
	require.Len(t, tables, 19, "principals, api_keys, sessions, pins, user_secrets, registration_tokens, client_backups, access_groups, group_members, key_owners, auth_failures, token_uses, approvers, key_states, key_state_approvers, approval_tasks, approval_task_approvers, approval_decisions, schema_migrations: %v", tables)

	var dump bytes.Buffer
	for _, table := range tables {
		rows, err := db.QueryContext(ctx, `SELECT row_to_json(t)::text FROM `+table+` t`)
		require.NoError(t, err)
		for rows.Next() {
			var js string
			require.NoError(t, rows.Scan(&js))
			var row map[string]any
			require.NoError(t, json.Unmarshal([]byte(js), &row))
			for _, v := range row {
				s, ok := v.(string) // numbers (times, counters) cannot hold a token
				if !ok {
					continue
				}
				dump.WriteString(s + "\n")
				if b, err := hex.DecodeString(strings.TrimPrefix(s, `\x`)); err == nil && strings.HasPrefix(s, `\x`) {
					dump.Write(b) // bytea columns, decoded
					dump.WriteByte('\n')
				}
			}
		}
		require.NoError(t, rows.Err())
	}
	require.Contains(t, dump.String(), "quinn@example.com", "the dump is not vacuous")
	var failures int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM auth_failures`).Scan(&failures))
	require.Positive(t, failures, "the failures were counted in the database")
	requireAbsent(t, dump.Bytes(), secrets, "PostgreSQL tables")
}
