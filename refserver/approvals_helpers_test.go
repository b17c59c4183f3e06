package refserver_test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cryptoplug/cryptoplug/authn"
	"github.com/cryptoplug/cryptoplug/refserver/client"
	"github.com/cryptoplug/cryptoplug/refserver/refservertest"
	"github.com/cryptoplug/cryptoplug/wire"
)

// approvalFixture is a server with a principal holding
// approverKeyManagement, a requester holding keyManagement and
// keyOperation, and registered approvers.
type approvalFixture struct {
	in          *refservertest.Instance
	log         *syncBuffer
	akm         *client.Client
	requester   *client.Client
	requesterID string
	// requesterSession is the requester's bearer token.
	requesterSession string
	approvers        []approverFixture
}

type approverFixture struct {
	id      string
	c       *client.Client
	signer  crypto.Signer
	session string
}

// newApprovalFixture starts a server whose audit log is captured, with n
// approvers holding Ed25519 keys in memory (addApprover adds others).
func newApprovalFixture(t *testing.T, o refservertest.Options, n int) *approvalFixture {
	f := &approvalFixture{log: &syncBuffer{}}
	o.Audit = slog.New(slog.NewJSONHandler(f.log, nil))
	f.in = refservertest.Start(t, o)
	_, akm := f.in.User(t, authn.RoleApproverKeyManagement)
	f.akm = f.in.Client(client.Bearer(akm))
	f.requesterID, f.requesterSession = f.in.User(t, authn.RoleKeyManagement, authn.RoleKeyOperation)
	f.requester = f.in.Client(client.Bearer(f.requesterSession))
	for range n {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		f.addApprover(t, priv)
	}
	return f
}

// addApprover makes a user holding the approver role and registers
// signer's public key for it, through the server's route.
func (f *approvalFixture) addApprover(t *testing.T, signer crypto.Signer) approverFixture {
	id, sess := f.in.User(t, authn.RoleApprover)
	pemText, err := wire.MarshalPublicKey(signer.Public())
	require.NoError(t, err)
	a, err := f.akm.CreateApprover(context.Background(), wire.CreateApprover{Principal: id, PublicKey: pemText})
	require.NoError(t, err)
	require.Equal(t, id, a.Principal)
	ap := approverFixture{id: id, c: f.in.Client(client.Bearer(sess)), signer: signer, session: sess}
	f.approvers = append(f.approvers, ap)
	return ap
}

func rule(quorum int, as ...approverFixture) []wire.ApprovalRule {
	r := wire.ApprovalRule{Quorum: quorum}
	for _, a := range as {
		r.Approvers = append(r.Approvers, a.id)
	}
	return []wire.ApprovalRule{r}
}

// key creates a key with policy p (and usage, if given) as the requester.
func (f *approvalFixture) key(t *testing.T, label, alg string, p wire.KeyPolicy, usage ...string) wire.Key {
	k, err := f.requester.CreateKey(context.Background(), wire.KeySpec{Label: label, Algorithm: alg, Policy: &p, Usage: usage})
	require.NoError(t, err)
	return k
}

// parked returns the request ID of a call the server parked.
func parked(t *testing.T, err error) string {
	t.Helper()
	var pending *client.ApprovalRequiredError
	require.ErrorAs(t, err, &pending)
	require.Equal(t, wire.TaskPending, pending.Pending.Status)
	require.NotZero(t, pending.Pending.ExpiresAt)
	return pending.Pending.RequestID
}

// approve has approvers decide task id in favour, each fetching it first.
func (f *approvalFixture) approve(t *testing.T, id string, as ...approverFixture) wire.ApprovalTask {
	t.Helper()
	var last wire.ApprovalTask
	for _, a := range as {
		task, err := a.c.ApprovalTask(context.Background(), id)
		require.NoError(t, err)
		last, err = a.c.Approve(context.Background(), task, a.signer)
		require.NoError(t, err)
	}
	return last
}

// approvalEvents returns the audit log's approval records, in order.
func (f *approvalFixture) approvalEvents(t *testing.T) []map[string]string {
	var out []map[string]string
	sc := bufio.NewScanner(strings.NewReader(f.log.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec))
		if rec["msg"] != "approval" {
			continue
		}
		m := map[string]string{}
		for k, v := range rec {
			if s, ok := v.(string); ok {
				m[k] = s
			}
		}
		out = append(out, m)
	}
	return out
}

// eventsOf returns the events recorded for task id, as "event[:approver]".
func (f *approvalFixture) eventsOf(t *testing.T, id string) []string {
	var out []string
	for _, e := range f.approvalEvents(t) {
		if e["task"] != id {
			continue
		}
		s := e["event"]
		if e["approver"] != "" {
			s += ":" + e["approver"] + ":" + e["decision"]
		}
		out = append(out, s)
	}
	return out
}

func requireCode(t *testing.T, err error, code string) {
	t.Helper()
	require.Error(t, err)
	require.True(t, client.IsCode(err, code), "want %s, got %v", code, err)
}
