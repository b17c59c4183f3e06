package authn

import (
	"context"
	"time"
)

// ApprovalStore is the part of [Store] that keeps approvers, key states
// and approval tasks. The contract of [Store] holds; in addition, the
// methods documented as atomic decide races between server instances
// sharing one database: of concurrent decisions on one task each approver
// counts once and the task closes once, and of concurrent claims of one
// approved task exactly one succeeds.
type ApprovalStore interface {
	// CreateApprover inserts a. A principal that does not exist returns
	// ErrNotFound; one registered already, ErrAlreadyExists.
	CreateApprover(ctx context.Context, a ApproverRecord) error
	// GetApprover returns the approver registered for principalID.
	GetApprover(ctx context.Context, principalID string) (ApproverRecord, error)
	// ListApprovers returns every approver, ordered by principal ID.
	ListApprovers(ctx context.Context) ([]ApproverRecord, error)
	// DeleteApprover deletes the approver, atomically refusing with
	// ErrInUse while a key state's policy names it. Deleting the principal
	// deletes its approver record with it.
	DeleteApprover(ctx context.Context, principalID string) error

	// GetKeyState returns the state of key keyID; ErrNotFound if it never
	// had one. It is on every key use's path: one indexed lookup.
	GetKeyState(ctx context.Context, keyID string) (KeyStateRecord, error)
	// SetKeyState atomically replaces the state of key next.KeyID, if its
	// version is still from (0: it has none), with next, and ends every
	// pending or approved task on the key as cancelled at now. A version
	// that moved returns ErrNotFound and changes nothing; so does an
	// approver the policy names that is not registered (ErrInvalidArgument),
	// also one deleted concurrently.
	SetKeyState(ctx context.Context, from int64, next KeyStateRecord, now time.Time) error
	// DeleteKeyState deletes the key's state and ends its pending and
	// approved tasks as cancelled at now; no state is not an error.
	DeleteKeyState(ctx context.Context, keyID string, now time.Time) error

	// CreateApprovalTask inserts t atomically if the key's state still has
	// version t.KeyVersion (else ErrNotFound) and t.Requester has fewer than
	// maxOpen pending or approved tasks that have not expired at
	// t.CreatedAt (else ErrTooManyTasks).
	CreateApprovalTask(ctx context.Context, t ApprovalTask, maxOpen int) error
	// GetApprovalTask returns the task with its decisions (ordered by time,
	// then approver), without its Request.
	GetApprovalTask(ctx context.Context, id string) (ApprovalTask, error)
	// ListApprovalTasks returns at most limit tasks that are pending and
	// unexpired at now, whose rules name approverID, who has not decided
	// them and did not request them; oldest first, without decisions or
	// Request.
	ListApprovalTasks(ctx context.Context, approverID string, now time.Time, limit int) ([]ApprovalTask, error)
	// AddApprovalDecision atomically records d on task id and returns the
	// task as it then stands. It requires the task to be pending and
	// unexpired at now (else a *TaskClosedError), its rules to name
	// d.Approver (else ErrNotFound), d.Approver not to be its requester and
	// to be registered still with key approverKey (else ErrForbidden), and
	// d.Approver not to have decided it (else ErrAlreadyExists). A
	// rejection ends the task as rejected; an approval after which
	// [QuorumMet] holds for the task's rules and its approvals makes it
	// approved, collectable until collectBy.
	AddApprovalDecision(ctx context.Context, id string, d ApprovalDecision, approverKey []byte, now, collectBy time.Time) (ApprovalTask, error)
	// CancelApprovalTask atomically ends task id as cancelled if requester
	// requested it and it is pending (before ExpiresAt) or approved (before
	// CollectBy) at now; otherwise ErrNotFound.
	CancelApprovalTask(ctx context.Context, id, requester string, now time.Time) error
	// ClaimApprovalTask atomically moves task id from approved to
	// executing, if requester requested it and now is before CollectBy, and
	// returns it with its Request; otherwise ErrNotFound. Of concurrent
	// claims exactly one succeeds.
	ClaimApprovalTask(ctx context.Context, id, requester string, now time.Time) (ApprovalTask, error)
	// FinishApprovalTask moves an executing task to status (TaskDone or
	// TaskFailed) at now and forgets its Request; a task that is not
	// executing returns ErrNotFound.
	FinishApprovalTask(ctx context.Context, id string, status TaskStatus, now time.Time) error
	// PurgeApprovalTasks deletes tasks that ended, expired or were left
	// executing before before, with their decisions, and returns how many.
	PurgeApprovalTasks(ctx context.Context, before time.Time) (int64, error)
}

// ApproverRecord is a stored approver.
type ApproverRecord struct {
	PrincipalID string
	PublicKey   []byte // PKIX DER
	Algorithm   string
	CreatedBy   string
	CreatedAt   time.Time
}

// KeyStateRecord is a key's stored policy and blocked flag.
type KeyStateRecord struct {
	KeyID   string
	Policy  KeyPolicy
	Blocked bool
	Version int64
}
