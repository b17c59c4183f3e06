// Package storetest is the conformance suite every [authn.Store]
// implementation must pass. Run it from the implementation's tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) authn.Store { return openEmptyStore(t) })
//	}
//
// It checks the contract written on [authn.Store]: sentinel errors, round
// trips, cascades, and the atomicity of the operations that decide races
// (PIN consumption, session replacement, registration uses, credential
// resets against concurrent logins), and of approval tasks (see also
// [RunApprovalRaces], which needs two stores on one database).
package storetest

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

// Open returns a new, empty store. The suite closes it.
type Open func(t *testing.T) authn.Store

// base is an arbitrary instant with a nanosecond part, to check precision.
var base = time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)

// Run runs the suite, each case as a subtest on its own store.
func Run(t *testing.T, open Open) {
	cases := []struct {
		name string
		f    func(t *testing.T, s authn.Store)
	}{
		{"PrincipalRoundTrip", testPrincipalRoundTrip},
		{"PrincipalUniqueness", testPrincipalUniqueness},
		{"DeletePrincipalCascades", testDeletePrincipalCascades},
		{"APIKeys", testAPIKeys},
		{"RotateAPIKey", testRotateAPIKey},
		{"ResetCredentials", testResetCredentials},
		{"Sessions", testSessions},
		{"SessionEpoch", testSessionEpoch},
		{"SessionsFollowTheirAPIKey", testSessionsFollowTheirAPIKey},
		{"ReplaceSessionRace", testReplaceSessionRace},
		{"ResetRacesLogins", testResetRacesLogins},
		{"PINs", testPINs},
		{"PINAttemptRace", testPINAttemptRace},
		{"ConsumePINRace", testConsumePINRace},
		{"UserSecrets", testUserSecrets},
		{"RegistrationTokens", testRegistrationTokens},
		{"RegisterClientRace", testRegisterClientRace},
		{"Backups", testBackups},
		{"Rehash", testRehash},
		{"PurgeExpired", testPurgeExpired},
		{"Groups", testGroups},
		{"GroupMemberships", testGroupMemberships},
		{"KeyOwnership", testKeyOwnership},
		{"TokenUses", testTokenUses},
		{"TokenUseRace", testTokenUseRace},
	}
	cases = append(cases, approvalCases...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			c.f(t, s)
		})
	}
}

var ctx = context.Background()

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

var idSeq atomic.Int64

func id(prefix string) string { return fmt.Sprintf("%s%d_%x", prefix, idSeq.Add(1), randBytes(4)) }

func user(email string) authn.PrincipalRecord {
	return authn.PrincipalRecord{ID: id("usr_"), Kind: authn.KindUser, Name: email, Email: email,
		Roles: authn.NewRoleSet(authn.RoleAdmin, authn.RoleKeyOperation), PasswordHash: "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
		Method: authn.MethodPassword, CreatedAt: base}
}

func app() authn.PrincipalRecord {
	return authn.PrincipalRecord{ID: id("app_"), Kind: authn.KindApplication, Name: "app", Roles: authn.NewRoleSet(authn.RoleKeyOperation, authn.RoleService),
		Method: authn.MethodAPIKey, CreatedAt: base}
}

func apiKey(owner string, role authn.Role, expires time.Time) authn.APIKeyRecord {
	return authn.APIKeyRecord{ID: id("key_"), PrincipalID: owner, Role: role, Hash: randBytes(32), PepperVersion: 1, CreatedAt: base, ExpiresAt: expires}
}

func session(p authn.PrincipalRecord) authn.SessionRecord {
	return authn.SessionRecord{ID: id("ses_"), Hash: randBytes(32), PepperVersion: 1, PrincipalID: p.ID, PrincipalKind: p.Kind,
		Roles: p.Roles, Method: authn.MethodPassword, CreatedAt: base, LastUsedAt: base, ExpiresAt: base.Add(time.Hour), Epoch: p.Epoch}
}

func mustCreate(t *testing.T, s authn.Store, p authn.PrincipalRecord, keys ...authn.APIKeyRecord) authn.PrincipalRecord {
	t.Helper()
	require.NoError(t, s.CreatePrincipal(ctx, p, keys))
	return p
}

func requireSameTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	require.True(t, want.Equal(got), "%s: want %v, got %v", what, want, got)
}

func testPrincipalRoundTrip(t *testing.T, s authn.Store) {
	u := mustCreate(t, s, user("alice@example.com"))
	got, err := s.GetPrincipal(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, u.ID, got.ID)
	require.Equal(t, authn.KindUser, got.Kind)
	require.Equal(t, u.Roles, got.Roles)
	require.Equal(t, u.PasswordHash, got.PasswordHash)
	require.Equal(t, authn.MethodPassword, got.Method)
	require.Equal(t, int64(0), got.Epoch)
	requireSameTime(t, base, got.CreatedAt, "created_at keeps nanoseconds")

	byEmail, err := s.GetUserByEmail(ctx, "alice@example.com")
	require.NoError(t, err)
	require.Equal(t, u.ID, byEmail.ID)

	c := app()
	c.Kind, c.ID = authn.KindClient, id("cli_")
	c.PublicKeys = [][]byte{randBytes(91), randBytes(1200), {0x30}}
	mustCreate(t, s, c)
	gotC, err := s.GetPrincipal(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, c.PublicKeys, gotC.PublicKeys)
	require.Empty(t, gotC.Email)

	cert := app()
	cert.Method, cert.CertSHA256 = authn.MethodCertificate, randBytes(32)
	mustCreate(t, s, cert)
	byCert, err := s.GetPrincipalByCertificate(ctx, cert.CertSHA256)
	require.NoError(t, err)
	require.Equal(t, cert.ID, byCert.ID)

	all, err := s.ListPrincipals(ctx)
	require.NoError(t, err)
	require.Len(t, all, 3)

	for name, err := range map[string]error{
		"id":    func() error { _, err := s.GetPrincipal(ctx, "usr_missing"); return err }(),
		"email": func() error { _, err := s.GetUserByEmail(ctx, "nobody@example.com"); return err }(),
		"cert":  func() error { _, err := s.GetPrincipalByCertificate(ctx, randBytes(32)); return err }(),
		"nil":   func() error { _, err := s.GetPrincipalByCertificate(ctx, nil); return err }(),
	} {
		require.ErrorIs(t, err, authn.ErrNotFound, name)
	}
}

func testPrincipalUniqueness(t *testing.T, s authn.Store) {
	u := mustCreate(t, s, user("bob@example.com"))
	dupID := user("other@example.com")
	dupID.ID = u.ID
	require.ErrorIs(t, s.CreatePrincipal(ctx, dupID, nil), authn.ErrAlreadyExists)
	require.ErrorIs(t, s.CreatePrincipal(ctx, user("bob@example.com"), nil), authn.ErrAlreadyExists)

	a := app()
	a.Method, a.CertSHA256 = authn.MethodCertificate, randBytes(32)
	mustCreate(t, s, a)
	b := app()
	b.Method, b.CertSHA256 = authn.MethodCertificate, a.CertSHA256
	require.ErrorIs(t, s.CreatePrincipal(ctx, b, nil), authn.ErrAlreadyExists)

	// A failed CreatePrincipal inserts none of its keys.
	c := app()
	k1 := apiKey(c.ID, authn.RoleService, time.Time{})
	k2 := apiKey(c.ID, authn.RoleService, time.Time{})
	k2.Hash = k1.Hash
	require.ErrorIs(t, s.CreatePrincipal(ctx, c, []authn.APIKeyRecord{k1, k2}), authn.ErrAlreadyExists)
	_, err := s.GetPrincipal(ctx, c.ID)
	require.ErrorIs(t, err, authn.ErrNotFound, "principal must be rolled back with its keys")
	_, err = s.GetAPIKeyByHash(ctx, k1.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound)
}

func testDeletePrincipalCascades(t *testing.T, s authn.Store) {
	u := mustCreate(t, s, user("carol@example.com"))
	a := app()
	k := apiKey(a.ID, authn.RoleService, time.Time{})
	mustCreate(t, s, a, k)
	sess := session(u)
	require.NoError(t, s.CreateSession(ctx, sess))
	require.NoError(t, s.PutPIN(ctx, authn.PINRecord{ID: id("pin_"), PrincipalID: u.ID, Hash: "h", IssuedBy: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}))
	secret := authn.UserSecretRecord{PrincipalID: u.ID, Hash: randBytes(32), PepperVersion: 1, Fingerprint: "fp", CreatedAt: base}
	pin2 := id("pin_")
	require.NoError(t, s.PutPIN(ctx, authn.PINRecord{ID: pin2, PrincipalID: u.ID, Hash: "h", IssuedBy: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}))
	require.NoError(t, s.ConsumePIN(ctx, pin2, base, secret))
	require.NoError(t, s.PutPIN(ctx, authn.PINRecord{ID: id("pin_"), PrincipalID: u.ID, Hash: "h", IssuedBy: u.ID, CreatedAt: base, ExpiresAt: base.Add(time.Hour)}))
	require.NoError(t, s.PutBackup(ctx, a.ID, []byte("blob"), base))

	require.NoError(t, s.DeletePrincipal(ctx, u.ID))
	require.NoError(t, s.DeletePrincipal(ctx, a.ID))
	require.ErrorIs(t, s.DeletePrincipal(ctx, u.ID), authn.ErrNotFound)

	_, err := s.GetSessionByHash(ctx, sess.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound, "session")
	_, err = s.GetAPIKeyByHash(ctx, k.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound, "API key")
	_, err = s.GetUserSecretByHash(ctx, secret.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound, "user secret")
	_, err = s.ReservePINAttempt(ctx, u.ID, base, 5)
	require.ErrorIs(t, err, authn.ErrNotFound, "PIN")
	_, err = s.GetBackup(ctx, a.ID)
	require.ErrorIs(t, err, authn.ErrNotFound, "backup")

	// Nothing can be attached to a deleted principal.
	require.ErrorIs(t, s.CreateAPIKey(ctx, apiKey(a.ID, authn.RoleService, time.Time{})), authn.ErrNotFound)
	require.ErrorIs(t, s.CreateSession(ctx, session(u)), authn.ErrNotFound)
	require.ErrorIs(t, s.PutBackup(ctx, a.ID, []byte("x"), base), authn.ErrNotFound)
}

func testAPIKeys(t *testing.T, s authn.Store) {
	a := app()
	k1 := apiKey(a.ID, authn.RoleKeyOperation, time.Time{})
	mustCreate(t, s, a, k1)
	k2 := apiKey(a.ID, authn.RoleKeyOperation, base.Add(time.Hour))
	k2.CreatedAt = base.Add(time.Second)
	require.NoError(t, s.CreateAPIKey(ctx, k2))

	got, err := s.GetAPIKeyByHash(ctx, k2.Hash)
	require.NoError(t, err)
	require.Equal(t, k2.ID, got.ID)
	require.Equal(t, a.ID, got.PrincipalID)
	require.Equal(t, authn.RoleKeyOperation, got.Role)
	require.Equal(t, uint32(1), got.PepperVersion)
	requireSameTime(t, k2.ExpiresAt, got.ExpiresAt, "expires_at")
	require.Equal(t, authn.KindApplication, got.PrincipalKind, "owner kind is joined in")
	require.Equal(t, a.Roles, got.PrincipalRoles)
	require.Equal(t, authn.MethodAPIKey, got.PrincipalMethod)

	byID, err := s.GetAPIKey(ctx, k1.ID)
	require.NoError(t, err)
	require.True(t, byID.ExpiresAt.IsZero(), "no expiry stays zero")

	keys, err := s.ListAPIKeys(ctx, a.ID)
	require.NoError(t, err)
	require.Len(t, keys, 2)
	require.Equal(t, k1.ID, keys[0].ID, "oldest first")

	dup := apiKey(a.ID, authn.RoleService, time.Time{})
	dup.Hash = k1.Hash
	require.ErrorIs(t, s.CreateAPIKey(ctx, dup), authn.ErrAlreadyExists)

	require.NoError(t, s.DeleteAPIKey(ctx, k1.ID))
	require.ErrorIs(t, s.DeleteAPIKey(ctx, k1.ID), authn.ErrNotFound)
	_, err = s.GetAPIKeyByHash(ctx, k1.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound)
	_, err = s.GetAPIKey(ctx, k1.ID)
	require.ErrorIs(t, err, authn.ErrNotFound)
}

func testRotateAPIKey(t *testing.T, s authn.Store) {
	a := app()
	old := apiKey(a.ID, authn.RoleService, time.Time{})
	mustCreate(t, s, a, old)

	repl := apiKey(a.ID, authn.RoleService, time.Time{})
	require.NoError(t, s.RotateAPIKey(ctx, old.ID, base.Add(time.Minute), repl))
	got, err := s.GetAPIKey(ctx, old.ID)
	require.NoError(t, err)
	requireSameTime(t, base.Add(time.Minute), got.ExpiresAt, "old key's overlap expiry")
	_, err = s.GetAPIKeyByHash(ctx, repl.Hash)
	require.NoError(t, err)

	repl2 := apiKey(a.ID, authn.RoleService, time.Time{})
	require.NoError(t, s.RotateAPIKey(ctx, repl.ID, time.Time{}, repl2), "zero expiry deletes the old key")
	_, err = s.GetAPIKey(ctx, repl.ID)
	require.ErrorIs(t, err, authn.ErrNotFound)

	lost := apiKey(a.ID, authn.RoleService, time.Time{})
	require.ErrorIs(t, s.RotateAPIKey(ctx, "key_missing", time.Time{}, lost), authn.ErrNotFound)
	_, err = s.GetAPIKey(ctx, lost.ID)
	require.ErrorIs(t, err, authn.ErrNotFound, "replacement must not be inserted when the old key is gone")
}

func testResetCredentials(t *testing.T, s authn.Store) {
	a := app()
	k := apiKey(a.ID, authn.RoleService, time.Time{})
	mustCreate(t, s, a, k)
	sess := session(a)
	require.NoError(t, s.CreateSession(ctx, sess))

	a.Method, a.CertSHA256 = authn.MethodCertificate, randBytes(32)
	require.NoError(t, s.ResetCredentials(ctx, a, nil))
	got, err := s.GetPrincipal(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, authn.MethodCertificate, got.Method)
	require.Equal(t, a.CertSHA256, got.CertSHA256)
	require.Equal(t, int64(1), got.Epoch, "reset increments the epoch")
	_, err = s.GetAPIKeyByHash(ctx, k.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound, "reset revokes API keys")
	_, err = s.GetSessionByHash(ctx, sess.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound, "reset terminates sessions")

	a.Method, a.CertSHA256 = authn.MethodAPIKey, nil
	k2 := apiKey(a.ID, authn.RoleService, time.Time{})
	require.NoError(t, s.ResetCredentials(ctx, a, []authn.APIKeyRecord{k2}))
	got, err = s.GetPrincipal(ctx, a.ID)
	require.NoError(t, err)
	require.Nil(t, got.CertSHA256)
	require.Equal(t, int64(2), got.Epoch)
	_, err = s.GetAPIKeyByHash(ctx, k2.Hash)
	require.NoError(t, err)

	u := mustCreate(t, s, user("dave@example.com"))
	sec := authn.UserSecretRecord{PrincipalID: u.ID, Hash: randBytes(32), PepperVersion: 1, Fingerprint: "f", CreatedAt: base}
	require.NoError(t, s.PutPIN(ctx, pin(u, base.Add(time.Hour))))
	p2 := pin(u, base.Add(time.Hour))
	require.NoError(t, s.PutPIN(ctx, p2))
	require.NoError(t, s.ConsumePIN(ctx, p2.ID, base, sec))
	require.NoError(t, s.PutPIN(ctx, pin(u, base.Add(time.Hour))), "a pending PIN")
	u.PasswordHash = "$argon2id$new"
	require.NoError(t, s.ResetCredentials(ctx, u, nil))
	got, err = s.GetPrincipal(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, "$argon2id$new", got.PasswordHash)
	_, err = s.GetUserSecretByHash(ctx, sec.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound, "reset revokes the user secret")
	_, err = s.ReservePINAttempt(ctx, u.ID, base, 5)
	require.ErrorIs(t, err, authn.ErrNotFound, "reset revokes the pending PIN")

	missing := app()
	require.ErrorIs(t, s.ResetCredentials(ctx, missing, nil), authn.ErrNotFound)
}

func testSessions(t *testing.T, s authn.Store) {
	u := mustCreate(t, s, user("erin@example.com"))
	x := session(u)
	x.CertSHA256 = randBytes(32)
	x.Method = authn.MethodCertificate
	require.NoError(t, s.CreateSession(ctx, x))
	got, err := s.GetSessionByHash(ctx, x.Hash)
	require.NoError(t, err)
	require.Equal(t, x.ID, got.ID)
	require.Equal(t, u.ID, got.PrincipalID)
	require.Equal(t, authn.KindUser, got.PrincipalKind)
	require.Equal(t, u.Roles, got.Roles)
	require.Equal(t, authn.MethodCertificate, got.Method)
	require.Equal(t, x.CertSHA256, got.CertSHA256)
	requireSameTime(t, x.ExpiresAt, got.ExpiresAt, "expires_at")
	requireSameTime(t, x.LastUsedAt, got.LastUsedAt, "last_used_at")

	require.NoError(t, s.TouchSession(ctx, x.ID, base.Add(time.Minute)))
	require.NoError(t, s.TouchSession(ctx, x.ID, base.Add(time.Second)), "an earlier touch is ignored")
	require.NoError(t, s.TouchSession(ctx, "ses_missing", base), "a missing session is not an error")
	got, err = s.GetSessionByHash(ctx, x.Hash)
	require.NoError(t, err)
	requireSameTime(t, base.Add(time.Minute), got.LastUsedAt, "touched")

	y := session(u)
	y.CreatedAt = base.Add(time.Second)
	require.NoError(t, s.CreateSession(ctx, y))
	dup := session(u)
	dup.Hash = y.Hash
	require.ErrorIs(t, s.CreateSession(ctx, dup), authn.ErrAlreadyExists)

	list, err := s.ListSessions(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, x.ID, list[0].ID)

	require.NoError(t, s.DeleteSession(ctx, x.ID))
	require.ErrorIs(t, s.DeleteSession(ctx, x.ID), authn.ErrNotFound)
	_, err = s.GetSessionByHash(ctx, x.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound)

	n, err := s.DeleteSessions(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	n, err = s.DeleteSessions(ctx, u.ID)
	require.NoError(t, err)
	require.Zero(t, n)
}

func testSessionEpoch(t *testing.T, s authn.Store) {
	u := mustCreate(t, s, user("frank@example.com"))
	live := session(u)
	require.NoError(t, s.CreateSession(ctx, live))
	require.NoError(t, s.ResetCredentials(ctx, u, nil))

	stale := session(u) // epoch 0, but the principal is now at 1
	require.ErrorIs(t, s.CreateSession(ctx, stale), authn.ErrNotFound)
	_, err := s.GetSessionByHash(ctx, stale.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound)

	u.Epoch = 1
	cur := session(u)
	require.NoError(t, s.CreateSession(ctx, cur))

	// Replacing with a stale epoch changes nothing: the old session survives.
	next := session(u)
	next.Epoch = 0
	require.ErrorIs(t, s.ReplaceSession(ctx, cur.ID, next), authn.ErrNotFound)
	_, err = s.GetSessionByHash(ctx, cur.Hash)
	require.NoError(t, err, "a failed replace must roll back the delete")

	next.Epoch = 1
	require.NoError(t, s.ReplaceSession(ctx, cur.ID, next))
	_, err = s.GetSessionByHash(ctx, cur.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound)
	_, err = s.GetSessionByHash(ctx, next.Hash)
	require.NoError(t, err)

	orphan := session(u)
	orphan.Epoch = 1
	require.ErrorIs(t, s.ReplaceSession(ctx, "ses_missing", orphan), authn.ErrNotFound)
	_, err = s.GetSessionByHash(ctx, orphan.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound)
}

// testSessionsFollowTheirAPIKey: a session made from an API key cannot
// outlive it, be created after it, or be renewed past it.
func testSessionsFollowTheirAPIKey(t *testing.T, s authn.Store) {
	a := app()
	k := apiKey(a.ID, authn.RoleService, base.Add(time.Hour))
	forever := apiKey(a.ID, authn.RoleService, time.Time{})
	mustCreate(t, s, a, k, forever)
	fromKey := func(k authn.APIKeyRecord) authn.SessionRecord {
		x := session(a)
		x.Method, x.APIKeyID = authn.MethodAPIKey, k.ID
		return x
	}

	x := fromKey(k)
	require.NoError(t, s.CreateSession(ctx, x))
	got, err := s.GetSessionByHash(ctx, x.Hash)
	require.NoError(t, err)
	require.Equal(t, k.ID, got.APIKeyID)
	requireSameTime(t, k.ExpiresAt, got.APIKeyExpiresAt, "the key's expiry comes with the session")
	y := fromKey(forever)
	require.NoError(t, s.CreateSession(ctx, y))
	got, err = s.GetSessionByHash(ctx, y.Hash)
	require.NoError(t, err)
	require.True(t, got.APIKeyExpiresAt.IsZero(), "a key without expiry")
	plain := session(a)
	require.NoError(t, s.CreateSession(ctx, plain))
	got, err = s.GetSessionByHash(ctx, plain.Hash)
	require.NoError(t, err)
	require.Empty(t, got.APIKeyID)

	// Rotation with an overlap shortens the key; the session sees it.
	repl := apiKey(a.ID, authn.RoleService, time.Time{})
	require.NoError(t, s.RotateAPIKey(ctx, forever.ID, base.Add(time.Minute), repl))
	got, err = s.GetSessionByHash(ctx, y.Hash)
	require.NoError(t, err)
	requireSameTime(t, base.Add(time.Minute), got.APIKeyExpiresAt, "rotated away")

	// Revoking the key ends its sessions, and no new one can be made or
	// renewed from it.
	require.NoError(t, s.DeleteAPIKey(ctx, k.ID))
	_, err = s.GetSessionByHash(ctx, x.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound, "revocation ends the session")
	require.ErrorIs(t, s.CreateSession(ctx, fromKey(k)), authn.ErrNotFound)
	next := fromKey(forever)
	require.NoError(t, s.DeleteAPIKey(ctx, forever.ID))
	require.ErrorIs(t, s.ReplaceSession(ctx, y.ID, next), authn.ErrNotFound)
	_, err = s.GetSessionByHash(ctx, plain.Hash)
	require.NoError(t, err, "a session not made from those keys stays")
	list, err := s.ListSessions(ctx, a.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
}

func testReplaceSessionRace(t *testing.T, s authn.Store) {
	u := mustCreate(t, s, user("gina@example.com"))
	old := session(u)
	require.NoError(t, s.CreateSession(ctx, old))
	const n = 20
	var wins atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			err := s.ReplaceSession(ctx, old.ID, session(u))
			if err == nil {
				wins.Add(1)
			} else {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	require.Equal(t, int32(1), wins.Load(), "exactly one replacement wins")
	for err := range errs {
		require.ErrorIs(t, err, authn.ErrNotFound)
	}
	list, err := s.ListSessions(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, list, 1)
}

func testResetRacesLogins(t *testing.T, s authn.Store) {
	u := mustCreate(t, s, user("hank@example.com"))
	const n = 40
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			err := s.CreateSession(ctx, session(u)) // all at epoch 0
			if err != nil {
				assert.ErrorIs(t, err, authn.ErrNotFound)
			}
			if i == n/2 {
				assert.NoError(t, s.ResetCredentials(ctx, u, nil))
			}
		})
	}
	close(start)
	wg.Wait()
	list, err := s.ListSessions(ctx, u.ID)
	require.NoError(t, err)
	require.Empty(t, list, "every session from before the reset is gone, and none was created after it with the old epoch")
}

func pin(p authn.PrincipalRecord, expires time.Time) authn.PINRecord {
	return authn.PINRecord{ID: id("pin_"), PrincipalID: p.ID, Hash: "$argon2id$pin", IssuedBy: "usr_admin", CreatedAt: base, ExpiresAt: expires}
}

func testPINs(t *testing.T, s authn.Store) {
	u := mustCreate(t, s, user("ivy@example.com"))
	p := pin(u, base.Add(10*time.Minute))
	require.NoError(t, s.PutPIN(ctx, p))
	for i := 1; i <= 3; i++ {
		got, err := s.ReservePINAttempt(ctx, u.ID, base, 3)
		require.NoError(t, err)
		require.Equal(t, i, got.Attempts)
		require.Equal(t, p.ID, got.ID)
		require.Equal(t, p.Hash, got.Hash)
		require.Equal(t, p.IssuedBy, got.IssuedBy)
	}
	_, err := s.ReservePINAttempt(ctx, u.ID, base, 3)
	require.ErrorIs(t, err, authn.ErrNotFound, "burnt after max attempts")

	p2 := pin(u, base.Add(10*time.Minute))
	require.NoError(t, s.PutPIN(ctx, p2), "a new PIN replaces the old one")
	got, err := s.ReservePINAttempt(ctx, u.ID, base, 3)
	require.NoError(t, err)
	require.Equal(t, p2.ID, got.ID)
	require.Equal(t, 1, got.Attempts, "attempts start again")

	_, err = s.ReservePINAttempt(ctx, u.ID, base.Add(10*time.Minute), 3)
	require.ErrorIs(t, err, authn.ErrNotFound, "expired at its expiry instant")
	sec := authn.UserSecretRecord{PrincipalID: u.ID, Hash: randBytes(32), PepperVersion: 1, Fingerprint: "fp", CreatedAt: base}
	require.ErrorIs(t, s.ConsumePIN(ctx, p2.ID, base.Add(10*time.Minute), sec), authn.ErrNotFound, "expired PIN cannot be consumed")
	require.ErrorIs(t, s.ConsumePIN(ctx, p.ID, base, sec), authn.ErrNotFound, "replaced PIN cannot be consumed")

	require.NoError(t, s.ConsumePIN(ctx, p2.ID, base, sec))
	require.ErrorIs(t, s.ConsumePIN(ctx, p2.ID, base, sec), authn.ErrNotFound, "single use")
	_, err = s.GetUserSecretByHash(ctx, sec.Hash)
	require.NoError(t, err)
	_, err = s.ReservePINAttempt(ctx, u.ID, base, 3)
	require.ErrorIs(t, err, authn.ErrNotFound, "consumed PIN is gone")

	require.ErrorIs(t, s.PutPIN(ctx, pin(authn.PrincipalRecord{ID: "usr_missing"}, base)), authn.ErrNotFound)
}

func testPINAttemptRace(t *testing.T, s authn.Store) {
	u := mustCreate(t, s, user("jack@example.com"))
	require.NoError(t, s.PutPIN(ctx, pin(u, base.Add(time.Hour))))
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := s.ReservePINAttempt(ctx, u.ID, base, 5); err == nil {
				ok.Add(1)
			} else {
				assert.ErrorIs(t, err, authn.ErrNotFound)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(5), ok.Load(), "exactly max attempts are granted under contention")
}

func testConsumePINRace(t *testing.T, s authn.Store) {
	u := mustCreate(t, s, user("kim@example.com"))
	p := pin(u, base.Add(time.Hour))
	require.NoError(t, s.PutPIN(ctx, p))
	var wins atomic.Int32
	var winner atomic.Value
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			sec := authn.UserSecretRecord{PrincipalID: u.ID, Hash: randBytes(32), PepperVersion: 1, Fingerprint: "fp", CreatedAt: base}
			if err := s.ConsumePIN(ctx, p.ID, base, sec); err == nil {
				wins.Add(1)
				winner.Store(sec.Hash)
			} else {
				assert.ErrorIs(t, err, authn.ErrNotFound)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), wins.Load(), "exactly one of 50 concurrent redemptions wins")
	got, err := s.GetUserSecret(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, winner.Load().([]byte), got.Hash, "the stored secret is the winner's")
}

func testUserSecrets(t *testing.T, s authn.Store) {
	u := mustCreate(t, s, user("lee@example.com"))
	_, err := s.GetUserSecret(ctx, u.ID)
	require.ErrorIs(t, err, authn.ErrNotFound)
	require.ErrorIs(t, s.SetUserSecretValidity(ctx, u.ID, base), authn.ErrNotFound)
	require.ErrorIs(t, s.DeleteUserSecret(ctx, u.ID), authn.ErrNotFound)

	first := authn.UserSecretRecord{PrincipalID: u.ID, Hash: randBytes(32), PepperVersion: 1, Fingerprint: "first", CreatedAt: base}
	p := pin(u, base.Add(time.Hour))
	require.NoError(t, s.PutPIN(ctx, p))
	require.NoError(t, s.ConsumePIN(ctx, p.ID, base, first))
	second := authn.UserSecretRecord{PrincipalID: u.ID, Hash: randBytes(32), PepperVersion: 2, Fingerprint: "second", CreatedAt: base.Add(time.Second)}
	p = pin(u, base.Add(time.Hour))
	require.NoError(t, s.PutPIN(ctx, p))
	require.NoError(t, s.ConsumePIN(ctx, p.ID, base, second))

	_, err = s.GetUserSecretByHash(ctx, first.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound, "one secret per user: the new one replaces the old")
	got, err := s.GetUserSecretByHash(ctx, second.Hash)
	require.NoError(t, err)
	require.Equal(t, "second", got.Fingerprint)
	require.Equal(t, uint32(2), got.PepperVersion)
	require.Equal(t, u.Roles, got.PrincipalRoles, "owner roles are joined in")
	require.True(t, got.ValidUntil.IsZero())

	require.NoError(t, s.SetUserSecretValidity(ctx, u.ID, base.Add(time.Hour)))
	got, err = s.GetUserSecret(ctx, u.ID)
	require.NoError(t, err)
	requireSameTime(t, base.Add(time.Hour), got.ValidUntil, "valid_until")
	require.NoError(t, s.SetUserSecretValidity(ctx, u.ID, time.Time{}))
	got, err = s.GetUserSecret(ctx, u.ID)
	require.NoError(t, err)
	require.True(t, got.ValidUntil.IsZero(), "zero means never expires")

	require.NoError(t, s.DeleteUserSecret(ctx, u.ID))
	_, err = s.GetUserSecretByHash(ctx, second.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound)
}

func regToken(uses int, expires time.Time) authn.RegistrationTokenRecord {
	return authn.RegistrationTokenRecord{ID: id("reg_"), Hash: randBytes(32), PepperVersion: 1, Roles: authn.NewRoleSet(authn.RoleKeyOperation),
		UsesLeft: uses, CreatedBy: "usr_admin", CreatedAt: base, ExpiresAt: expires}
}

func client() authn.PrincipalRecord {
	c := app()
	c.ID, c.Kind, c.PublicKeys = id("cli_"), authn.KindClient, [][]byte{randBytes(64)}
	return c
}

func testRegistrationTokens(t *testing.T, s authn.Store) {
	tok := regToken(2, base.Add(time.Hour))
	require.NoError(t, s.CreateRegistrationToken(ctx, tok))
	got, err := s.GetRegistrationTokenByHash(ctx, tok.Hash)
	require.NoError(t, err)
	require.Equal(t, tok.ID, got.ID)
	require.Equal(t, 2, got.UsesLeft)
	require.Equal(t, tok.Roles, got.Roles)
	require.Equal(t, "usr_admin", got.CreatedBy)
	requireSameTime(t, tok.ExpiresAt, got.ExpiresAt, "expires_at")

	c1 := client()
	k1 := apiKey(c1.ID, authn.RoleKeyOperation, time.Time{})
	require.NoError(t, s.RegisterClient(ctx, tok.ID, base, c1, []authn.APIKeyRecord{k1}, []byte("sealed")))
	got, err = s.GetRegistrationTokenByHash(ctx, tok.Hash)
	require.NoError(t, err)
	require.Equal(t, 1, got.UsesLeft)
	p, err := s.GetPrincipal(ctx, c1.ID)
	require.NoError(t, err)
	require.Equal(t, authn.KindClient, p.Kind)
	require.Equal(t, c1.PublicKeys, p.PublicKeys)
	_, err = s.GetAPIKeyByHash(ctx, k1.Hash)
	require.NoError(t, err)
	b, err := s.GetBackup(ctx, c1.ID)
	require.NoError(t, err)
	require.Equal(t, []byte("sealed"), b.Blob)

	require.ErrorIs(t, s.RegisterClient(ctx, tok.ID, base.Add(time.Hour), client(), nil, nil), authn.ErrNotFound, "expired")
	c2 := client()
	require.NoError(t, s.RegisterClient(ctx, tok.ID, base, c2, nil, nil))
	_, err = s.GetBackup(ctx, c2.ID)
	require.ErrorIs(t, err, authn.ErrNotFound, "no backup unless the client chose one")
	c3 := client()
	require.ErrorIs(t, s.RegisterClient(ctx, tok.ID, base, c3, nil, nil), authn.ErrNotFound, "no uses left")
	_, err = s.GetPrincipal(ctx, c3.ID)
	require.ErrorIs(t, err, authn.ErrNotFound, "a refused registration inserts nothing")

	list, err := s.ListRegistrationTokens(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.NoError(t, s.DeleteRegistrationToken(ctx, tok.ID))
	require.ErrorIs(t, s.DeleteRegistrationToken(ctx, tok.ID), authn.ErrNotFound)
	_, err = s.GetRegistrationTokenByHash(ctx, tok.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound)
}

func testRegisterClientRace(t *testing.T, s authn.Store) {
	tok := regToken(3, base.Add(time.Hour))
	require.NoError(t, s.CreateRegistrationToken(ctx, tok))
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			c := client()
			if err := s.RegisterClient(ctx, tok.ID, base, c, []authn.APIKeyRecord{apiKey(c.ID, authn.RoleKeyOperation, time.Time{})}, nil); err == nil {
				ok.Add(1)
			} else {
				assert.ErrorIs(t, err, authn.ErrNotFound)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(3), ok.Load(), "as many registrations as the token has uses")
	all, err := s.ListPrincipals(ctx)
	require.NoError(t, err)
	require.Len(t, all, 3)
}

func testBackups(t *testing.T, s authn.Store) {
	c := mustCreate(t, s, client())
	_, err := s.GetBackup(ctx, c.ID)
	require.ErrorIs(t, err, authn.ErrNotFound)
	blob := randBytes(5000)
	require.NoError(t, s.PutBackup(ctx, c.ID, blob, base))
	require.NoError(t, s.PutBackup(ctx, c.ID, []byte("newer"), base.Add(time.Second)))
	b, err := s.GetBackup(ctx, c.ID)
	require.NoError(t, err)
	require.Equal(t, []byte("newer"), b.Blob)
	require.Equal(t, c.ID, b.PrincipalID)
	requireSameTime(t, base.Add(time.Second), b.CreatedAt, "created_at")
}

func testRehash(t *testing.T, s authn.Store) {
	u := mustCreate(t, s, user("max@example.com"))
	a := app()
	k := apiKey(a.ID, authn.RoleService, time.Time{})
	mustCreate(t, s, a, k)
	sess := session(u)
	require.NoError(t, s.CreateSession(ctx, sess))
	p := pin(u, base.Add(time.Hour))
	require.NoError(t, s.PutPIN(ctx, p))
	sec := authn.UserSecretRecord{PrincipalID: u.ID, Hash: randBytes(32), PepperVersion: 1, Fingerprint: "fp", CreatedAt: base}
	require.NoError(t, s.ConsumePIN(ctx, p.ID, base, sec))
	tok := regToken(1, base.Add(time.Hour))
	require.NoError(t, s.CreateRegistrationToken(ctx, tok))

	for _, c := range []struct {
		kind   authn.TokenKind
		id     string
		old    []byte
		lookup func([]byte) (uint32, error)
	}{
		{authn.TokenAPIKey, k.ID, k.Hash, func(h []byte) (uint32, error) { r, err := s.GetAPIKeyByHash(ctx, h); return r.PepperVersion, err }},
		{authn.TokenSession, sess.ID, sess.Hash, func(h []byte) (uint32, error) { r, err := s.GetSessionByHash(ctx, h); return r.PepperVersion, err }},
		{authn.TokenUserSecret, u.ID, sec.Hash, func(h []byte) (uint32, error) { r, err := s.GetUserSecretByHash(ctx, h); return r.PepperVersion, err }},
		{authn.TokenRegistration, tok.ID, tok.Hash, func(h []byte) (uint32, error) {
			r, err := s.GetRegistrationTokenByHash(ctx, h)
			return r.PepperVersion, err
		}},
	} {
		t.Run(c.kind.String(), func(t *testing.T) {
			h := randBytes(32)
			require.ErrorIs(t, s.Rehash(ctx, c.kind, c.id, 7, h, 2), authn.ErrNotFound, "only from the version it is stored under")
			require.NoError(t, s.Rehash(ctx, c.kind, c.id, 1, h, 2))
			v, err := c.lookup(h)
			require.NoError(t, err)
			require.Equal(t, uint32(2), v)
			_, err = c.lookup(c.old)
			require.ErrorIs(t, err, authn.ErrNotFound, "the old hash no longer matches")
		})
	}
}

func testPurgeExpired(t *testing.T, s authn.Store) {
	u := mustCreate(t, s, user("ned@example.com"))
	a := app()
	keep := apiKey(a.ID, authn.RoleService, time.Time{})
	gone := apiKey(a.ID, authn.RoleService, base)
	mustCreate(t, s, a, keep, gone)

	live := session(u)
	live.LastUsedAt, live.ExpiresAt = base, base.Add(time.Hour)
	absolute := session(u)
	absolute.ExpiresAt = base
	idle := session(u)
	idle.LastUsedAt = base.Add(-time.Hour)
	for _, x := range []authn.SessionRecord{live, absolute, idle} {
		require.NoError(t, s.CreateSession(ctx, x))
	}
	require.NoError(t, s.PutPIN(ctx, pin(u, base)))
	spent := regToken(0, base.Add(time.Hour))
	old := regToken(5, base)
	fresh := regToken(5, base.Add(time.Hour))
	for _, r := range []authn.RegistrationTokenRecord{spent, old, fresh} {
		require.NoError(t, s.CreateRegistrationToken(ctx, r))
	}

	n, err := s.PurgeExpired(ctx, base, base.Add(-time.Minute))
	require.NoError(t, err)
	require.Equal(t, int64(1+2+1+2), n, "1 key, 2 sessions, 1 PIN, 2 registration tokens")

	_, err = s.GetAPIKeyByHash(ctx, keep.Hash)
	require.NoError(t, err)
	_, err = s.GetSessionByHash(ctx, live.Hash)
	require.NoError(t, err)
	_, err = s.GetRegistrationTokenByHash(ctx, fresh.Hash)
	require.NoError(t, err)
	_, err = s.GetAPIKeyByHash(ctx, gone.Hash)
	require.ErrorIs(t, err, authn.ErrNotFound)
}

func group(name string) authn.GroupRecord {
	return authn.GroupRecord{ID: id("grp_"), Name: name, CreatedAt: base.Add(time.Second)}
}

func testGroups(t *testing.T, s authn.Store) {
	def, err := s.GetGroup(ctx, authn.DefaultGroupID)
	require.NoError(t, err, "every store has the default group")
	require.Equal(t, "default", def.Name)

	g := group("signers")
	require.NoError(t, s.CreateGroup(ctx, g))
	require.ErrorIs(t, s.CreateGroup(ctx, group("signers")), authn.ErrAlreadyExists, "names are unique")
	got, err := s.GetGroup(ctx, g.ID)
	require.NoError(t, err)
	require.Equal(t, g.Name, got.Name)
	requireSameTime(t, g.CreatedAt, got.CreatedAt, "created_at")
	list, err := s.ListGroups(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, authn.DefaultGroupID, list[0].ID, "the default group is the oldest")

	u := mustCreate(t, s, user("gina@example.com"))
	require.NoError(t, s.SetMembership(ctx, authn.MembershipRecord{PrincipalID: u.ID, GroupID: g.ID, Roles: u.Roles}))
	require.NoError(t, s.AssignKey(ctx, "aa01", g.ID))
	require.ErrorIs(t, s.DeleteGroup(ctx, g.ID), authn.ErrInUse, "a group that owns keys stays")
	_, err = s.GetGroup(ctx, g.ID)
	require.NoError(t, err)
	require.NoError(t, s.ForgetKey(ctx, "aa01"))
	require.NoError(t, s.DeleteGroup(ctx, g.ID))
	_, err = s.GetGroup(ctx, g.ID)
	require.ErrorIs(t, err, authn.ErrNotFound)
	ms, err := s.ListMemberships(ctx, u.ID)
	require.NoError(t, err)
	for _, m := range ms {
		require.NotEqual(t, g.ID, m.GroupID, "deleting a group deletes its memberships")
	}
	require.ErrorIs(t, s.DeleteGroup(ctx, g.ID), authn.ErrNotFound)
}

func testGroupMemberships(t *testing.T, s authn.Store) {
	g := group("ops")
	require.NoError(t, s.CreateGroup(ctx, g))
	u := user("hal@example.com")
	u.Groups = []string{authn.DefaultGroupID, g.ID}
	mustCreate(t, s, u)
	ms, err := s.ListMemberships(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, []authn.MembershipRecord{
		{PrincipalID: u.ID, GroupID: authn.DefaultGroupID, Roles: u.Roles},
		{PrincipalID: u.ID, GroupID: g.ID, Roles: u.Roles},
	}, ms, "a new principal joins its groups with all its roles")

	bad := user("ida@example.com")
	bad.Groups = []string{"grp_missing"}
	require.ErrorIs(t, s.CreatePrincipal(ctx, bad, nil), authn.ErrNotFound)
	_, err = s.GetPrincipal(ctx, bad.ID)
	require.ErrorIs(t, err, authn.ErrNotFound, "nothing inserted")

	only := authn.NewRoleSet(authn.RoleKeyOperation)
	require.NoError(t, s.SetMembership(ctx, authn.MembershipRecord{PrincipalID: u.ID, GroupID: g.ID, Roles: only}))
	members, err := s.ListGroupMembers(ctx, g.ID)
	require.NoError(t, err)
	require.Equal(t, []authn.MembershipRecord{{PrincipalID: u.ID, GroupID: g.ID, Roles: only}}, members, "replaced")
	require.ErrorIs(t, s.SetMembership(ctx, authn.MembershipRecord{PrincipalID: "usr_missing", GroupID: g.ID, Roles: only}), authn.ErrNotFound)
	require.ErrorIs(t, s.SetMembership(ctx, authn.MembershipRecord{PrincipalID: u.ID, GroupID: "grp_missing", Roles: only}), authn.ErrNotFound)

	require.NoError(t, s.DeleteMembership(ctx, u.ID, authn.DefaultGroupID))
	require.ErrorIs(t, s.DeleteMembership(ctx, u.ID, authn.DefaultGroupID), authn.ErrNotFound)
	require.NoError(t, s.DeletePrincipal(ctx, u.ID))
	members, err = s.ListGroupMembers(ctx, g.ID)
	require.NoError(t, err)
	require.Empty(t, members, "deleting a principal deletes its memberships")
}

func testKeyOwnership(t *testing.T, s authn.Store) {
	g, h := group("g"), group("h")
	require.NoError(t, s.CreateGroup(ctx, g))
	require.NoError(t, s.CreateGroup(ctx, h))
	u := user("jo@example.com")
	u.Groups = []string{authn.DefaultGroupID}
	mustCreate(t, s, u)
	ops := authn.NewRoleSet(authn.RoleKeyOperation)
	require.NoError(t, s.SetMembership(ctx, authn.MembershipRecord{PrincipalID: u.ID, GroupID: g.ID, Roles: ops}))

	access := func(key string) (string, authn.RoleSet) {
		t.Helper()
		grp, roles, err := s.KeyAccess(ctx, u.ID, key)
		require.NoError(t, err)
		return grp, roles
	}
	grp, roles := access("0102")
	require.Equal(t, authn.DefaultGroupID, grp, "a key never assigned is in the default group")
	require.Equal(t, u.Roles, roles)

	require.NoError(t, s.AssignKey(ctx, "0102", g.ID))
	require.ErrorIs(t, s.AssignKey(ctx, "0102", h.ID), authn.ErrAlreadyExists, "a key has one group")
	require.ErrorIs(t, s.AssignKey(ctx, "0103", "grp_missing"), authn.ErrNotFound)
	grp, roles = access("0102")
	require.Equal(t, g.ID, grp)
	require.Equal(t, ops, roles)

	require.NoError(t, s.AssignKey(ctx, "0104", h.ID))
	grp, roles = access("0104")
	require.Equal(t, h.ID, grp)
	require.Zero(t, roles, "not a member")
	_, roles, err := s.KeyAccess(ctx, "usr_missing", "0104")
	require.NoError(t, err)
	require.Zero(t, roles)

	// Moves are conditional on the group the mover saw.
	require.ErrorIs(t, s.MoveKey(ctx, "0102", h.ID, authn.DefaultGroupID), authn.ErrNotFound, "not in h")
	require.NoError(t, s.MoveKey(ctx, "0102", g.ID, h.ID))
	grp, _ = access("0102")
	require.Equal(t, h.ID, grp)
	require.NoError(t, s.MoveKey(ctx, "0105", authn.DefaultGroupID, g.ID), "from the implicit default group")
	grp, _ = access("0105")
	require.Equal(t, g.ID, grp)
	require.ErrorIs(t, s.MoveKey(ctx, "0105", authn.DefaultGroupID, h.ID), authn.ErrNotFound, "no longer in the default group")
	require.ErrorIs(t, s.MoveKey(ctx, "0106", authn.DefaultGroupID, "grp_missing"), authn.ErrNotFound)

	owners, err := s.ListKeyOwners(ctx)
	require.NoError(t, err)
	require.Equal(t, map[string]string{"0102": h.ID, "0104": h.ID, "0105": g.ID}, owners)
	require.NoError(t, s.ForgetKey(ctx, "0102"))
	require.NoError(t, s.ForgetKey(ctx, "0102"), "forgetting twice is fine")
	grp, _ = access("0102")
	require.Equal(t, authn.DefaultGroupID, grp)
}

func testTokenUses(t *testing.T, s authn.Store) {
	key := randBytes(32)
	first, err := s.RecordTokenUse(ctx, key, base.Add(time.Minute), base)
	require.NoError(t, err)
	require.True(t, first)
	first, err = s.RecordTokenUse(ctx, key, base.Add(time.Hour), base.Add(59*time.Second))
	require.NoError(t, err)
	require.False(t, first, "a replay before the record expires")
	first, err = s.RecordTokenUse(ctx, key, base.Add(2*time.Minute), base.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, first, "an expired record is taken over")
	first, err = s.RecordTokenUse(ctx, key, base.Add(3*time.Minute), base.Add(90*time.Second))
	require.NoError(t, err)
	require.False(t, first, "and holds until its new expiry")

	other := randBytes(32)
	first, err = s.RecordTokenUse(ctx, other, base.Add(time.Minute), base)
	require.NoError(t, err)
	require.True(t, first, "keys are independent")
	n, err := s.PurgeExpired(ctx, base.Add(time.Minute), base)
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "the expired record of other goes; key's lives until +2m")
	first, err = s.RecordTokenUse(ctx, key, base.Add(5*time.Minute), base.Add(time.Minute))
	require.NoError(t, err)
	require.False(t, first, "purge kept the live record")

	_, err = s.RecordTokenUse(ctx, make([]byte, 65), base.Add(time.Minute), base)
	require.ErrorIs(t, err, authn.ErrInvalidArgument)
}

// testTokenUseRace: of many concurrent first uses of one token, on
// separate connections, exactly one wins.
func testTokenUseRace(t *testing.T, s authn.Store) {
	key := randBytes(32)
	const n = 16
	var wg sync.WaitGroup
	wins := make([]bool, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { wins[i], errs[i] = s.RecordTokenUse(ctx, key, base.Add(time.Minute), base) })
	}
	wg.Wait()
	won := 0
	for i := range n {
		require.NoError(t, errs[i])
		if wins[i] {
			won++
		}
	}
	require.Equal(t, 1, won)
}
