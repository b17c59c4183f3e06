package refserver_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/backend"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/wire"
)

// approvalWorld is what the approval routes' fixtures share: one
// registered approver (A) and a task nobody else is named in.
type approvalWorld struct {
	akm  authn.Principal // holds approverKeyManagement
	a    approverFixture
	task string // a pending task that names only A
}

func (w *world) approvals(t *testing.T) *approvalWorld {
	if w.appr != nil {
		return w.appr
	}
	aw := &approvalWorld{akm: authn.Principal{ID: w.in.AdminID, Kind: authn.KindUser, Roles: authn.NewRoleSet(authn.RoleApproverKeyManagement)}}
	w.appr = aw
	aw.a = w.newApprover(t)
	_, aw.task = w.useRequest(t, authn.RoleKeyOperation, aw.a)
	return aw
}

// newApprover is a user holding the approver role with a registered
// Ed25519 key.
func (w *world) newApprover(t *testing.T) approverFixture {
	id, sess := w.in.User(t, authn.RoleApprover)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	akm := authn.Principal{ID: w.in.AdminID, Kind: authn.KindUser, Roles: authn.NewRoleSet(authn.RoleApproverKeyManagement)}
	_, err = w.in.Auth.RegisterApprover(context.Background(), akm, id, der)
	require.NoError(t, err)
	return approverFixture{id: id, c: w.in.Client(client.Bearer(sess)), signer: priv, session: sess}
}

// policyKey is a new key (in the default group) whose policy is p.
func (w *world) policyKey(t *testing.T, p authn.KeyPolicy) string {
	ctx := context.Background()
	l := uniqueLabel("pol")
	k, err := w.in.Backend.GenerateKey(ctx, backend.KeySpec{Label: l, Algorithm: backend.Ed25519})
	require.NoError(t, err)
	if !p.IsZero() {
		_, err = w.in.Auth.SetKeyState(ctx, k.ID().String(), 0, authn.KeyState{Policy: p})
		require.NoError(t, err)
	}
	return l
}

// useRequest parks a request of a new principal holding role, whose
// approval the rules give to approvers: a sign for keyOperation, a block
// for keyManagement. It returns the principal's session and the task.
func (w *world) useRequest(t *testing.T, role authn.Role, approvers ...approverFixture) (string, string) {
	ctx := context.Background()
	var ids []string
	for _, a := range approvers {
		ids = append(ids, a.id)
	}
	rules := []authn.ApprovalRule{{Quorum: 1, Approvers: ids}}
	_, sess := w.in.User(t, role)
	c := w.in.Client(client.Bearer(sess))
	var err error
	if role == authn.RoleKeyManagement {
		_, err = c.BlockKey(ctx, w.policyKey(t, authn.KeyPolicy{Block: rules}))
	} else {
		_, err = c.Sign(ctx, wire.SignRequest{Label: w.policyKey(t, authn.KeyPolicy{Use: rules}), Message: []byte("m")})
	}
	return sess, parked(t, err)
}

// requestFixture calls a request route for a caller holding role: for the
// requester roles, on its own parked request (approved first if
// approve); for any other, on someone else's (the route refuses the role
// before that matters).
func requestFixture(suffix string, approve bool) func(*testing.T, *world) call {
	return func(t *testing.T, w *world) call {
		aw := w.approvals(t)
		c := call{path: "/v1/approvals/requests/" + aw.task + suffix}
		c.as = func(t *testing.T, role authn.Role) (call, string) {
			if role != authn.RoleKeyOperation && role != authn.RoleKeyManagement {
				_, sess := w.in.User(t, role)
				return call{path: c.path}, sess
			}
			sess, id := w.useRequest(t, role, aw.a)
			if approve {
				task, err := aw.a.c.ApprovalTask(context.Background(), id)
				require.NoError(t, err)
				_, err = aw.a.c.Approve(context.Background(), task, aw.a.signer)
				require.NoError(t, err)
			}
			return call{path: "/v1/approvals/requests/" + id + suffix}, sess
		}
		return c
	}
}

// taskFixture calls an approver route for a caller holding role: for the
// approver role, on a new task that names it (with a signed approval as
// the body if decide); for any other, on a task that does not.
func taskFixture(suffix string, decide bool) func(*testing.T, *world) call {
	return func(t *testing.T, w *world) call {
		aw := w.approvals(t)
		c := call{path: "/v1/approvals/tasks/" + aw.task + suffix}
		if decide {
			c.body = wire.ApprovalDecision{Decision: wire.DecisionApprove, Signature: make([]byte, 64)}
		}
		c.as = func(t *testing.T, role authn.Role) (call, string) {
			if role != authn.RoleApprover {
				_, sess := w.in.User(t, role)
				return call{path: c.path, body: c.body}, sess
			}
			a := w.newApprover(t)
			_, id := w.useRequest(t, authn.RoleKeyOperation, a)
			out := call{path: "/v1/approvals/tasks/" + id + suffix}
			if decide {
				task, err := a.c.ApprovalTask(context.Background(), id)
				require.NoError(t, err)
				body, err := wire.ApprovalTaskBody(&task)
				require.NoError(t, err)
				msg, _ := wire.ApprovalMessage(body, wire.DecisionApprove)
				sig, err := wire.SignApproval(context.Background(), a.signer, msg)
				require.NoError(t, err)
				out.body = wire.ApprovalDecision{Decision: wire.DecisionApprove, Signature: sig}
			}
			return out, a.session
		}
		return c
	}
}

// registeredApprover is a fresh registered approver's ID.
func registeredApprover(t *testing.T, w *world) string { return w.newApprover(t).id }

func init() {
	fixtures["GET /v1/key/{label}/policy"] = func(*testing.T, *world) call { return call{path: "/v1/key/m-ec/policy"} }
	fixtures["PUT /v1/key/{label}/policy"] = func(t *testing.T, w *world) call {
		a := w.approvals(t).a
		return call{path: "/v1/key/" + w.policyKey(t, authn.KeyPolicy{}) + "/policy", body: wire.KeyPolicy{Use: rule(1, a)}}
	}
	fixtures["POST /v1/key/{label}/block"] = func(t *testing.T, w *world) call {
		return call{path: "/v1/key/" + w.policyKey(t, authn.KeyPolicy{}) + "/block"}
	}
	fixtures["POST /v1/key/{label}/unblock"] = func(t *testing.T, w *world) call {
		return call{path: "/v1/key/" + w.policyKey(t, authn.KeyPolicy{}) + "/unblock"}
	}
	fixtures["GET /v1/approvals/requests/{id}"] = requestFixture("", false)
	fixtures["DELETE /v1/approvals/requests/{id}"] = requestFixture("", false)
	fixtures["POST /v1/approvals/requests/{id}/result"] = requestFixture("/result", true)
	fixtures["GET /v1/approvals/tasks"] = func(*testing.T, *world) call { return call{path: "/v1/approvals/tasks"} }
	fixtures["GET /v1/approvals/tasks/{id}"] = taskFixture("", false)
	fixtures["POST /v1/approvals/tasks/{id}/decision"] = taskFixture("/decision", true)
	fixtures["POST /sys/v1/approvers"] = func(t *testing.T, w *world) call {
		id, _ := w.in.User(t, authn.RoleApprover)
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		pemText, err := wire.MarshalPublicKey(pub)
		require.NoError(t, err)
		return call{path: "/sys/v1/approvers", body: wire.CreateApprover{Principal: id, PublicKey: pemText}}
	}
	fixtures["GET /sys/v1/approvers"] = func(*testing.T, *world) call { return call{path: "/sys/v1/approvers"} }
	fixtures["GET /sys/v1/approvers/{principal}"] = func(t *testing.T, w *world) call {
		return call{path: "/sys/v1/approvers/" + registeredApprover(t, w)}
	}
	fixtures["DELETE /sys/v1/approvers/{principal}"] = func(t *testing.T, w *world) call {
		return call{path: "/sys/v1/approvers/" + registeredApprover(t, w)}
	}
}
