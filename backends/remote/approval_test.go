package remote_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/authn/autherr"
	"github.com/cryptoplug/cryptoplug/backend"
	_ "github.com/cryptoplug/cryptoplug/backends/pkcs11"
	"github.com/cryptoplug/cryptoplug/backends/pkcs11/softhsmtest"
	_ "github.com/cryptoplug/cryptoplug/backends/software"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
	"github.com/cryptoplug/cryptoplug/wire"
)

// approvalEvent is one approval record of the server's audit log.
type approvalEvent struct{ name, task string }

// eventHandler passes the server's approval records to the test, which so
// waits for what the server did rather than for time to pass.
type eventHandler struct{ ch chan approvalEvent }

func (h eventHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h eventHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h eventHandler) WithGroup(string) slog.Handler            { return h }

func (h eventHandler) Handle(_ context.Context, r slog.Record) error {
	var e approvalEvent
	r.Attrs(func(a slog.Attr) bool {
		switch {
		case a.Key == "event":
			e.name = a.Value.String()
		case a.Key == "task":
			e.task = a.Value.String()
		case a.Key == "route" && a.Value.String() == "GET /v1/approvals/requests/{id}":
			e.name = "polled" // the requester knows the request's ID
		}
		return true
	})
	if r.Message == "approval" || e.name == "polled" {
		h.ch <- e
	}
	return nil
}

// waitEvent returns the next approval record named name. The bound is
// there to fail a hung test, not to order anything.
func waitEvent(t *testing.T, ch <-chan approvalEvent, name string) approvalEvent {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		select {
		case e := <-ch:
			if e.name == name {
				return e
			}
		case <-deadline:
			t.Fatalf("no %q approval event within a minute", name)
		}
	}
}

type signResult struct {
	sig []byte
	err error
}

// approverKey is an approver whose key lives in a cryptoplug backend on
// its own side.
type approverKey struct {
	id     string
	c      *client.Client
	signer crypto.Signer
}

func newApproverKey(t *testing.T, in *refservertest.Instance, b backend.Backend, alg backend.Algorithm) approverKey {
	ctx := context.Background()
	k, err := b.GenerateKey(ctx, backend.KeySpec{Label: "approval-key", Algorithm: alg})
	require.NoError(t, err)
	s, err := k.Signer()
	require.NoError(t, err)
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	require.NoError(t, err)
	id, sess := in.User(t, authn.RoleApprover)
	akm := authn.Principal{ID: in.AdminID, Kind: authn.KindUser, Roles: authn.NewRoleSet(authn.RoleApproverKeyManagement)}
	_, err = in.Auth.RegisterApprover(ctx, akm, id, der)
	require.NoError(t, err)
	return approverKey{id: id, c: in.Client(client.Bearer(sess)), signer: s}
}

func (a approverKey) decide(t *testing.T, taskID string, approve bool) {
	ctx := context.Background()
	task, err := a.c.ApprovalTask(ctx, taskID)
	require.NoError(t, err)
	if approve {
		_, err = a.c.Approve(ctx, task, a.signer)
	} else {
		_, err = a.c.Reject(ctx, task, a.signer)
	}
	require.NoError(t, err)
}

// TestSignContextWaitsForApproval: through the remote backend, a Go
// program signs with a key whose use needs 2 approvers and blocks until
// both approved (one approving with a key in SoftHSM, one with a key in a
// software keystore); a rejection ends the wait with ErrApprovalRejected;
// a cancelled context cancels the request on the server.
func TestSignContextWaitsForApproval(t *testing.T) {
	ctx := context.Background()
	events := make(chan approvalEvent, 1024)
	in := refservertest.Start(t, refservertest.Options{Audit: slog.New(eventHandler{events})})
	hsm, err := backend.Open(ctx, softhsmtest.NewToken(t))
	require.NoError(t, err)
	defer hsm.Close()
	soft, err := backend.Open(ctx, "software:")
	require.NoError(t, err)
	defer soft.Close()
	inHSM := newApproverKey(t, in, hsm, backend.ECDSAP256)
	inSoft := newApproverKey(t, in, soft, backend.Ed25519)

	b, err := backend.Open(ctx, in.RemoteURI(t))
	require.NoError(t, err)
	defer b.Close()
	k, err := b.GenerateKey(ctx, backend.KeySpec{Label: "pay", Algorithm: backend.ECDSAP256})
	require.NoError(t, err)
	_, err = in.Auth.SetKeyState(ctx, k.ID().String(), 0, authn.KeyState{Policy: authn.KeyPolicy{
		Use:    []authn.ApprovalRule{{Quorum: 2, Approvers: []string{inHSM.id, inSoft.id}}},
		Delete: []authn.ApprovalRule{{Quorum: 1, Approvers: []string{inSoft.id}}},
	}})
	require.NoError(t, err)
	s, err := k.Signer()
	require.NoError(t, err)
	digest := sha256.Sum256([]byte("approved payment"))
	sign := func(ctx context.Context) <-chan signResult {
		out := make(chan signResult, 1)
		go func() {
			sig, err := s.SignContext(ctx, rand.Reader, digest[:], crypto.SHA256)
			out <- signResult{sig, err}
		}()
		return out
	}

	t.Run("approved", func(t *testing.T) {
		res := sign(ctx)
		ev := waitEvent(t, events, "requested")
		inHSM.decide(t, ev.task, true)
		select {
		case r := <-res:
			t.Fatalf("SignContext returned after one approval of two: %v", r.err)
		default:
		}
		inSoft.decide(t, ev.task, true)
		r := <-res
		require.NoError(t, r.err)
		require.True(t, ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), digest[:], r.sig))
		require.Equal(t, ev.task, waitEvent(t, events, "executed").task)
	})

	t.Run("rejected", func(t *testing.T) {
		res := sign(ctx)
		ev := waitEvent(t, events, "requested")
		inSoft.decide(t, ev.task, false)
		r := <-res
		require.ErrorIs(t, r.err, autherr.ErrApprovalRejected)
		require.ErrorIs(t, r.err, autherr.ErrTaskClosed)
		var be *backend.Error
		require.ErrorAs(t, r.err, &be, "an error of the backend contract")
		require.Equal(t, "sign", be.Op)
	})

	t.Run("context cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		res := sign(cctx)
		ev := waitEvent(t, events, "requested")
		waitEvent(t, events, "polled")
		cancel()
		r := <-res
		require.ErrorIs(t, r.err, context.Canceled)
		require.Equal(t, ev.task, waitEvent(t, events, "cancelled").task, "the request was cancelled on the server")
		task, err := inHSM.c.ApprovalTask(ctx, ev.task)
		require.NoError(t, err)
		require.Equal(t, wire.TaskCancelled, task.Status)
		_, err = inHSM.c.Approve(ctx, task, inHSM.signer)
		require.ErrorIs(t, err, autherr.ErrTaskClosed, "nobody approves what nobody waits for")
	})

	t.Run("Sign without a context waits the URI's timeout", func(t *testing.T) {
		b2, err := backend.Open(ctx, in.RemoteURI(t)+"&timeout=3s")
		require.NoError(t, err)
		defer b2.Close()
		k2, err := b2.Key(ctx, backend.ByLabel("pay"))
		require.NoError(t, err)
		s2, err := k2.Signer()
		require.NoError(t, err)
		_, err = s2.Sign(rand.Reader, digest[:], crypto.SHA256)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		ev := waitEvent(t, events, "cancelled")
		task, err := inHSM.c.ApprovalTask(ctx, ev.task)
		require.NoError(t, err)
		require.Equal(t, wire.TaskCancelled, task.Status)
	})

	t.Run("delete waits too", func(t *testing.T) {
		done := make(chan error, 1)
		go func() { done <- b.DeleteKey(ctx, backend.ByLabel("pay")) }()
		ev := waitEvent(t, events, "requested")
		inSoft.decide(t, ev.task, true)
		require.NoError(t, <-done)
		_, err := in.Backend.Key(ctx, backend.ByLabel("pay"))
		require.True(t, errors.Is(err, backend.ErrKeyNotFound))
	})
}
