package client

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/cryptoplug/cryptoplug/authn/autherr"
	"github.com/cryptoplug/cryptoplug/wire"
)

// ApprovalRequiredError is what any call returns when the server parked
// the operation for approval (202) instead of running it: the key's policy
// asks for approvers' signatures first. It matches
// autherr.ErrApprovalPending. Follow the request with
// [Client.AwaitApproval], or [Client.ApprovalRequest] and
// [Client.CollectApprovalRequest].
type ApprovalRequiredError struct {
	Pending wire.PendingApproval
}

// Error names the request.
func (e *ApprovalRequiredError) Error() string {
	return "refserver: " + e.Pending.Operation + " needs approvals: request " + e.Pending.RequestID
}

// Unwrap returns autherr.ErrApprovalPending.
func (e *ApprovalRequiredError) Unwrap() error { return autherr.ErrApprovalPending }

func decodePending(resp *http.Response) error {
	var p wire.PendingApproval
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&p); err != nil || p.RequestID == "" {
		return fmt.Errorf("refserver: malformed 202 answer")
	}
	return &ApprovalRequiredError{Pending: p}
}

// ApprovalRequest returns the state of the caller's parked operation id
// (GET /v1/approvals/requests/{id}; roles keyOperation, keyManagement).
func (c *Client) ApprovalRequest(ctx context.Context, id string) (wire.ApprovalTask, error) {
	var out wire.ApprovalTask
	return out, c.do(ctx, "GET", "/v1/approvals/requests/"+segment(id), nil, &out, nil)
}

// CancelApprovalRequest cancels the caller's open request id (DELETE
// /v1/approvals/requests/{id}).
func (c *Client) CancelApprovalRequest(ctx context.Context, id string) error {
	return c.do(ctx, "DELETE", "/v1/approvals/requests/"+segment(id), nil, nil, nil)
}

// CollectApprovalRequest runs the caller's approved request id and returns
// its result (POST /v1/approvals/requests/{id}/result). It succeeds once;
// afterwards, or for a request not yet approved, it fails (matching
// autherr.ErrTaskClosed or autherr.ErrApprovalPending).
func (c *Client) CollectApprovalRequest(ctx context.Context, id string) (wire.ApprovalResult, error) {
	var out wire.ApprovalResult
	return out, c.do(ctx, "POST", "/v1/approvals/requests/"+segment(id)+"/result", nil, &out, nil)
}

// How AwaitApproval polls: the first wait, growing by half each time up to
// the last, each with up to a quarter of jitter so that many waiting
// clients do not poll in step.
const (
	awaitFirst = 100 * time.Millisecond
	awaitMax   = 2 * time.Second
)

// cancelTimeout bounds the cancellation AwaitApproval sends after its
// context ended.
const cancelTimeout = 5 * time.Second

// AwaitApproval waits until the caller's request id is approved, then
// collects and returns its result. It polls the request's state, first
// after 100 ms and then less often, up to every 2 s. A request that is
// rejected returns an error matching autherr.ErrApprovalRejected; one that
// expires, is cancelled (by the caller, or by a change of the key's state)
// or was collected elsewhere, one matching autherr.ErrTaskClosed. When ctx
// ends first, AwaitApproval cancels the request on the server (waiting at
// most 5 s for that; if the server cannot be reached the request expires
// by itself) and returns an error wrapping ctx's. (A context that ends
// while the parking call itself is in flight cannot cancel anything: the
// request's ID never arrived, and the request expires unapproved.)
func (c *Client) AwaitApproval(ctx context.Context, id string) (wire.ApprovalResult, error) {
	delay := awaitFirst
	for {
		t, err := c.ApprovalRequest(ctx, id)
		if err != nil {
			return wire.ApprovalResult{}, c.abandon(ctx, id, err)
		}
		switch t.Status {
		case wire.TaskApproved:
			res, err := c.CollectApprovalRequest(ctx, id)
			if err != nil {
				return res, c.abandon(ctx, id, err)
			}
			return res, nil
		case wire.TaskPending:
		case wire.TaskRejected:
			return wire.ApprovalResult{}, fmt.Errorf("refserver: approval request %s was rejected: %w", id, autherr.ErrApprovalRejected)
		default:
			return wire.ApprovalResult{}, fmt.Errorf("refserver: approval request %s is %s: %w", id, t.Status, autherr.ErrTaskClosed)
		}
		wait := delay + rand.N(delay/4+1)
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return wire.ApprovalResult{}, c.abandon(ctx, id, ctx.Err())
		case <-timer.C:
		}
		delay = min(delay*3/2, awaitMax)
	}
}

// abandon cancels request id on the server when ctx has ended, so that no
// approver decides a request nobody waits for, and returns err wrapped.
func (c *Client) abandon(ctx context.Context, id string, err error) error {
	if ctx.Err() == nil {
		return err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cancelTimeout)
	defer cancel()
	c.CancelApprovalRequest(cctx, id) // best effort: an unreachable server lets it expire
	return fmt.Errorf("refserver: waiting for approval of request %s: %w", id, ctx.Err())
}

// ApprovalTasks returns the open tasks the calling approver may decide,
// oldest first (GET /v1/approvals/tasks; role approver).
func (c *Client) ApprovalTasks(ctx context.Context) ([]wire.ApprovalTask, error) {
	var out wire.ApprovalTaskList
	return out.Tasks, c.do(ctx, "GET", "/v1/approvals/tasks", nil, &out, nil)
}

// ApprovalTask returns task id, if its rules name the calling approver
// (GET /v1/approvals/tasks/{id}).
func (c *Client) ApprovalTask(ctx context.Context, id string) (wire.ApprovalTask, error) {
	var out wire.ApprovalTask
	return out, c.do(ctx, "GET", "/v1/approvals/tasks/"+segment(id), nil, &out, nil)
}

// DecideApprovalTask posts a signed decision on task id (POST
// /v1/approvals/tasks/{id}/decision) and returns the task as it then
// stands. [Client.Approve] and [Client.Reject] make the signature.
func (c *Client) DecideApprovalTask(ctx context.Context, id string, d wire.ApprovalDecision) (wire.ApprovalTask, error) {
	var out wire.ApprovalTask
	return out, c.do(ctx, "POST", "/v1/approvals/tasks/"+segment(id)+"/decision", d, &out, nil)
}

// Approve signs an approval of task with signer (the calling approver's
// registered key, held by any cryptoplug backend or in memory: see
// wire.SignApproval) and posts it. It signs exactly the fields of task that
// wire.ApprovalTaskBody encodes: show those to whoever approves before
// calling it. A task it cannot encode exactly is refused unsigned.
func (c *Client) Approve(ctx context.Context, task wire.ApprovalTask, signer crypto.Signer) (wire.ApprovalTask, error) {
	return c.decide(ctx, task, wire.DecisionApprove, signer)
}

// Reject is [Client.Approve] for a rejection, which ends the task.
func (c *Client) Reject(ctx context.Context, task wire.ApprovalTask, signer crypto.Signer) (wire.ApprovalTask, error) {
	return c.decide(ctx, task, wire.DecisionReject, signer)
}

func (c *Client) decide(ctx context.Context, task wire.ApprovalTask, decision string, signer crypto.Signer) (wire.ApprovalTask, error) {
	body, err := wire.ApprovalTaskBody(&task)
	if err != nil {
		return wire.ApprovalTask{}, err
	}
	msg, err := wire.ApprovalMessage(body, decision)
	if err != nil {
		return wire.ApprovalTask{}, err
	}
	sig, err := wire.SignApproval(ctx, signer, msg)
	if err != nil {
		return wire.ApprovalTask{}, err
	}
	return c.DecideApprovalTask(ctx, task.ID, wire.ApprovalDecision{Decision: decision, Signature: sig})
}

// CreateApprover registers a principal's approval key (POST
// /sys/v1/approvers; role approverKeyManagement).
func (c *Client) CreateApprover(ctx context.Context, req wire.CreateApprover) (wire.Approver, error) {
	var out wire.Approver
	return out, c.do(ctx, "POST", "/sys/v1/approvers", req, &out, nil)
}

// ListApprovers returns every approver (GET /sys/v1/approvers).
func (c *Client) ListApprovers(ctx context.Context) ([]wire.Approver, error) {
	var out wire.ApproverList
	return out.Approvers, c.do(ctx, "GET", "/sys/v1/approvers", nil, &out, nil)
}

// Approver describes one approver (GET /sys/v1/approvers/{principal}).
func (c *Client) Approver(ctx context.Context, principal string) (wire.Approver, error) {
	var out wire.Approver
	return out, c.do(ctx, "GET", "/sys/v1/approvers/"+segment(principal), nil, &out, nil)
}

// DeleteApprover removes an approver no key policy names (DELETE
// /sys/v1/approvers/{principal}).
func (c *Client) DeleteApprover(ctx context.Context, principal string) error {
	return c.do(ctx, "DELETE", "/sys/v1/approvers/"+segment(principal), nil, nil, nil)
}

// KeyPolicy returns a key's approval policy and blocked state (GET
// /v1/key/{label}/policy; role keyManagement).
func (c *Client) KeyPolicy(ctx context.Context, label string) (wire.KeyState, error) {
	var out wire.KeyState
	return out, c.do(ctx, "GET", "/v1/key/"+segment(label)+"/policy", nil, &out, nil)
}

// SetKeyPolicy replaces a key's policy (PUT /v1/key/{label}/policy). Under
// the key's change_policy rules it returns an *ApprovalRequiredError.
func (c *Client) SetKeyPolicy(ctx context.Context, label string, p wire.KeyPolicy) (wire.KeyState, error) {
	var out wire.KeyState
	return out, c.do(ctx, "PUT", "/v1/key/"+segment(label)+"/policy", p, &out, nil)
}

// BlockKey blocks a key (POST /v1/key/{label}/block); under the key's block
// rules it returns an *ApprovalRequiredError.
func (c *Client) BlockKey(ctx context.Context, label string) (wire.KeyState, error) {
	var out wire.KeyState
	return out, c.do(ctx, "POST", "/v1/key/"+segment(label)+"/block", nil, &out, nil)
}

// UnblockKey unblocks a key (POST /v1/key/{label}/unblock), as BlockKey.
func (c *Client) UnblockKey(ctx context.Context, label string) (wire.KeyState, error) {
	var out wire.KeyState
	return out, c.do(ctx, "POST", "/v1/key/"+segment(label)+"/unblock", nil, &out, nil)
}
