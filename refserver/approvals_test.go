package refserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/autherr"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
	"github.com/cryptoplug/cryptoplug/wire"
)

// settableClock is authn's clock in tests that move time.
type settableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settableClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *settableClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestApprovalQuorumSign is the acceptance test: a sign with a key
// whose use needs 2 of 3 approvers runs only after two distinct
// approvers' valid signatures, and every misuse on the way is refused.
func TestApprovalQuorumSign(t *testing.T) {
	ctx := context.Background()
	f := newApprovalFixture(t, refservertest.Options{}, 3)
	a0, a1, a2 := f.approvers[0], f.approvers[1], f.approvers[2]
	outsider := f.addApprover(t, mustEd25519(t)) // registered, but no rule names it
	k := f.key(t, "pay", "ECDSA-P256", wire.KeyPolicy{Use: rule(2, a0, a1, a2)})
	st, err := f.requester.KeyPolicy(ctx, "pay")
	require.NoError(t, err)
	require.Equal(t, int64(1), st.Version)
	require.Equal(t, 2, st.Policy.Use[0].Quorum)

	digest := sha256.Sum256([]byte("pay 100 to Bob"))
	_, err = f.requester.Sign(ctx, wire.SignRequest{Label: "pay", Digest: digest[:], Hash: "SHA-256"})
	id := parked(t, err)
	require.ErrorIs(t, err, autherr.ErrApprovalPending)

	// What approvers see says exactly what will be done.
	list, err := a0.c.ApprovalTasks(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	task := list[0]
	require.Equal(t, id, task.ID)
	require.Equal(t, wire.OpSign, task.Operation)
	require.Equal(t, wire.TaskKey{Label: "pay", ID: k.ID, Algorithm: "ECDSA-P256"}, task.Key)
	require.Equal(t, f.requesterID, task.Requester)
	require.Equal(t, []wire.TaskParam{{Name: "digest", Value: hex.EncodeToString(digest[:])}, {Name: "hash", Value: "SHA-256"}, {Name: "scheme", Value: "ecdsa"}}, task.Params)
	require.Equal(t, task.CreatedAt+15*60, task.ExpiresAt, "the default time to live")
	require.Equal(t, wire.TaskPending, task.Status)

	t.Run("the result before the quorum", func(t *testing.T) {
		_, err := f.requester.CollectApprovalRequest(ctx, id)
		requireCode(t, err, wire.CodeApprovalPending)
	})
	first, err := a0.c.Approve(ctx, task, a0.signer)
	require.NoError(t, err)
	require.Equal(t, wire.TaskPending, first.Status)
	require.Len(t, first.Decisions, 1)
	decided, err := a0.c.ApprovalTasks(ctx)
	require.NoError(t, err)
	require.Empty(t, decided, "a task an approver decided leaves its list")

	t.Run("the same approver twice", func(t *testing.T) {
		_, err := a0.c.Approve(ctx, task, a0.signer)
		requireCode(t, err, wire.CodeConflict)
		require.ErrorIs(t, err, autherr.ErrAlreadyExists)
	})
	t.Run("an approver the rules do not name", func(t *testing.T) {
		_, err := outsider.c.ApprovalTask(ctx, id)
		requireCode(t, err, wire.CodeNotFound)
		_, err = outsider.c.Approve(ctx, task, outsider.signer)
		requireCode(t, err, wire.CodeNotFound)
		mine, err := outsider.c.ApprovalTasks(ctx)
		require.NoError(t, err)
		require.Empty(t, mine)
	})
	t.Run("approverKeyManagement trying to approve", func(t *testing.T) {
		_, err := f.akm.Approve(ctx, task, a1.signer)
		requireCode(t, err, wire.CodeForbidden)
		_, err = f.akm.ApprovalTasks(ctx)
		requireCode(t, err, wire.CodeForbidden)
	})
	t.Run("a signature over a different task", func(t *testing.T) {
		other := sha256.Sum256([]byte("pay 1000000 to Mallory"))
		_, err := f.requester.Sign(ctx, wire.SignRequest{Label: "pay", Digest: other[:], Hash: "SHA-256"})
		otherID := parked(t, err)
		otherTask, err := a1.c.ApprovalTask(ctx, otherID)
		require.NoError(t, err)
		// a1 signs the other task but posts the signature on this one.
		body, _ := wire.ApprovalTaskBody(&otherTask)
		msg, _ := wire.ApprovalMessage(body, wire.DecisionApprove)
		sig, err := wire.SignApproval(ctx, a1.signer, msg)
		require.NoError(t, err)
		_, err = a1.c.DecideApprovalTask(ctx, id, wire.ApprovalDecision{Decision: wire.DecisionApprove, Signature: sig})
		requireCode(t, err, wire.CodeInvalidApproval)
		require.ErrorIs(t, err, autherr.ErrInvalidApproval)

		// An altered copy of this task: the digest the approver was shown
		// differs from the one the server holds.
		altered := task
		altered.Params = append([]wire.TaskParam(nil), task.Params...)
		altered.Params[0].Value = hex.EncodeToString(other[:])
		_, err = a1.c.Approve(ctx, altered, a1.signer)
		requireCode(t, err, wire.CodeInvalidApproval)
		// A signature by another approver's key, and a signature for the
		// other decision.
		_, err = a1.c.Approve(ctx, task, a2.signer)
		requireCode(t, err, wire.CodeInvalidApproval)
		body, _ = wire.ApprovalTaskBody(&task)
		msg, _ = wire.ApprovalMessage(body, wire.DecisionReject)
		sig, _ = wire.SignApproval(ctx, a1.signer, msg)
		_, err = a1.c.DecideApprovalTask(ctx, id, wire.ApprovalDecision{Decision: wire.DecisionApprove, Signature: sig})
		requireCode(t, err, wire.CodeInvalidApproval)

		// The other task is rejected by a2: that ends it.
		rejected, err := a2.c.Reject(ctx, otherTask, a2.signer)
		require.NoError(t, err)
		require.Equal(t, wire.TaskRejected, rejected.Status)
		_, err = a0.c.Approve(ctx, otherTask, a0.signer)
		requireCode(t, err, wire.CodeApprovalRejected)
		_, err = f.requester.CollectApprovalRequest(ctx, otherID)
		require.ErrorIs(t, err, autherr.ErrApprovalRejected)
		require.ErrorIs(t, err, autherr.ErrTaskClosed)
	})

	pending, err := f.requester.ApprovalRequest(ctx, id)
	require.NoError(t, err)
	require.Equal(t, wire.TaskPending, pending.Status, "no failed attempt counted")
	require.Len(t, pending.Decisions, 1)

	second, err := a1.c.Approve(ctx, task, a1.signer)
	require.NoError(t, err)
	require.Equal(t, wire.TaskApproved, second.Status)
	_, err = a2.c.Approve(ctx, task, a2.signer)
	requireCode(t, err, wire.CodeTaskClosed)

	t.Run("the result fetched by another principal", func(t *testing.T) {
		_, sess := f.in.User(t, authn.RoleKeyOperation, authn.RoleKeyManagement)
		other := f.in.Client(client.Bearer(sess))
		_, err := other.CollectApprovalRequest(ctx, id)
		requireCode(t, err, wire.CodeNotFound)
		_, err = other.ApprovalRequest(ctx, id)
		requireCode(t, err, wire.CodeNotFound)
		require.Error(t, other.CancelApprovalRequest(ctx, id))
	})
	res, err := f.requester.CollectApprovalRequest(ctx, id)
	require.NoError(t, err)
	require.Equal(t, wire.OpSign, res.Operation)
	pub, err := wire.ParsePublicKey(k.PublicKey)
	require.NoError(t, err)
	require.True(t, ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], res.Signature), "the signature is over the approved digest")

	t.Run("the result fetched twice", func(t *testing.T) {
		_, err := f.requester.CollectApprovalRequest(ctx, id)
		requireCode(t, err, wire.CodeTaskClosed)
		done, err := f.requester.ApprovalRequest(ctx, id)
		require.NoError(t, err)
		require.Equal(t, wire.TaskDone, done.Status)
	})

	// Every step is in the audit log, with who approved what.
	require.Equal(t, []string{
		"requested", "decided:" + a0.id + ":approve", "decided:" + a1.id + ":approve", "approved", "executed",
	}, f.eventsOf(t, id))
	for _, e := range f.approvalEvents(t) {
		if e["task"] == id && e["event"] == "executed" {
			require.Equal(t, f.requesterID, e["principal"], "the requester collected it")
			require.Equal(t, "pay", e["key"])
		}
	}
	logs := f.log.String()
	require.NotContains(t, logs, hex.EncodeToString(digest[:]), "no digest in the audit log")
	require.NotContains(t, logs, base64.StdEncoding.EncodeToString(res.Signature), "no signature in the audit log")
}

func mustEd25519(t *testing.T) ed25519.PrivateKey {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	return priv
}

// TestApprovalExpiry: approvals of an expired task, and the collection of
// an approved task after its window, are refused.
func TestApprovalExpiry(t *testing.T) {
	ctx := context.Background()
	clock := &settableClock{t: time.Now()}
	f := newApprovalFixture(t, refservertest.Options{Clock: clock.now}, 2)
	a0, a1 := f.approvers[0], f.approvers[1]
	f.key(t, "exp", "Ed25519", wire.KeyPolicy{Use: rule(1, a0, a1)})

	_, err := f.requester.Sign(ctx, wire.SignRequest{Label: "exp", Message: []byte("late")})
	id := parked(t, err)
	task, err := a0.c.ApprovalTask(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []wire.TaskParam{
		{Name: "message_length", Value: "4"},
		{Name: "message_sha256", Value: hexSum("late")},
		{Name: "scheme", Value: "ed25519"},
	}, task.Params, "a whole message is shown by its hash")
	clock.advance(15 * time.Minute)
	_, err = a0.c.Approve(ctx, task, a0.signer)
	requireCode(t, err, wire.CodeTaskClosed)
	got, err := f.requester.ApprovalRequest(ctx, id)
	require.NoError(t, err)
	require.Equal(t, wire.TaskExpired, got.Status)
	list, err := a1.c.ApprovalTasks(ctx)
	require.NoError(t, err)
	require.Empty(t, list, "expired tasks are not listed")

	_, err = f.requester.Sign(ctx, wire.SignRequest{Label: "exp", Message: []byte("slow")})
	id = parked(t, err)
	approved := f.approve(t, id, a1)
	require.Equal(t, wire.TaskApproved, approved.Status)
	require.NotZero(t, approved.CollectBy)
	clock.advance(5 * time.Minute)
	_, err = f.requester.CollectApprovalRequest(ctx, id)
	requireCode(t, err, wire.CodeTaskClosed)
	require.Equal(t, []string{"requested", "decided:" + a1.id + ":approve", "approved"}, f.eventsOf(t, id), "never executed")
}

func hexSum(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestApprovalKeyManagement: block, unblock, policy change and delete obey
// their own rules, a blocked key refuses every use, and a change of the
// key's state cancels what was pending under the old one.
func TestApprovalKeyManagement(t *testing.T) {
	ctx := context.Background()
	f := newApprovalFixture(t, refservertest.Options{}, 3)
	a0, a1, a2 := f.approvers[0], f.approvers[1], f.approvers[2]
	f.key(t, "vault", "RSA-2048", wire.KeyPolicy{
		Use:          rule(1, a0),
		Block:        rule(1, a1),
		Delete:       rule(2, a0, a1, a2),
		ChangePolicy: rule(1, a2),
	}, "sign", "decrypt")
	collect := func(t *testing.T, id string) wire.ApprovalResult {
		t.Helper()
		res, err := f.requester.CollectApprovalRequest(ctx, id)
		require.NoError(t, err)
		return res
	}

	// A use task pending when the key is blocked is cancelled by the block.
	_, err := f.requester.Sign(ctx, wire.SignRequest{Label: "vault", Message: []byte("m")})
	useID := parked(t, err)

	_, err = f.requester.BlockKey(ctx, "vault")
	blockID := parked(t, err)
	task, err := a1.c.ApprovalTask(ctx, blockID)
	require.NoError(t, err)
	require.Equal(t, wire.OpBlock, task.Operation)
	require.Empty(t, task.Params)
	f.approve(t, blockID, a1)
	res := collect(t, blockID)
	require.True(t, res.Key.Blocked)
	require.Equal(t, int64(2), res.Key.Version)
	got, err := f.requester.ApprovalRequest(ctx, useID)
	require.NoError(t, err)
	require.Equal(t, wire.TaskCancelled, got.Status, "a state change cancels what was open")

	_, err = f.requester.Sign(ctx, wire.SignRequest{Label: "vault", Message: []byte("m")})
	requireCode(t, err, wire.CodeKeyBlocked)
	require.ErrorIs(t, err, autherr.ErrKeyBlocked)
	_, err = f.requester.Decrypt(ctx, wire.DecryptRequest{Label: "vault", Ciphertext: make([]byte, 256)})
	requireCode(t, err, wire.CodeKeyBlocked)
	_, err = f.requester.Encrypt(ctx, wire.EncryptRequest{Label: "vault", Plaintext: []byte("x"), Scheme: "oaep"})
	require.NoError(t, err, "public-key operations go on")

	_, err = f.requester.UnblockKey(ctx, "vault")
	unblockID := parked(t, err)
	f.approve(t, unblockID, a1)
	require.False(t, collect(t, unblockID).Key.Blocked)

	// The policy change obeys change_policy, and shows the new policy.
	_, err = f.requester.SetKeyPolicy(ctx, "vault", wire.KeyPolicy{Use: rule(2, a0, a1), Delete: rule(1, a2)})
	polID := parked(t, err)
	task, err = a2.c.ApprovalTask(ctx, polID)
	require.NoError(t, err)
	require.Equal(t, []wire.TaskParam{
		{Name: "new.block", Value: ""},
		{Name: "new.change_policy", Value: ""},
		{Name: "new.delete", Value: "1 of " + a2.id},
		{Name: "new.use", Value: "2 of " + sortedJoin(a0.id, a1.id)},
	}, task.Params)
	f.approve(t, polID, a2)
	res = collect(t, polID)
	require.Equal(t, 2, res.Key.Policy.Use[0].Quorum)
	require.Empty(t, res.Key.Policy.ChangePolicy)

	// No change_policy rule any more: the next change applies at once.
	st, err := f.requester.SetKeyPolicy(ctx, "vault", wire.KeyPolicy{Delete: rule(1, a2)})
	require.NoError(t, err)
	require.Empty(t, st.Policy.Use)
	_, err = f.requester.Sign(ctx, wire.SignRequest{Label: "vault", Message: []byte("m")})
	require.NoError(t, err, "no use rule: signs at once")

	// Delete waits for its approver; the key goes when the requester
	// collects.
	err = f.requester.DeleteKey(ctx, "vault")
	delID := parked(t, err)
	require.NoError(t, f.requester.CancelApprovalRequest(ctx, delID))
	_, err = a2.c.ApprovalTask(ctx, delID)
	require.NoError(t, err)
	_, err = f.approveErr(ctx, delID, a2)
	requireCode(t, err, wire.CodeTaskClosed)
	err = f.requester.DeleteKey(ctx, "vault")
	delID = parked(t, err)
	f.approve(t, delID, a2)
	collect(t, delID)
	_, err = f.in.Backend.Key(ctx, backend.ByLabel("vault"))
	require.ErrorIs(t, err, backend.ErrKeyNotFound)

	// Approvers a policy names cannot be removed; others can.
	err = f.akm.DeleteApprover(ctx, a2.id)
	require.NoError(t, err, "the key that named it is gone")
	f.key(t, "named", "Ed25519", wire.KeyPolicy{Block: rule(1, a0)})
	requireCode(t, f.akm.DeleteApprover(ctx, a0.id), wire.CodeInUse)
	all, err := f.akm.ListApprovers(ctx)
	require.NoError(t, err)
	require.Len(t, all, 2)
	one, err := f.akm.Approver(ctx, a0.id)
	require.NoError(t, err)
	require.Equal(t, "Ed25519", one.Algorithm)

	// A policy naming a principal that is not a registered approver is
	// refused at creation; so is a quorum it could never meet.
	_, err = f.requester.CreateKey(ctx, wire.KeySpec{Label: "bad", Algorithm: "Ed25519", Policy: &wire.KeyPolicy{
		Use: []wire.ApprovalRule{{Quorum: 1, Approvers: []string{f.requesterID}}}}})
	requireCode(t, err, wire.CodeInvalidInput)
	_, err = f.requester.CreateKey(ctx, wire.KeySpec{Label: "bad", Algorithm: "Ed25519", Policy: &wire.KeyPolicy{Use: []wire.ApprovalRule{{Quorum: 3, Approvers: []string{a0.id}}}}})
	requireCode(t, err, wire.CodeInvalidInput)
	_, err = f.in.Backend.Key(ctx, backend.ByLabel("bad"))
	require.ErrorIs(t, err, backend.ErrKeyNotFound, "no key is made without its policy")
}

func (f *approvalFixture) approveErr(ctx context.Context, id string, a approverFixture) (wire.ApprovalTask, error) {
	task, err := a.c.ApprovalTask(ctx, id)
	if err != nil {
		return task, err
	}
	return a.c.Approve(ctx, task, a.signer)
}

func sortedJoin(a, b string) string {
	if a > b {
		a, b = b, a
	}
	return a + "," + b
}

// TestApprovalDecryptAndDecapsulate: the other uses park and run the same
// way, and a requester cannot approve its own request even when it is an
// approver the rules name.
func TestApprovalDecryptAndDecapsulate(t *testing.T) {
	ctx := context.Background()
	f := newApprovalFixture(t, refservertest.Options{}, 1)
	a0 := f.approvers[0]
	rsaKey := f.key(t, "dec", "RSA-2048", wire.KeyPolicy{Use: rule(1, a0)}, "decrypt")
	pub, err := wire.ParsePublicKey(rsaKey.PublicKey)
	require.NoError(t, err)
	ct := encryptOAEP(t, pub, []byte("secret"))
	_, err = f.requester.Decrypt(ctx, wire.DecryptRequest{Label: "dec", Ciphertext: ct, Scheme: "oaep", Hash: "SHA-256"})
	id := parked(t, err)
	task, err := a0.c.ApprovalTask(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []wire.TaskParam{
		{Name: "ciphertext_length", Value: "256"}, {Name: "ciphertext_sha256", Value: hexSum(string(ct))},
		{Name: "hash", Value: "SHA-256"}, {Name: "mgf_hash", Value: "SHA-256"}, {Name: "scheme", Value: "oaep"},
	}, task.Params)
	_, err = f.requester.Decrypt(ctx, wire.DecryptRequest{Label: "dec", Ciphertext: append(ct, 0), Scheme: "oaep", Hash: "SHA-256"})
	requireCode(t, err, wire.CodeDecryptionFailed) // never parked: approvers are not asked for what cannot run
	_, err = f.requester.Decrypt(ctx, wire.DecryptRequest{Label: "dec", Ciphertext: ct, Scheme: "oaep", Hash: "SHA-1", MGFHash: "MD5"})
	requireCode(t, err, wire.CodeUnsupported)
	f.approve(t, id, a0)
	res, err := f.requester.CollectApprovalRequest(ctx, id)
	require.NoError(t, err)
	require.Equal(t, []byte("secret"), res.Plaintext)

	kem := f.key(t, "kem", "ML-KEM-768", wire.KeyPolicy{Use: rule(1, a0)})
	enc, err := f.requester.Encapsulate(ctx, kem.Label)
	require.NoError(t, err)
	_, err = f.requester.Decapsulate(ctx, wire.DecapsulateRequest{Label: "kem", Ciphertext: enc.Ciphertext})
	id = parked(t, err)
	f.approve(t, id, a0)
	res, err = f.requester.CollectApprovalRequest(ctx, id)
	require.NoError(t, err)
	require.Equal(t, enc.SharedKey, res.SharedKey)

	// An approver who requests: it is not shown its own request and may
	// not decide it.
	selfID, sess := f.in.User(t, authn.RoleApprover, authn.RoleKeyOperation, authn.RoleKeyManagement)
	self := f.in.Client(client.Bearer(sess))
	priv := mustEd25519(t)
	pemText, _ := wire.MarshalPublicKey(priv.Public())
	_, err = f.akm.CreateApprover(ctx, wire.CreateApprover{Principal: selfID, PublicKey: pemText})
	require.NoError(t, err)
	_, err = self.CreateKey(ctx, wire.KeySpec{Label: "own", Algorithm: "Ed25519", Policy: &wire.KeyPolicy{
		Use: []wire.ApprovalRule{{Quorum: 1, Approvers: []string{selfID, a0.id}}}}})
	require.NoError(t, err)
	_, err = self.Sign(ctx, wire.SignRequest{Label: "own", Message: []byte("me")})
	id = parked(t, err)
	mine, err := self.ApprovalTasks(ctx)
	require.NoError(t, err)
	require.Empty(t, mine)
	task, err = self.ApprovalTask(ctx, id)
	require.NoError(t, err, "it may look")
	_, err = self.Approve(ctx, task, priv)
	requireCode(t, err, wire.CodeForbidden)
}

// TestApprovalCollectionChecksAgain: what was approved runs only on the
// key the task names and only for a requester still allowed to use it; a
// collection that fails ends the task as failed.
func TestApprovalCollectionChecksAgain(t *testing.T) {
	ctx := context.Background()
	f := newApprovalFixture(t, refservertest.Options{}, 1)
	a0 := f.approvers[0]

	t.Run("the requester left the key's group", func(t *testing.T) {
		g, err := f.in.Auth.CreateGroup(ctx, "vault-team")
		require.NoError(t, err)
		both := authn.NewRoleSet(authn.RoleKeyManagement, authn.RoleKeyOperation)
		require.NoError(t, f.in.Auth.SetGroupMember(ctx, g.ID, f.requesterID, both))
		_, err = f.requester.CreateKey(ctx, wire.KeySpec{Label: "team", Algorithm: "Ed25519", Group: g.ID, Policy: &wire.KeyPolicy{Use: rule(1, a0)}})
		require.NoError(t, err)
		_, err = f.requester.Sign(ctx, wire.SignRequest{Label: "team", Message: []byte("m")})
		id := parked(t, err)
		f.approve(t, id, a0)
		require.NoError(t, f.in.Auth.SetGroupMember(ctx, g.ID, f.requesterID, 0))
		_, err = f.requester.CollectApprovalRequest(ctx, id)
		requireCode(t, err, wire.CodeKeyNotFound)
		got, err := f.requester.ApprovalRequest(ctx, id)
		require.NoError(t, err)
		require.Equal(t, wire.TaskFailed, got.Status)
	})

	t.Run("the key was replaced under its label", func(t *testing.T) {
		f.key(t, "swap", "Ed25519", wire.KeyPolicy{Use: rule(1, a0)})
		_, err := f.requester.Sign(ctx, wire.SignRequest{Label: "swap", Message: []byte("m")})
		id := parked(t, err)
		f.approve(t, id, a0)
		old, err := f.in.Backend.Key(ctx, backend.ByLabel("swap"))
		require.NoError(t, err)
		require.NoError(t, f.in.Backend.DeleteKey(ctx, backend.KeyRef{ID: old.ID(), Label: "swap"})) // behind the server's back
		_, err = f.in.Backend.GenerateKey(ctx, backend.KeySpec{Label: "swap", Algorithm: backend.Ed25519})
		require.NoError(t, err)
		_, err = f.requester.CollectApprovalRequest(ctx, id)
		requireCode(t, err, wire.CodeKeyNotFound)
		require.Equal(t, []string{"requested", "decided:" + a0.id + ":approve", "approved", "failed"}, f.eventsOf(t, id))
	})

	t.Run("a moved key keeps its policy", func(t *testing.T) {
		f.key(t, "mover", "Ed25519", wire.KeyPolicy{Use: rule(1, a0)})
		g, err := f.in.Auth.CreateGroup(ctx, "elsewhere")
		require.NoError(t, err)
		require.NoError(t, f.in.Auth.SetGroupMember(ctx, g.ID, f.requesterID, authn.NewRoleSet(authn.RoleKeyManagement, authn.RoleKeyOperation)))
		_, err = f.requester.MoveKey(ctx, "mover", g.ID)
		require.NoError(t, err)
		_, err = f.requester.Sign(ctx, wire.SignRequest{Label: "mover", Message: []byte("m")})
		parked(t, err)
	})

	t.Run("blocked keys still verify", func(t *testing.T) {
		f.key(t, "stop", "Ed25519", wire.KeyPolicy{})
		sig, err := f.requester.Sign(ctx, wire.SignRequest{Label: "stop", Message: []byte("m")})
		require.NoError(t, err)
		st, err := f.requester.BlockKey(ctx, "stop")
		require.NoError(t, err, "no block rules: at once")
		require.True(t, st.Blocked)
		again, err := f.requester.BlockKey(ctx, "stop")
		require.NoError(t, err)
		require.Equal(t, st.Version, again.Version, "blocking a blocked key changes nothing")
		ok, err := f.requester.Verify(ctx, wire.VerifyRequest{SignRequest: wire.SignRequest{Label: "stop", Message: []byte("m")}, Signature: sig})
		require.NoError(t, err)
		require.True(t, ok)
		_, err = f.requester.Sign(ctx, wire.SignRequest{Label: "stop", Message: []byte("m")})
		requireCode(t, err, wire.CodeKeyBlocked)
	})

	t.Run("a request the key could never run is not parked", func(t *testing.T) {
		f.key(t, "strict", "ECDSA-P256", wire.KeyPolicy{Use: rule(1, a0)})
		_, err := f.requester.Sign(ctx, wire.SignRequest{Label: "strict", Digest: make([]byte, 31), Hash: "SHA-256"})
		requireCode(t, err, wire.CodeInvalidInput)
		_, err = f.requester.Sign(ctx, wire.SignRequest{Label: "strict", Message: []byte("m"), Scheme: "pss"})
		requireCode(t, err, wire.CodeInvalidInput)
		list, err := a0.c.ApprovalTasks(ctx)
		require.NoError(t, err)
		for _, task := range list {
			require.NotEqual(t, "strict", task.Key.Label)
		}
	})

	t.Run("at most 32 open requests", func(t *testing.T) {
		f.key(t, "busy", "Ed25519", wire.KeyPolicy{Use: rule(1, a0)})
		open := 0
		list, err := a0.c.ApprovalTasks(ctx)
		require.NoError(t, err)
		open = len(list) // the other subtests' requests still open
		var first string
		for i := open; i < 32; i++ {
			_, err := f.requester.Sign(ctx, wire.SignRequest{Label: "busy", Message: []byte{byte(i)}})
			id := parked(t, err)
			if first == "" {
				first = id
			}
		}
		_, err = f.requester.Sign(ctx, wire.SignRequest{Label: "busy", Message: []byte("one more")})
		requireCode(t, err, wire.CodeTooManyTasks)
		require.ErrorIs(t, err, autherr.ErrTooManyTasks)
		require.NoError(t, f.requester.CancelApprovalRequest(ctx, first))
		_, err = f.requester.Sign(ctx, wire.SignRequest{Label: "busy", Message: []byte("one more")})
		parked(t, err)
	})
}

// TestApprovalConfig: the TTL and collect window come from the server's
// configuration and are bounded.
func TestApprovalConfig(t *testing.T) {
	load := func(args ...string) (refserver.Config, error) {
		return refserver.LoadConfig(flag.NewFlagSet("t", flag.ContinueOnError), append([]string{"-data", t.TempDir()}, args...),
			func(string) string { return "" })
	}
	c, err := load("-approval-ttl", "1h", "-approval-collect-window", "30s")
	require.NoError(t, err)
	require.Equal(t, time.Hour, time.Duration(c.ApprovalTTL))
	require.Equal(t, 30*time.Second, time.Duration(c.ApprovalCollectWindow))
	for _, bad := range [][]string{{"-approval-ttl", "25h"}, {"-approval-collect-window", "-1s"}} {
		_, err := load(bad...)
		require.Error(t, err, bad)
	}
}

// TestApprovalParkedAnswer: a parked operation answers 202 with the
// request's ID, operation, status and expiry, and a Location to follow.
func TestApprovalParkedAnswer(t *testing.T) {
	f := newApprovalFixture(t, refservertest.Options{}, 1)
	f.key(t, "loc", "Ed25519", wire.KeyPolicy{Use: rule(1, f.approvers[0])})
	req, err := http.NewRequest("POST", f.in.URL+"/v1/sign", strings.NewReader(`{"label":"loc","message":"aGVsbG8="}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+f.requesterSession)
	resp, err := f.in.Admin.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)
	var p wire.PendingApproval
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
	require.Equal(t, "/v1/approvals/requests/"+p.RequestID, resp.Header.Get("Location"))
	require.Equal(t, wire.OpSign, p.Operation)
	require.Equal(t, wire.TaskPending, p.Status)
	got, err := f.requester.ApprovalRequest(context.Background(), p.RequestID)
	require.NoError(t, err)
	require.Equal(t, got.ExpiresAt, p.ExpiresAt)
}

// TestApprovalImportedKeyPolicy: a policy given with an imported key holds
// from the key's first use.
func TestApprovalImportedKeyPolicy(t *testing.T) {
	ctx := context.Background()
	f := newApprovalFixture(t, refservertest.Options{}, 1)
	a0 := f.approvers[0]
	priv := mustEd25519(t)
	der, err := wire.MarshalPrivateKey(backend.Ed25519, priv)
	require.NoError(t, err)
	_, err = f.requester.ImportKey(ctx, wire.ImportKeyRequest{PrivateKey: der,
		KeySpec: wire.KeySpec{Label: "imported", Algorithm: "Ed25519", Policy: &wire.KeyPolicy{Use: rule(1, a0)}}})
	require.NoError(t, err)
	_, err = f.requester.Sign(ctx, wire.SignRequest{Label: "imported", Message: []byte("m")})
	id := parked(t, err)
	f.approve(t, id, a0)
	res, err := f.requester.CollectApprovalRequest(ctx, id)
	require.NoError(t, err)
	require.True(t, ed25519.Verify(priv.Public().(ed25519.PublicKey), []byte("m"), res.Signature))
}
