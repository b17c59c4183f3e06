package storetest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

// approvalCases are the approval parts of the suite; Run runs them with the
// others.
var approvalCases = []struct {
	name string
	f    func(t *testing.T, s authn.Store)
}{
	{"Approvers", testApprovers},
	{"KeyStates", testKeyStates},
	{"ApprovalTaskLifecycle", testApprovalTaskLifecycle},
	{"ApprovalDecisionChecks", testApprovalDecisionChecks},
	{"ApprovalTaskListing", testApprovalTaskListing},
	{"ApprovalOpenLimit", testApprovalOpenLimit},
	{"ApprovalPurge", testApprovalPurge},
}

// approver makes a principal holding the approver role and registers it.
func approver(t *testing.T, s authn.Store) authn.PrincipalRecord {
	t.Helper()
	p := app()
	p.Roles = authn.NewRoleSet(authn.RoleApprover)
	mustCreate(t, s, p)
	require.NoError(t, s.CreateApprover(ctx, authn.ApproverRecord{PrincipalID: p.ID, PublicKey: randBytes(44), Algorithm: "Ed25519", CreatedBy: "usr_akm", CreatedAt: base}))
	return p
}

func approverIDs(ps ...authn.PrincipalRecord) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.ID
	}
	return out
}

// policyKey gives key keyID a state whose use class needs quorum of
// approvers, and returns it.
func policyKey(t *testing.T, s authn.Store, keyID string, quorum int, approvers ...authn.PrincipalRecord) authn.KeyStateRecord {
	t.Helper()
	st := authn.KeyStateRecord{KeyID: keyID, Version: 1, Policy: authn.KeyPolicy{
		Use: []authn.ApprovalRule{{Quorum: quorum, Approvers: approverIDs(approvers...)}}}}
	require.NoError(t, s.SetKeyState(ctx, 0, st, base))
	return st
}

// task is a pending use task on st's key requested by requester.
func task(requester authn.PrincipalRecord, st authn.KeyStateRecord) authn.ApprovalTask {
	return authn.ApprovalTask{
		ID: id("apr_"), Operation: "sign", Class: authn.ClassUse, KeyID: st.KeyID, KeyLabel: "k", KeyAlg: "Ed25519",
		KeyVersion: st.Version, Requester: requester.ID, RequesterRole: authn.RoleKeyOperation,
		CreatedAt: base, ExpiresAt: base.Add(time.Hour),
		Params: []authn.TaskParam{{Name: "message_sha256", Value: "00ff"}, {Name: "scheme", Value: "ed25519"}},
		Body:   randBytes(100), Request: []byte(`{"label":"k"}`), Rules: st.Policy.Use, Status: authn.TaskPending,
	}
}

func decision(a authn.PrincipalRecord, approve bool) authn.ApprovalDecision {
	return authn.ApprovalDecision{Approver: a.ID, Approve: approve, Signature: randBytes(64), At: base.Add(time.Minute)}
}

func keyOf(t *testing.T, s authn.Store, a authn.PrincipalRecord) []byte {
	t.Helper()
	r, err := s.GetApprover(ctx, a.ID)
	require.NoError(t, err)
	return r.PublicKey
}

func requester(t *testing.T, s authn.Store) authn.PrincipalRecord {
	return mustCreate(t, s, app())
}

func testApprovers(t *testing.T, s authn.Store) {
	a := approver(t, s)
	got, err := s.GetApprover(ctx, a.ID)
	require.NoError(t, err)
	require.Equal(t, "Ed25519", got.Algorithm)
	require.Len(t, got.PublicKey, 44)
	requireSameTime(t, base, got.CreatedAt, "created_at")
	require.ErrorIs(t, s.CreateApprover(ctx, got), authn.ErrAlreadyExists, "one key per principal")
	require.ErrorIs(t, s.CreateApprover(ctx, authn.ApproverRecord{PrincipalID: "usr_missing", PublicKey: []byte{1}, Algorithm: "x", CreatedBy: "x", CreatedAt: base}),
		authn.ErrNotFound, "the principal must exist")
	b := approver(t, s)
	all, err := s.ListApprovers(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{a.ID, b.ID}, []string{all[0].PrincipalID, all[1].PrincipalID})

	policyKey(t, s, "a1", 1, a)
	require.ErrorIs(t, s.DeleteApprover(ctx, a.ID), authn.ErrInUse, "a policy names it")
	require.NoError(t, s.DeleteKeyState(ctx, "a1", base))
	require.NoError(t, s.DeleteApprover(ctx, a.ID), "no longer named")
	require.ErrorIs(t, s.DeleteApprover(ctx, a.ID), authn.ErrNotFound)
	_, err = s.GetApprover(ctx, a.ID)
	require.ErrorIs(t, err, authn.ErrNotFound)

	require.NoError(t, s.DeletePrincipal(ctx, b.ID))
	_, err = s.GetApprover(ctx, b.ID)
	require.ErrorIs(t, err, authn.ErrNotFound, "deleting the principal deletes its approver record")
}

func testKeyStates(t *testing.T, s authn.Store) {
	a, b := approver(t, s), approver(t, s)
	_, err := s.GetKeyState(ctx, "b1")
	require.ErrorIs(t, err, authn.ErrNotFound, "a key without state")

	st := authn.KeyStateRecord{KeyID: "b1", Version: 1, Policy: authn.KeyPolicy{
		Use:          []authn.ApprovalRule{{Quorum: 2, Approvers: approverIDs(a, b)}},
		ChangePolicy: []authn.ApprovalRule{{Quorum: 1, Approvers: approverIDs(a)}, {Quorum: 1, Approvers: approverIDs(b)}},
	}}
	require.NoError(t, s.SetKeyState(ctx, 0, st, base))
	got, err := s.GetKeyState(ctx, "b1")
	require.NoError(t, err)
	require.Equal(t, st, got)

	// A version that moved, a first state set twice, an unregistered approver.
	st2 := st
	st2.Version, st2.Blocked = 2, true
	require.ErrorIs(t, s.SetKeyState(ctx, 0, st2, base), authn.ErrNotFound, "from 0, but the key has version 1")
	require.ErrorIs(t, s.SetKeyState(ctx, 5, st2, base), authn.ErrNotFound)
	bad := st2
	bad.Policy.Block = []authn.ApprovalRule{{Quorum: 1, Approvers: []string{"usr_nobody"}}}
	require.ErrorIs(t, s.SetKeyState(ctx, 1, bad, base), authn.ErrInvalidArgument)
	got, err = s.GetKeyState(ctx, "b1")
	require.NoError(t, err)
	require.Equal(t, st, got, "nothing changed")

	// A change cancels the key's open tasks and no other key's.
	r := requester(t, s)
	open := task(r, st)
	require.NoError(t, s.CreateApprovalTask(ctx, open, 10))
	other := policyKey(t, s, "b2", 1, a)
	elsewhere := task(r, other)
	require.NoError(t, s.CreateApprovalTask(ctx, elsewhere, 10))
	require.NoError(t, s.SetKeyState(ctx, 1, st2, base.Add(time.Second)))
	got, err = s.GetKeyState(ctx, "b1")
	require.NoError(t, err)
	require.True(t, got.Blocked)
	require.Equal(t, int64(2), got.Version)
	requireStatus(t, s, open.ID, authn.TaskCancelled)
	requireStatus(t, s, elsewhere.ID, authn.TaskPending)
	stale := task(r, st)
	require.ErrorIs(t, s.CreateApprovalTask(ctx, stale, 10), authn.ErrNotFound, "a task for a state that is gone")

	require.NoError(t, s.DeleteKeyState(ctx, "b2", base))
	require.NoError(t, s.DeleteKeyState(ctx, "b2", base), "twice is fine")
	requireStatus(t, s, elsewhere.ID, authn.TaskCancelled)
	_, err = s.GetKeyState(ctx, "b2")
	require.ErrorIs(t, err, authn.ErrNotFound)
}

func requireStatus(t *testing.T, s authn.Store, id string, want authn.TaskStatus) authn.ApprovalTask {
	t.Helper()
	got, err := s.GetApprovalTask(ctx, id)
	require.NoError(t, err)
	require.Equal(t, want, got.Status, "task %s", id)
	return got
}

func testApprovalTaskLifecycle(t *testing.T, s authn.Store) {
	a, b, c := approver(t, s), approver(t, s), approver(t, s)
	st := policyKey(t, s, "c1", 2, a, b, c)
	r := requester(t, s)
	tk := task(r, st)
	require.NoError(t, s.CreateApprovalTask(ctx, tk, 10))
	require.ErrorIs(t, s.CreateApprovalTask(ctx, tk, 10), authn.ErrAlreadyExists)

	got := requireStatus(t, s, tk.ID, authn.TaskPending)
	requireSameTime(t, tk.CreatedAt, got.CreatedAt, "created_at")
	requireSameTime(t, tk.ExpiresAt, got.ExpiresAt, "expires_at")
	require.Equal(t, tk.Params, got.Params)
	require.Equal(t, tk.Body, got.Body)
	require.Equal(t, tk.Rules, got.Rules)
	require.Equal(t, tk.RequesterRole, got.RequesterRole)
	require.Nil(t, got.Request, "only a claim returns the request")
	_, err := s.GetApprovalTask(ctx, "apr_missing")
	require.ErrorIs(t, err, authn.ErrNotFound)

	// Claims before the quorum fail.
	_, err = s.ClaimApprovalTask(ctx, tk.ID, r.ID, base.Add(time.Minute))
	require.ErrorIs(t, err, authn.ErrNotFound)

	now := base.Add(time.Minute)
	collectBy := now.Add(5 * time.Minute)
	after, err := s.AddApprovalDecision(ctx, tk.ID, decision(a, true), keyOf(t, s, a), now, collectBy)
	require.NoError(t, err)
	require.Equal(t, authn.TaskPending, after.Status, "one of two")
	require.Len(t, after.Decisions, 1)
	after, err = s.AddApprovalDecision(ctx, tk.ID, decision(b, true), keyOf(t, s, b), now, collectBy)
	require.NoError(t, err)
	require.Equal(t, authn.TaskApproved, after.Status, "two of three")
	requireSameTime(t, collectBy, after.CollectBy, "collect_by")
	_, err = s.AddApprovalDecision(ctx, tk.ID, decision(c, true), keyOf(t, s, c), now, collectBy)
	var closed *authn.TaskClosedError
	require.ErrorAs(t, err, &closed, "an approved task takes no more decisions")
	require.Equal(t, authn.TaskApproved, closed.Status)

	// Cancelling someone else's task, claiming it as someone else, or late.
	require.ErrorIs(t, s.CancelApprovalTask(ctx, tk.ID, a.ID, now), authn.ErrNotFound)
	_, err = s.ClaimApprovalTask(ctx, tk.ID, a.ID, now)
	require.ErrorIs(t, err, authn.ErrNotFound, "only the requester claims")
	_, err = s.ClaimApprovalTask(ctx, tk.ID, r.ID, collectBy)
	require.ErrorIs(t, err, authn.ErrNotFound, "not at CollectBy")

	claimed, err := s.ClaimApprovalTask(ctx, tk.ID, r.ID, collectBy.Add(-time.Nanosecond))
	require.NoError(t, err)
	require.Equal(t, authn.TaskExecuting, claimed.Status)
	require.Equal(t, tk.Request, claimed.Request)
	require.Len(t, claimed.Decisions, 2)
	_, err = s.ClaimApprovalTask(ctx, tk.ID, r.ID, now)
	require.ErrorIs(t, err, authn.ErrNotFound, "claimed once")
	require.ErrorIs(t, s.CancelApprovalTask(ctx, tk.ID, r.ID, now), authn.ErrNotFound, "running tasks are not cancelled")
	require.ErrorIs(t, s.FinishApprovalTask(ctx, tk.ID, authn.TaskPending, now), authn.ErrInvalidArgument)
	require.NoError(t, s.FinishApprovalTask(ctx, tk.ID, authn.TaskDone, now))
	require.ErrorIs(t, s.FinishApprovalTask(ctx, tk.ID, authn.TaskFailed, now), authn.ErrNotFound, "finished once")
	done := requireStatus(t, s, tk.ID, authn.TaskDone)
	requireSameTime(t, now, done.EndedAt, "ended_at")

	// Rejection ends a task at once; cancelling ends a pending one.
	rej := task(r, st)
	require.NoError(t, s.CreateApprovalTask(ctx, rej, 10))
	after, err = s.AddApprovalDecision(ctx, rej.ID, decision(c, false), keyOf(t, s, c), now, collectBy)
	require.NoError(t, err)
	require.Equal(t, authn.TaskRejected, after.Status)
	_, err = s.AddApprovalDecision(ctx, rej.ID, decision(a, true), keyOf(t, s, a), now, collectBy)
	require.ErrorAs(t, err, &closed)
	require.ErrorIs(t, err, authn.ErrApprovalRejected)
	can := task(r, st)
	require.NoError(t, s.CreateApprovalTask(ctx, can, 10))
	require.ErrorIs(t, s.CancelApprovalTask(ctx, can.ID, r.ID, can.ExpiresAt), authn.ErrNotFound, "an expired task is not cancelled")
	require.NoError(t, s.CancelApprovalTask(ctx, can.ID, r.ID, now))
	require.ErrorIs(t, s.CancelApprovalTask(ctx, can.ID, r.ID, now), authn.ErrNotFound)
	_, err = s.AddApprovalDecision(ctx, can.ID, decision(a, true), keyOf(t, s, a), now, collectBy)
	require.ErrorAs(t, err, &closed)
	require.Equal(t, authn.TaskCancelled, closed.Status)
}

func testApprovalDecisionChecks(t *testing.T, s authn.Store) {
	a, b, outsider := approver(t, s), approver(t, s), approver(t, s)
	r := approver(t, s) // an approver may request, but not decide its own
	st := policyKey(t, s, "d1", 2, a, b, r)
	tk := task(r, st)
	require.NoError(t, s.CreateApprovalTask(ctx, tk, 10))
	now, cb := base.Add(time.Minute), base.Add(time.Hour)

	_, err := s.AddApprovalDecision(ctx, tk.ID, decision(outsider, true), keyOf(t, s, outsider), now, cb)
	require.ErrorIs(t, err, authn.ErrNotFound, "an approver the rules do not name")
	_, err = s.AddApprovalDecision(ctx, tk.ID, authn.ApprovalDecision{Approver: r.ID, Approve: true, Signature: []byte{1}, At: now}, nil, now, cb)
	require.ErrorIs(t, err, authn.ErrForbidden, "the requester, even when the rules name it")
	_, err = s.AddApprovalDecision(ctx, tk.ID, decision(a, true), randBytes(44), now, cb)
	require.ErrorIs(t, err, authn.ErrForbidden, "a key other than the registered one")
	_, err = s.AddApprovalDecision(ctx, "apr_missing", decision(a, true), keyOf(t, s, a), now, cb)
	require.ErrorIs(t, err, authn.ErrNotFound)

	// The expiry is exact: the last nanosecond counts, ExpiresAt does not.
	_, err = s.AddApprovalDecision(ctx, tk.ID, decision(a, true), keyOf(t, s, a), tk.ExpiresAt, cb)
	var closed *authn.TaskClosedError
	require.ErrorAs(t, err, &closed)
	require.Equal(t, authn.TaskExpired, closed.Status)
	_, err = s.AddApprovalDecision(ctx, tk.ID, decision(a, true), keyOf(t, s, a), tk.ExpiresAt.Add(-time.Nanosecond), cb)
	require.NoError(t, err)
	_, err = s.AddApprovalDecision(ctx, tk.ID, decision(a, true), keyOf(t, s, a), now, cb)
	require.ErrorIs(t, err, authn.ErrAlreadyExists, "one decision per approver")
	_, err = s.AddApprovalDecision(ctx, tk.ID, decision(a, false), keyOf(t, s, a), now, cb)
	require.ErrorIs(t, err, authn.ErrAlreadyExists, "not even a change of mind")
	got := requireStatus(t, s, tk.ID, authn.TaskPending)
	require.Len(t, got.Decisions, 1)

	require.NoError(t, s.DeleteKeyState(ctx, "d1", now))
	require.NoError(t, s.DeleteApprover(ctx, b.ID))
	_, err = s.AddApprovalDecision(ctx, tk.ID, decision(b, true), randBytes(44), now, cb)
	require.Error(t, err, "cancelled with its key, and b is no approver any more")
}

func testApprovalTaskListing(t *testing.T, s authn.Store) {
	a, b := approver(t, s), approver(t, s)
	r := requester(t, s)
	st1 := policyKey(t, s, "e1", 1, a, b)
	st2 := policyKey(t, s, "e2", 1, b)
	older := task(r, st1)
	newer := task(r, st1)
	newer.CreatedAt = base.Add(time.Second)
	onlyB := task(r, st2)
	expiring := task(r, st1)
	expiring.ExpiresAt = base.Add(2 * time.Minute)
	for _, tk := range []authn.ApprovalTask{newer, older, onlyB, expiring} {
		require.NoError(t, s.CreateApprovalTask(ctx, tk, 10))
	}
	ids := func(approver authn.PrincipalRecord, now time.Time, limit int) []string {
		t.Helper()
		ts, err := s.ListApprovalTasks(ctx, approver.ID, now, limit)
		require.NoError(t, err)
		var out []string
		for _, tk := range ts {
			require.Nil(t, tk.Request)
			out = append(out, tk.ID)
		}
		return out
	}
	now := base.Add(time.Minute)
	require.ElementsMatch(t, []string{older.ID, expiring.ID, newer.ID}, ids(a, now, 10), "a is named by e1's tasks only")
	require.Equal(t, newer.ID, ids(a, now, 10)[2], "oldest first")
	require.Len(t, ids(a, now, 2), 2, "the limit holds")
	require.Equal(t, []string{older.ID, newer.ID}, ids(a, expiring.ExpiresAt, 10), "expired tasks go")
	require.Len(t, ids(b, now, 10), 4)
	_, err := s.AddApprovalDecision(ctx, older.ID, decision(b, false), keyOf(t, s, b), now, now)
	require.NoError(t, err)
	require.NotContains(t, ids(b, now, 10), older.ID, "decided")
	require.NotContains(t, ids(a, now, 10), older.ID, "rejected")
	require.Empty(t, ids(r, now, 10), "the requester is named nowhere")
}

func testApprovalOpenLimit(t *testing.T, s authn.Store) {
	a := approver(t, s)
	st := policyKey(t, s, "f1", 1, a)
	r := requester(t, s)
	const n, limit = 24, 5
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			err := s.CreateApprovalTask(ctx, task(r, st), limit)
			switch {
			case err == nil:
				wins.Add(1)
			default:
				assert.ErrorIs(t, err, authn.ErrTooManyTasks)
			}
		})
	}
	wg.Wait()
	require.Equal(t, int32(limit), wins.Load(), "exactly the limit, however the requests race")
	expired := task(r, st)
	expired.CreatedAt = base.Add(2 * time.Hour) // every earlier task has expired by then
	expired.ExpiresAt = expired.CreatedAt.Add(time.Hour)
	require.NoError(t, s.CreateApprovalTask(ctx, expired, limit), "expired tasks do not count")
}

func testApprovalPurge(t *testing.T, s authn.Store) {
	a := approver(t, s)
	st := policyKey(t, s, "g1", 1, a)
	r := requester(t, s)
	ended, pending, fresh := task(r, st), task(r, st), task(r, st)
	fresh.ExpiresAt = base.Add(48 * time.Hour)
	for _, tk := range []authn.ApprovalTask{ended, pending, fresh} {
		require.NoError(t, s.CreateApprovalTask(ctx, tk, 10))
	}
	require.NoError(t, s.CancelApprovalTask(ctx, ended.ID, r.ID, base))
	n, err := s.PurgeApprovalTasks(ctx, base.Add(2*time.Hour))
	require.NoError(t, err)
	require.Equal(t, int64(2), n, "the ended and the expired task")
	_, err = s.GetApprovalTask(ctx, ended.ID)
	require.ErrorIs(t, err, authn.ErrNotFound)
	requireStatus(t, s, fresh.ID, authn.TaskPending)
}

// OpenPair returns two stores on one new, empty database, as two server
// instances sharing it would open it (separate connection pools). The
// suite closes both.
type OpenPair func(t *testing.T) (authn.Store, authn.Store)

// RunApprovalRaces checks the approval races against two stores on one
// database, with many goroutines on each: decisions counted once per
// approver and a task closed once, duplicates refused, decisions racing
// the expiry decided by their time alone, exactly one claim of an
// approved task, no task surviving a state change it raced, and an
// approver never deleted while a policy that raced its deletion names it.
func RunApprovalRaces(t *testing.T, open OpenPair) {
	for _, c := range []struct {
		name string
		f    func(t *testing.T, s1, s2 authn.Store)
	}{
		{"QuorumRace", testQuorumRace},
		{"DuplicateDecisionRace", testDuplicateDecisionRace},
		{"ExpiryRace", testExpiryRace},
		{"ClaimRace", testClaimRace},
		{"TaskCreationRacesStateChange", testTaskCreationRacesStateChange},
		{"ApproverDeletionRacesPolicy", testApproverDeletionRacesPolicy},
	} {
		t.Run(c.name, func(t *testing.T) {
			s1, s2 := open(t)
			t.Cleanup(func() { s1.Close(); s2.Close() })
			c.f(t, s1, s2)
		})
	}
}

// pick alternates between the two instances.
func pick(i int, s1, s2 authn.Store) authn.Store {
	if i%2 == 0 {
		return s1
	}
	return s2
}

func testQuorumRace(t *testing.T, s1, s2 authn.Store) {
	var as []authn.PrincipalRecord
	for range 12 {
		as = append(as, approver(t, s1))
	}
	st := policyKey(t, s1, "r1", 4, as...)
	r := requester(t, s1)
	tk := task(r, st)
	require.NoError(t, s1.CreateApprovalTask(ctx, tk, 10))
	now := base.Add(time.Minute)
	var (
		wg        sync.WaitGroup
		ok        atomic.Int32
		approving atomic.Int32 // calls whose result was the approved task
		start     = make(chan struct{})
	)
	for i := range 3 * len(as) { // every approver three times, across both instances
		a := as[i%len(as)]
		key := keyOf(t, s1, a)
		wg.Go(func() {
			<-start
			got, err := pick(i, s1, s2).AddApprovalDecision(ctx, tk.ID, decision(a, true), key, now, now.Add(time.Hour))
			if err != nil {
				var closed *authn.TaskClosedError
				if !errors.As(err, &closed) {
					assert.ErrorIs(t, err, authn.ErrAlreadyExists)
				}
				return
			}
			ok.Add(1)
			if got.Status == authn.TaskApproved {
				approving.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	require.Equal(t, int32(4), ok.Load(), "exactly the quorum is recorded")
	require.Equal(t, int32(1), approving.Load(), "one decision completed the quorum")
	got := requireStatus(t, s2, tk.ID, authn.TaskApproved)
	seen := map[string]bool{}
	for _, d := range got.Decisions {
		require.False(t, seen[d.Approver], "an approver counted twice")
		seen[d.Approver] = true
	}
	require.Len(t, seen, 4)
}

func testDuplicateDecisionRace(t *testing.T, s1, s2 authn.Store) {
	a, b := approver(t, s1), approver(t, s1)
	st := policyKey(t, s1, "r2", 2, a, b)
	r := requester(t, s1)
	tk := task(r, st)
	require.NoError(t, s1.CreateApprovalTask(ctx, tk, 10))
	key := keyOf(t, s1, a)
	var wg sync.WaitGroup
	var ok atomic.Int32
	for i := range 32 {
		wg.Go(func() {
			_, err := pick(i, s1, s2).AddApprovalDecision(ctx, tk.ID, decision(a, true), key, base, base.Add(time.Hour))
			if err == nil {
				ok.Add(1)
				return
			}
			assert.ErrorIs(t, err, authn.ErrAlreadyExists)
		})
	}
	wg.Wait()
	require.Equal(t, int32(1), ok.Load())
	got := requireStatus(t, s2, tk.ID, authn.TaskPending)
	require.Len(t, got.Decisions, 1, "one approver twice is still one of two")
}

func testExpiryRace(t *testing.T, s1, s2 authn.Store) {
	var as []authn.PrincipalRecord
	for range 16 {
		as = append(as, approver(t, s1))
	}
	st := policyKey(t, s1, "r3", len(as), as...) // never met: every decision is judged on its own
	r := requester(t, s1)
	tk := task(r, st)
	require.NoError(t, s1.CreateApprovalTask(ctx, tk, 10))
	var wg sync.WaitGroup
	for i, a := range as {
		at := tk.ExpiresAt.Add(time.Duration(i-len(as)/2) * time.Nanosecond) // half before, half at or after
		key := keyOf(t, s1, a)
		wg.Go(func() {
			_, err := pick(i, s1, s2).AddApprovalDecision(ctx, tk.ID, authn.ApprovalDecision{Approver: a.ID, Approve: true, Signature: []byte{1}, At: at}, key, at, at.Add(time.Hour))
			if at.Before(tk.ExpiresAt) {
				assert.NoError(t, err, "decided at %v, before the expiry", at)
				return
			}
			var closed *authn.TaskClosedError
			if assert.ErrorAs(t, err, &closed, "decided at %v", at) {
				assert.Equal(t, authn.TaskExpired, closed.Status)
			}
		})
	}
	wg.Wait()
	got, err := s2.GetApprovalTask(ctx, tk.ID)
	require.NoError(t, err)
	require.Len(t, got.Decisions, len(as)/2, "exactly the decisions made before the expiry")
	require.Equal(t, authn.TaskExpired, got.State(tk.ExpiresAt))
}

func testClaimRace(t *testing.T, s1, s2 authn.Store) {
	a := approver(t, s1)
	st := policyKey(t, s1, "r4", 1, a)
	r := requester(t, s1)
	for round := range 5 {
		tk := task(r, st)
		require.NoError(t, s1.CreateApprovalTask(ctx, tk, 100))
		_, err := s2.AddApprovalDecision(ctx, tk.ID, decision(a, true), keyOf(t, s1, a), base, base.Add(time.Hour))
		require.NoError(t, err)
		var wg sync.WaitGroup
		var wins atomic.Int32
		start := make(chan struct{})
		for i := range 24 {
			wg.Go(func() {
				<-start
				got, err := pick(i, s1, s2).ClaimApprovalTask(ctx, tk.ID, r.ID, base.Add(time.Minute))
				if err != nil {
					assert.ErrorIs(t, err, authn.ErrNotFound)
					return
				}
				wins.Add(1)
				assert.Equal(t, tk.Request, got.Request)
				assert.NoError(t, pick(i+1, s1, s2).FinishApprovalTask(ctx, tk.ID, authn.TaskDone, base.Add(time.Minute)))
			})
		}
		close(start)
		wg.Wait()
		require.Equal(t, int32(1), wins.Load(), "round %d: one claim runs the task", round)
		requireStatus(t, s1, tk.ID, authn.TaskDone)
	}
}

func testTaskCreationRacesStateChange(t *testing.T, s1, s2 authn.Store) {
	a := approver(t, s1)
	st := policyKey(t, s1, "r5", 1, a)
	r := requester(t, s1)
	var wg sync.WaitGroup
	var created sync.Map
	start := make(chan struct{})
	for i := range 24 {
		wg.Go(func() {
			<-start
			tk := task(r, st)
			if err := pick(i, s1, s2).CreateApprovalTask(ctx, tk, 100); err == nil {
				created.Store(tk.ID, true)
			} else {
				assert.ErrorIs(t, err, authn.ErrNotFound)
			}
			if i == 12 {
				next := st
				next.Version, next.Blocked = 2, true
				assert.NoError(t, pick(i+1, s1, s2).SetKeyState(ctx, 1, next, base))
			}
		})
	}
	close(start)
	wg.Wait()
	n := 0
	created.Range(func(k, _ any) bool {
		n++
		got, err := s1.GetApprovalTask(ctx, k.(string))
		require.NoError(t, err)
		require.Equal(t, authn.TaskCancelled, got.Status, "a task made under version 1 is cancelled by the change to 2")
		return true
	})
	t.Logf("%d of 24 tasks were made before the state changed", n)
}

func testApproverDeletionRacesPolicy(t *testing.T, s1, s2 authn.Store) {
	for round := range 12 {
		a := approver(t, s1)
		key := fmt.Sprintf("r6%02x", round)
		var setErr, delErr error
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() {
			<-start
			setErr = s1.SetKeyState(ctx, 0, authn.KeyStateRecord{KeyID: key, Version: 1, Policy: authn.KeyPolicy{
				Delete: []authn.ApprovalRule{{Quorum: 1, Approvers: []string{a.ID}}}}}, base)
		})
		wg.Go(func() {
			<-start
			delErr = s2.DeleteApprover(ctx, a.ID)
		})
		close(start)
		wg.Wait()
		require.True(t, (setErr == nil) != (delErr == nil), "round %d: exactly one wins (set: %v, delete: %v)", round, setErr, delErr)
		if setErr == nil {
			require.ErrorIs(t, delErr, authn.ErrInUse)
			_, err := s1.GetApprover(ctx, a.ID)
			require.NoError(t, err, "a policy never names a deleted approver")
		} else {
			require.ErrorIs(t, setErr, authn.ErrInvalidArgument)
		}
	}
}
