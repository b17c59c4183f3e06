package authn_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
)

func idN(n int) string {
	return "usr_" + string(rune('0'+n)) + "0000000000000000000000000000000"
}

func TestNormalizePolicy(t *testing.T) {
	many := make([]string, authn.MaxRuleApprovers+1)
	for i := range many {
		many[i] = "usr_" + randomHex(16)
	}
	for _, c := range []struct {
		name   string
		policy authn.KeyPolicy
		ok     bool
	}{
		{"empty", authn.KeyPolicy{}, true},
		{"2 of 3", authn.KeyPolicy{Use: []authn.ApprovalRule{{Quorum: 2, Approvers: []string{idN(3), idN(1), idN(2)}}}}, true},
		{"quorum 0", authn.KeyPolicy{Use: []authn.ApprovalRule{{Quorum: 0, Approvers: []string{idN(1)}}}}, false},
		{"quorum above the approvers", authn.KeyPolicy{Block: []authn.ApprovalRule{{Quorum: 2, Approvers: []string{idN(1)}}}}, false},
		{"negative quorum", authn.KeyPolicy{Delete: []authn.ApprovalRule{{Quorum: -1, Approvers: []string{idN(1)}}}}, false},
		{"no approvers", authn.KeyPolicy{ChangePolicy: []authn.ApprovalRule{{Quorum: 1}}}, false},
		{"an approver twice", authn.KeyPolicy{Use: []authn.ApprovalRule{{Quorum: 1, Approvers: []string{idN(1), idN(1)}}}}, false},
		{"not a principal ID", authn.KeyPolicy{Use: []authn.ApprovalRule{{Quorum: 1, Approvers: []string{"grp_00000000000000000000000000000000"}}}}, false},
		{"too many approvers", authn.KeyPolicy{Use: []authn.ApprovalRule{{Quorum: 1, Approvers: many}}}, false},
		{"too many rules", authn.KeyPolicy{Use: []authn.ApprovalRule{
			{Quorum: 1, Approvers: []string{idN(1)}}, {Quorum: 1, Approvers: []string{idN(2)}}, {Quorum: 1, Approvers: []string{idN(3)}},
			{Quorum: 1, Approvers: []string{idN(4)}}, {Quorum: 1, Approvers: []string{idN(5)}}}}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := authn.NormalizePolicy(c.policy)
			if !c.ok {
				require.ErrorIs(t, err, authn.ErrInvalidArgument)
				require.NotContains(t, err.Error(), "usr_", "the error quotes no input")
				return
			}
			require.NoError(t, err)
			for _, r := range got.Use {
				require.IsIncreasing(t, r.Approvers)
			}
		})
	}
	// Rules sort, so that the same policy has one form.
	a, err := authn.NormalizePolicy(authn.KeyPolicy{Use: []authn.ApprovalRule{{Quorum: 1, Approvers: []string{idN(2)}}, {Quorum: 1, Approvers: []string{idN(1)}}}})
	require.NoError(t, err)
	b, err := authn.NormalizePolicy(authn.KeyPolicy{Use: []authn.ApprovalRule{{Quorum: 1, Approvers: []string{idN(1)}}, {Quorum: 1, Approvers: []string{idN(2)}}}})
	require.NoError(t, err)
	require.Equal(t, a, b)
	require.Equal(t, "1 of "+idN(1)+"; 1 of "+idN(2), authn.RulesText(a.Use))
}

func TestQuorumMet(t *testing.T) {
	x, y, z, w := idN(1), idN(2), idN(3), idN(4)
	twoOfThree := authn.ApprovalRule{Quorum: 2, Approvers: []string{x, y, z}}
	oneOfW := authn.ApprovalRule{Quorum: 1, Approvers: []string{w}}
	for _, c := range []struct {
		name  string
		rules []authn.ApprovalRule
		by    []string
		met   bool
	}{
		{"one of two", []authn.ApprovalRule{twoOfThree}, []string{x}, false},
		{"two of three", []authn.ApprovalRule{twoOfThree}, []string{x, z}, true},
		{"the same approver twice is one", []authn.ApprovalRule{twoOfThree}, []string{x, x}, false},
		{"an approver the rule does not name", []authn.ApprovalRule{twoOfThree}, []string{x, w}, false},
		{"every rule must be met", []authn.ApprovalRule{twoOfThree, oneOfW}, []string{x, y}, false},
		{"both rules met", []authn.ApprovalRule{twoOfThree, oneOfW}, []string{x, y, w}, true},
		{"no rules", nil, nil, true},
	} {
		require.Equal(t, c.met, authn.QuorumMet(c.rules, c.by), c.name)
	}
}

func TestParseApproverKey(t *testing.T) {
	der := func(pub crypto.PublicKey) []byte {
		b, err := x509.MarshalPKIXPublicKey(pub)
		require.NoError(t, err)
		return b
	}
	edPub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		der  []byte
		alg  string
	}{
		{"Ed25519", der(edPub), "Ed25519"},
		{"ECDSA P-256", der(&p256.PublicKey), "ECDSA-P256"},
		{"RSA-2048", der(&rsa2048.PublicKey), "RSA-2048"},
		{"ECDSA P-384", der(&p384.PublicKey), ""},
		{"RSA-1024", der(&rsa1024.PublicKey), ""},
		{"garbage", []byte{0x30, 0x03, 0x01, 0x01, 0x00}, ""},
		{"huge", make([]byte, 4096), ""},
		// The modulus bounds every verification's work: a public key is
		// all it takes, no key generation.
		{"RSA-4096", der(rsaBits(4096)), "RSA-4096"},
		{"RSA-4097", der(rsaBits(4097)), ""},
		{"RSA-2047", der(rsaBits(2047)), ""},
	} {
		_, alg, err := authn.ParseApproverKey(c.der)
		if c.alg == "" {
			require.ErrorIs(t, err, authn.ErrInvalidArgument, c.name)
			continue
		}
		require.NoError(t, err, c.name)
		require.Equal(t, c.alg, alg)
	}
}

// rsaBits is an RSA public key whose modulus has exactly bits bits (odd,
// not a product of two primes: only its size matters here).
func rsaBits(bits int) *rsa.PublicKey {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	return &rsa.PublicKey{N: n.Add(n, big.NewInt(1)), E: 65537}
}

// approvalEnv is a service with three registered Ed25519 approvers.
type approvalEnv struct {
	*env
	akm       authn.Principal // holds approverKeyManagement
	approvers []authn.Principal
	keys      []ed25519.PrivateKey
	requester authn.Principal
}

func asPrincipal(a authn.Account, roles ...authn.Role) authn.Principal {
	return authn.Principal{ID: a.ID, Kind: a.Kind, Roles: authn.NewRoleSet(roles...), Method: authn.MethodAPIKey}
}

func newApprovalEnv(t *testing.T, tweak ...func(*authn.Config)) *approvalEnv {
	e := &approvalEnv{env: newEnv(t, tweak...)}
	akm, _ := e.app(t, authn.RoleApproverKeyManagement)
	e.akm = asPrincipal(akm, authn.RoleApproverKeyManagement)
	for range 3 {
		a, _ := e.app(t, authn.RoleApprover)
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		der, err := x509.MarshalPKIXPublicKey(pub)
		require.NoError(t, err)
		_, err = e.svc.RegisterApprover(ctx, e.akm, a.ID, der)
		require.NoError(t, err)
		e.approvers = append(e.approvers, asPrincipal(a, authn.RoleApprover))
		e.keys = append(e.keys, priv)
	}
	r, _ := e.app(t, authn.RoleKeyOperation)
	e.requester = asPrincipal(r, authn.RoleKeyOperation)
	return e
}

// verify is a stand-in for the server's encoding: the signature is over
// the body and the decision's first byte.
func verify(pub crypto.PublicKey, body []byte, approve bool, sig []byte) bool {
	return ed25519.Verify(pub.(ed25519.PublicKey), message(body, approve), sig)
}

func message(body []byte, approve bool) []byte {
	d := byte('r')
	if approve {
		d = 'a'
	}
	return append(append([]byte(nil), body...), d)
}

func (e *approvalEnv) sign(i int, t authn.ApprovalTask, approve bool) []byte {
	return ed25519.Sign(e.keys[i], message(t.Body, approve))
}

// task parks a sign on key keyID, whose use needs 2 of the 3 approvers.
func (e *approvalEnv) task(t *testing.T, keyID string) authn.ApprovalTask {
	st, err := e.svc.KeyState(ctx, keyID)
	require.NoError(t, err)
	if st.Version == 0 {
		st, err = e.svc.SetKeyState(ctx, keyID, 0, authn.KeyState{Policy: authn.KeyPolicy{
			Use: []authn.ApprovalRule{{Quorum: 2, Approvers: []string{e.approvers[0].ID, e.approvers[1].ID, e.approvers[2].ID}}}}})
		require.NoError(t, err)
	}
	tk, err := e.svc.CreateApprovalTask(ctx, e.requester, authn.RoleKeyOperation, authn.TaskSpec{
		Operation: "sign", Class: authn.ClassUse, KeyID: keyID, KeyLabel: "k", KeyAlg: "Ed25519", State: st,
		Request: []byte("arguments")}, func(t *authn.ApprovalTask) ([]byte, error) { return []byte(t.ID + "|" + t.KeyID), nil })
	require.NoError(t, err)
	return tk
}

func TestApproverRegistration(t *testing.T) {
	e := newApprovalEnv(t)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	ops, _ := e.app(t, authn.RoleKeyOperation)
	_, err = e.svc.RegisterApprover(ctx, e.akm, ops.ID, der)
	require.ErrorIs(t, err, authn.ErrInvalidArgument, "a principal without the approver role")
	_, err = e.svc.RegisterApprover(ctx, e.approvers[0], e.approvers[0].ID, der)
	require.ErrorIs(t, err, authn.ErrForbidden, "an approver does not register keys")
	_, err = e.svc.RegisterApprover(ctx, e.akm, e.approvers[0].ID, der)
	require.ErrorIs(t, err, authn.ErrAlreadyExists)
	_, err = e.svc.RegisterApprover(ctx, e.akm, "usr_"+randomHex(16), der)
	require.ErrorIs(t, err, authn.ErrNotFound)
	all, err := e.svc.Approvers(ctx)
	require.NoError(t, err)
	require.Len(t, all, 3)

	_, err = e.svc.SetKeyState(ctx, "aa", 0, authn.KeyState{Policy: authn.KeyPolicy{Use: []authn.ApprovalRule{{Quorum: 1, Approvers: []string{ops.ID}}}}})
	require.ErrorIs(t, err, authn.ErrInvalidArgument, "a policy names registered approvers only")
	st, err := e.svc.SetKeyState(ctx, "aa", 0, authn.KeyState{Policy: authn.KeyPolicy{Delete: []authn.ApprovalRule{{Quorum: 1, Approvers: []string{e.approvers[0].ID}}}}})
	require.NoError(t, err)
	require.ErrorIs(t, e.svc.DeleteApprover(ctx, e.akm, e.approvers[0].ID), authn.ErrInUse)
	_, err = e.svc.SetKeyState(ctx, "aa", 0, authn.KeyState{})
	require.ErrorIs(t, err, authn.ErrNotFound, "from a version that moved")
	_, err = e.svc.SetKeyState(ctx, "aa", st.Version, authn.KeyState{})
	require.NoError(t, err)
	require.NoError(t, e.svc.DeleteApprover(ctx, e.akm, e.approvers[0].ID))
}

func TestApprovalFlow(t *testing.T) {
	e := newApprovalEnv(t)
	tk := e.task(t, "01")
	require.Equal(t, e.clock.Now().Truncate(time.Second).Add(15*time.Minute), tk.ExpiresAt, "the default TTL")

	list, err := e.svc.ApprovalTasksFor(ctx, e.approvers[1])
	require.NoError(t, err)
	require.Len(t, list, 1)
	_, err = e.svc.ApprovalTasksFor(ctx, e.requester)
	require.ErrorIs(t, err, authn.ErrForbidden, "listing needs the approver role")

	_, err = e.svc.ClaimApprovalTask(ctx, e.requester, tk.ID)
	require.ErrorIs(t, err, authn.ErrApprovalPending)

	_, err = e.svc.DecideApprovalTask(ctx, e.approvers[0], tk.ID, true, e.sign(1, tk, true), verify)
	require.ErrorIs(t, err, authn.ErrInvalidApproval, "signed with another approver's key")
	_, err = e.svc.DecideApprovalTask(ctx, e.approvers[0], tk.ID, true, e.sign(0, tk, false), verify)
	require.ErrorIs(t, err, authn.ErrInvalidApproval, "signed for the other decision")
	after, err := e.svc.DecideApprovalTask(ctx, e.approvers[0], tk.ID, true, e.sign(0, tk, true), verify)
	require.NoError(t, err)
	require.Equal(t, authn.TaskPending, after.Status)
	_, err = e.svc.DecideApprovalTask(ctx, e.approvers[0], tk.ID, true, e.sign(0, tk, true), verify)
	require.ErrorIs(t, err, authn.ErrAlreadyExists)
	after, err = e.svc.DecideApprovalTask(ctx, e.approvers[2], tk.ID, true, e.sign(2, tk, true), verify)
	require.NoError(t, err)
	require.Equal(t, authn.TaskApproved, after.Status)
	require.Equal(t, e.clock.Now().Add(5*time.Minute), after.CollectBy, "the default collect window")

	other := e.requester
	other.ID = e.approvers[1].ID
	_, err = e.svc.ClaimApprovalTask(ctx, other, tk.ID)
	require.ErrorIs(t, err, authn.ErrNotFound, "another principal's request")
	noRole := e.requester
	noRole.Roles = authn.NewRoleSet(authn.RoleService)
	_, err = e.svc.ClaimApprovalTask(ctx, noRole, tk.ID)
	require.ErrorIs(t, err, authn.ErrForbidden, "the role the request was made with")
	claimed, err := e.svc.ClaimApprovalTask(ctx, e.requester, tk.ID)
	require.NoError(t, err)
	require.Equal(t, []byte("arguments"), claimed.Request)
	_, err = e.svc.ClaimApprovalTask(ctx, e.requester, tk.ID)
	var closed *authn.TaskClosedError
	require.ErrorAs(t, err, &closed)
	require.Equal(t, authn.TaskExecuting, closed.Status)
	require.NoError(t, e.svc.FinishApprovalTask(ctx, tk.ID, true))
	_, err = e.svc.ClaimApprovalTask(ctx, e.requester, tk.ID)
	require.ErrorAs(t, err, &closed)
	require.Equal(t, authn.TaskDone, closed.Status)
	require.Contains(t, closed.Reason(), "has run")
	require.NotContains(t, closed.Reason(), tk.ID)
}

func TestApprovalRefusals(t *testing.T) {
	e := newApprovalEnv(t)

	t.Run("the requester approving its own request", func(t *testing.T) {
		tk := e.task(t, "02")
		self := e.requester
		self.ID, self.Roles = e.approvers[0].ID, authn.NewRoleSet(authn.RoleApprover, authn.RoleKeyOperation)
		st, err := e.svc.KeyState(ctx, "02")
		require.NoError(t, err)
		own, err := e.svc.CreateApprovalTask(ctx, self, authn.RoleKeyOperation, authn.TaskSpec{Operation: "sign", Class: authn.ClassUse,
			KeyID: "02", State: st}, func(t *authn.ApprovalTask) ([]byte, error) { return []byte(t.ID), nil })
		require.NoError(t, err)
		_, err = e.svc.DecideApprovalTask(ctx, self, own.ID, true, e.sign(0, own, true), verify)
		require.ErrorIs(t, err, authn.ErrForbidden)
		list, err := e.svc.ApprovalTasksFor(ctx, self)
		require.NoError(t, err)
		require.Len(t, list, 1, "its own request is not listed to it")
		require.Equal(t, tk.ID, list[0].ID)
	})

	t.Run("an approver the rules do not name", func(t *testing.T) {
		tk := e.task(t, "03")
		a, _ := e.app(t, authn.RoleApprover)
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(pub)
		_, err := e.svc.RegisterApprover(ctx, e.akm, a.ID, der)
		require.NoError(t, err)
		_, err = e.svc.DecideApprovalTask(ctx, asPrincipal(a, authn.RoleApprover), tk.ID, true, ed25519.Sign(priv, message(tk.Body, true)), verify)
		require.ErrorIs(t, err, authn.ErrNotFound, "told the task does not exist")
		_, err = e.svc.ApprovalTaskFor(ctx, asPrincipal(a, authn.RoleApprover), tk.ID)
		require.ErrorIs(t, err, authn.ErrNotFound)
	})

	t.Run("a rejection ends the task", func(t *testing.T) {
		tk := e.task(t, "04")
		after, err := e.svc.DecideApprovalTask(ctx, e.approvers[1], tk.ID, false, e.sign(1, tk, false), verify)
		require.NoError(t, err)
		require.Equal(t, authn.TaskRejected, after.Status)
		_, err = e.svc.DecideApprovalTask(ctx, e.approvers[0], tk.ID, true, e.sign(0, tk, true), verify)
		require.ErrorIs(t, err, authn.ErrApprovalRejected)
		_, err = e.svc.ClaimApprovalTask(ctx, e.requester, tk.ID)
		require.ErrorIs(t, err, authn.ErrApprovalRejected)
	})

	t.Run("expiry", func(t *testing.T) {
		tk := e.task(t, "05")
		e.clock.Advance(tk.ExpiresAt.Sub(e.clock.Now()))
		_, err := e.svc.DecideApprovalTask(ctx, e.approvers[0], tk.ID, true, e.sign(0, tk, true), verify)
		var closed *authn.TaskClosedError
		require.ErrorAs(t, err, &closed)
		require.Equal(t, authn.TaskExpired, closed.Status)
		_, err = e.svc.CancelApprovalTask(ctx, e.requester, tk.ID)
		require.ErrorAs(t, err, &closed)
		require.Equal(t, authn.TaskExpired, closed.Status)

		// An approved task not collected in time expires too.
		tk = e.task(t, "05")
		for _, i := range []int{0, 1} {
			_, err = e.svc.DecideApprovalTask(ctx, e.approvers[i], tk.ID, true, e.sign(i, tk, true), verify)
			require.NoError(t, err)
		}
		e.clock.Advance(5 * time.Minute)
		_, err = e.svc.ClaimApprovalTask(ctx, e.requester, tk.ID)
		require.ErrorAs(t, err, &closed)
		require.Equal(t, authn.TaskExpired, closed.Status)
	})

	t.Run("cancel", func(t *testing.T) {
		tk := e.task(t, "06")
		other := e.requester
		other.ID = e.approvers[0].ID
		_, err := e.svc.CancelApprovalTask(ctx, other, tk.ID)
		require.ErrorIs(t, err, authn.ErrNotFound)
		got, err := e.svc.CancelApprovalTask(ctx, e.requester, tk.ID)
		require.NoError(t, err)
		require.Equal(t, authn.TaskCancelled, got.Status)
		_, err = e.svc.DecideApprovalTask(ctx, e.approvers[0], tk.ID, true, e.sign(0, tk, true), verify)
		require.ErrorIs(t, err, authn.ErrTaskClosed)
	})

	t.Run("a state change cancels open tasks", func(t *testing.T) {
		tk := e.task(t, "07")
		st, err := e.svc.KeyState(ctx, "07")
		require.NoError(t, err)
		st.Blocked = true
		_, err = e.svc.SetKeyState(ctx, "07", st.Version, st)
		require.NoError(t, err)
		got, err := e.svc.ApprovalRequest(ctx, e.requester, tk.ID)
		require.NoError(t, err)
		require.Equal(t, authn.TaskCancelled, got.Status)
	})

	t.Run("malformed IDs are not looked up", func(t *testing.T) {
		for _, id := range []string{"", "apr_", "apr_zz", "key_00000000000000000000000000000000", "apr_0000000000000000000000000000000g"} {
			_, err := e.svc.ApprovalRequest(ctx, e.requester, id)
			require.ErrorIs(t, err, authn.ErrNotFound, id)
		}
	})
}

func TestApprovalOpenLimitAndConfig(t *testing.T) {
	e := newApprovalEnv(t, func(c *authn.Config) { c.Approvals = authn.ApprovalConfig{MaxOpen: 2, TTL: time.Minute} })
	e.task(t, "08")
	tk := e.task(t, "08")
	require.Equal(t, tk.CreatedAt.Add(time.Minute), tk.ExpiresAt)
	st, err := e.svc.KeyState(ctx, "08")
	require.NoError(t, err)
	_, err = e.svc.CreateApprovalTask(ctx, e.requester, authn.RoleKeyOperation, authn.TaskSpec{Operation: "sign", Class: authn.ClassUse, KeyID: "08", State: st},
		func(t *authn.ApprovalTask) ([]byte, error) { return []byte(t.ID), nil })
	require.ErrorIs(t, err, authn.ErrTooManyTasks)
	_, err = e.svc.CreateApprovalTask(ctx, e.requester, authn.RoleKeyOperation, authn.TaskSpec{Operation: "sign", Class: authn.ClassBlock, KeyID: "08", State: st},
		func(t *authn.ApprovalTask) ([]byte, error) { return []byte(t.ID), nil })
	require.ErrorIs(t, err, authn.ErrInvalidArgument, "a class without rules needs no task")
	e.clock.Advance(time.Minute)
	e.task(t, "08") // the others expired

	for _, bad := range []authn.ApprovalConfig{{TTL: 25 * time.Hour}, {CollectWindow: -time.Second}, {MaxOpen: -1}} {
		cfg := e.cfg
		cfg.Approvals = bad
		_, err := authn.NewService(cfg)
		require.ErrorIs(t, err, authn.ErrInvalidArgument)
	}
}

// TestApprovalPurge: ended tasks stay for status queries for the
// retention (7 days by default), then PurgeExpired deletes them.
func TestApprovalPurge(t *testing.T) {
	e := newApprovalEnv(t)
	tk := e.task(t, "09")
	_, err := e.svc.CancelApprovalTask(ctx, e.requester, tk.ID)
	require.NoError(t, err)
	e.clock.Advance(7 * 24 * time.Hour)
	_, err = e.svc.PurgeExpired(ctx)
	require.NoError(t, err)
	_, err = e.svc.ApprovalRequest(ctx, e.requester, tk.ID)
	require.NoError(t, err, "kept for the retention")
	e.clock.Advance(time.Second)
	n, err := e.svc.PurgeExpired(ctx)
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, int64(1))
	_, err = e.svc.ApprovalRequest(ctx, e.requester, tk.ID)
	require.ErrorIs(t, err, authn.ErrNotFound, "purged")
}
