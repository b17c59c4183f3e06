package authn

import (
	"context"
	"crypto"
	"slices"
	"strconv"
	"time"
)

// Approval tasks. An operation on a key whose policy has rules for the
// operation's class is not run but parked as a task: what will be done,
// fixed at creation and encoded canonically by the caller (the Body every
// approval signs), the rules it must meet, and the key state's version
// they came from. Approvers named by the rules decide; the store counts
// each approver once and closes the task, atomically, as approved when
// every rule is met or as rejected at the first rejection. The requester
// then claims the approved task — one claim wins, so the operation runs
// once — runs it, and records the outcome. A task that is not approved by
// ExpiresAt, or not claimed by CollectBy, expires; a change of the key's
// state cancels it.

// TaskStatus is an approval task's state. The values are stored in
// databases and never change.
type TaskStatus uint8

// The task states. TaskExpired is never stored: [ApprovalTask.State]
// derives it from the clock.
const (
	TaskPending   TaskStatus = 1
	TaskApproved  TaskStatus = 2
	TaskRejected  TaskStatus = 3
	TaskCancelled TaskStatus = 4
	TaskExecuting TaskStatus = 5
	TaskDone      TaskStatus = 6
	TaskFailed    TaskStatus = 7
	TaskExpired   TaskStatus = 8
)

var taskStatusNames = [...]string{
	TaskPending:   "pending",
	TaskApproved:  "approved",
	TaskRejected:  "rejected",
	TaskCancelled: "cancelled",
	TaskExecuting: "executing",
	TaskDone:      "done",
	TaskFailed:    "failed",
	TaskExpired:   "expired",
}

// String returns the state's wire name: "pending", "approved", …
func (s TaskStatus) String() string {
	if int(s) < len(taskStatusNames) && taskStatusNames[s] != "" {
		return taskStatusNames[s]
	}
	return "TaskStatus(" + strconv.Itoa(int(s)) + ")"
}

// TaskParam is one detail of what a task will do, as text.
type TaskParam struct {
	Name, Value string
}

// ApprovalDecision is one approver's decision on a task, with the
// signature that proved it.
type ApprovalDecision struct {
	Approver  string // principal ID
	Approve   bool
	Signature []byte
	At        time.Time
}

// ApprovalTask is a parked operation.
type ApprovalTask struct {
	ID        string // "apr_…"
	Operation string // what the caller parked: "sign", "block", …
	Class     OpClass
	KeyID     string // lowercase hex
	KeyLabel  string
	KeyAlg    string
	// KeyVersion is the version of the key's state the rules came from;
	// the task runs only while the key is still in that state.
	KeyVersion    int64
	Requester     string // principal ID
	RequesterRole Role   // the role the request was made with, needed again to collect
	CreatedAt     time.Time
	ExpiresAt     time.Time // approvals after it are refused
	CollectBy     time.Time // set on approval: the claim must come before it
	Params        []TaskParam
	// Body is the canonical encoding of the task that approvals sign,
	// fixed at creation.
	Body []byte
	// Request holds the operation's arguments for the requester's claim;
	// only [Service.ClaimApprovalTask] returns it, and the store forgets
	// it when the task ends.
	Request   []byte
	Rules     []ApprovalRule
	Status    TaskStatus // as stored; see State
	EndedAt   time.Time  // when it was rejected, cancelled or finished
	Decisions []ApprovalDecision
}

// State returns the task's state at now: a pending task past ExpiresAt, or
// an approved one past CollectBy, is TaskExpired.
func (t *ApprovalTask) State(now time.Time) TaskStatus {
	switch {
	case t.Status == TaskPending && !now.Before(t.ExpiresAt):
		return TaskExpired
	case t.Status == TaskApproved && !now.Before(t.CollectBy):
		return TaskExpired
	}
	return t.Status
}

// Names reports whether the task's rules name principal id.
func (t *ApprovalTask) Names(id string) bool {
	for _, r := range t.Rules {
		if slices.Contains(r.Approvers, id) {
			return true
		}
	}
	return false
}

// TaskClosedError is returned for a task that can no longer be decided,
// cancelled or claimed. It matches [ErrTaskClosed], and
// [ErrApprovalRejected] when an approver rejected the task.
type TaskClosedError struct {
	TaskID string
	Status TaskStatus
}

// Error says which task and why.
func (e *TaskClosedError) Error() string {
	why := "is " + e.Status.String()
	switch e.Status {
	case TaskApproved:
		why = "already has its quorum"
	case TaskExecuting:
		why = "is being collected"
	case TaskDone, TaskFailed:
		why = "has run and its result was collected"
	case TaskRejected:
		why = "was rejected by an approver"
	case TaskCancelled:
		why = "was cancelled, by its requester or by a change of the key's state"
	}
	return "authn: approval task " + strconv.Quote(e.TaskID) + " " + why
}

// Reason is the error's text without the task ID, for a client.
func (e *TaskClosedError) Reason() string {
	msg := e.Error()
	return "the task" + msg[len("authn: approval task "+strconv.Quote(e.TaskID)):]
}

// Unwrap returns [ErrApprovalRejected] for a rejected task and
// [ErrTaskClosed] otherwise.
func (e *TaskClosedError) Unwrap() error {
	if e.Status == TaskRejected {
		return ErrApprovalRejected
	}
	return ErrTaskClosed
}

// ApprovalConfig tunes approval tasks; the zero value is the defaults.
type ApprovalConfig struct {
	// TTL is how long a task waits for its quorum; default 15 minutes, at
	// most MaxApprovalTTL.
	TTL time.Duration
	// CollectWindow is how long the requester has to collect an approved
	// task; default 5 minutes, at most MaxApprovalTTL.
	CollectWindow time.Duration
	// MaxOpen bounds the open (pending or approved) tasks of one
	// requester; default 32.
	MaxOpen int
	// Retention is how long ended tasks are kept (for status queries)
	// before PurgeExpired deletes them; default 7 days.
	Retention time.Duration
}

// MaxApprovalTTL bounds [ApprovalConfig.TTL] and CollectWindow.
const MaxApprovalTTL = 24 * time.Hour

// MaxListedTasks bounds the tasks one listing returns.
const MaxListedTasks = 100

func (c ApprovalConfig) withDefaults() (ApprovalConfig, error) {
	if c.TTL < 0 || c.TTL > MaxApprovalTTL || c.CollectWindow < 0 || c.CollectWindow > MaxApprovalTTL || c.MaxOpen < 0 || c.Retention < 0 {
		return c, errWrap(ErrInvalidArgument, "approval TTL and collect window must be 0 to 24h; MaxOpen and Retention not negative")
	}
	if c.TTL == 0 {
		c.TTL = 15 * time.Minute
	}
	if c.CollectWindow == 0 {
		c.CollectWindow = 5 * time.Minute
	}
	if c.MaxOpen == 0 {
		c.MaxOpen = 32
	}
	if c.Retention == 0 {
		c.Retention = 7 * 24 * time.Hour
	}
	return c, nil
}

// TaskSpec describes an operation to park.
type TaskSpec struct {
	Operation string
	Class     OpClass
	KeyID     string
	KeyLabel  string
	KeyAlg    string
	// State is the key's state the caller read; its rules for Class must
	// be non-empty, and its version is pinned.
	State   KeyState
	Params  []TaskParam
	Request []byte
}

// CreateApprovalTask parks spec as a task requested by p, who made the
// request with role (which p must hold). encode returns the canonical
// encoding of the task (whose ID, times and params are set), which every
// approval will sign; its error is returned as is. The task expires after
// the configured TTL. A requester with too many open tasks gets
// [ErrTooManyTasks]; if the key's state changed since spec.State was
// read, [ErrTaskClosed] (retry).
func (s *Service) CreateApprovalTask(ctx context.Context, p Principal, role Role, spec TaskSpec, encode func(*ApprovalTask) ([]byte, error)) (ApprovalTask, error) {
	const op = "create approval task"
	if !p.HasRole(role) {
		return ApprovalTask{}, opErr(op, p.ID, ErrForbidden)
	}
	rules := spec.State.Policy.Rules(spec.Class)
	if len(rules) == 0 || !validKeyID(spec.KeyID) || spec.State.KeyID != spec.KeyID {
		return ApprovalTask{}, opErr(op, "", errWrap(ErrInvalidArgument, "no rules to approve against, or a malformed key ID"))
	}
	now := s.now().Truncate(time.Second) // the encoding carries seconds
	t := ApprovalTask{
		ID: newID(taskIDPrefix), Operation: spec.Operation, Class: spec.Class,
		KeyID: spec.KeyID, KeyLabel: spec.KeyLabel, KeyAlg: spec.KeyAlg, KeyVersion: spec.State.Version,
		Requester: p.ID, RequesterRole: role, CreatedAt: now, ExpiresAt: now.Add(s.approvals.TTL),
		Params: spec.Params, Request: spec.Request, Rules: rules, Status: TaskPending,
	}
	body, err := encode(&t)
	if err != nil {
		return ApprovalTask{}, err
	}
	t.Body = body
	switch err := s.store.CreateApprovalTask(ctx, t, s.approvals.MaxOpen); {
	case isNotFound(err):
		return ApprovalTask{}, opErr(op, spec.KeyID, errWrap(ErrTaskClosed, "the key's policy or blocked state changed meanwhile; retry"))
	case err != nil:
		return ApprovalTask{}, storeErr(op, p.ID, err)
	}
	t.Request = nil
	return t, nil
}

// ApprovalTasksFor returns the pending, unexpired tasks approver may still
// decide (its rules name approver, who has not decided it and did not
// request it), oldest first, at most [MaxListedTasks]. approver must hold
// the approver role.
func (s *Service) ApprovalTasksFor(ctx context.Context, approver Principal) ([]ApprovalTask, error) {
	if err := approver.Require(RoleApprover); err != nil {
		return nil, err
	}
	ts, err := s.store.ListApprovalTasks(ctx, approver.ID, s.now(), MaxListedTasks)
	if err != nil {
		return nil, storeErr("list approval tasks", approver.ID, err)
	}
	return ts, nil
}

// ApprovalTaskFor returns task id, in whatever state, if its rules name
// approver; otherwise [ErrNotFound], as for a task that does not exist.
func (s *Service) ApprovalTaskFor(ctx context.Context, approver Principal, id string) (ApprovalTask, error) {
	if err := approver.Require(RoleApprover); err != nil {
		return ApprovalTask{}, err
	}
	t, err := s.task(ctx, "get approval task", id)
	if err != nil {
		return ApprovalTask{}, err
	}
	if !t.Names(approver.ID) {
		return ApprovalTask{}, opErr("get approval task", "", ErrNotFound)
	}
	return t, nil
}

func (s *Service) task(ctx context.Context, op, id string) (ApprovalTask, error) {
	if !isID(id, taskIDPrefix) {
		return ApprovalTask{}, opErr(op, "", ErrNotFound)
	}
	t, err := s.store.GetApprovalTask(ctx, id)
	if err != nil {
		return ApprovalTask{}, storeErr(op, id, err)
	}
	return t, nil
}

// ApprovalVerifier reports whether sig is pub's signature approving (or,
// if !approve, rejecting) the task whose canonical encoding is body. The
// server gives [Service.DecideApprovalTask] the one that matches the
// encoding it made the task's body with.
type ApprovalVerifier func(pub crypto.PublicKey, body []byte, approve bool, sig []byte) bool

// DecideApprovalTask records approver's decision on task id, proven by sig
// over the task's canonical encoding and the decision, and returns the task
// as it now stands: approved once every rule is met, rejected at once on a
// rejection. Refusals: a task that does not exist or whose rules do not
// name approver, [ErrNotFound]; the requester deciding its own task, or an
// approver without a registered key (or whose key changed meanwhile),
// [ErrForbidden]; a signature verify refuses, [ErrInvalidApproval]; a second
// decision by the same approver, [ErrAlreadyExists]; a task expired,
// cancelled, rejected, approved or run, a [*TaskClosedError]. The check
// of the state, the one-decision-per-approver rule and the quorum are
// atomic in the store, also across server instances.
func (s *Service) DecideApprovalTask(ctx context.Context, approver Principal, id string, approve bool, sig []byte, verify ApprovalVerifier) (ApprovalTask, error) {
	const op = "decide approval task"
	t, err := s.ApprovalTaskFor(ctx, approver, id)
	if err != nil {
		return ApprovalTask{}, err
	}
	if t.Requester == approver.ID {
		return ApprovalTask{}, opErr(op, approver.ID, errWrap(ErrForbidden, "a requester cannot decide its own request"))
	}
	now := s.now()
	if st := t.State(now); st != TaskPending {
		return ApprovalTask{}, &TaskClosedError{TaskID: t.ID, Status: st}
	}
	for _, d := range t.Decisions {
		if d.Approver == approver.ID {
			return ApprovalTask{}, opErr(op, approver.ID, errWrap(ErrAlreadyExists, "this approver has decided this task already"))
		}
	}
	a, err := s.store.GetApprover(ctx, approver.ID)
	if isNotFound(err) {
		return ApprovalTask{}, opErr(op, approver.ID, errWrap(ErrForbidden, "the approver has no registered key"))
	} else if err != nil {
		return ApprovalTask{}, storeErr(op, approver.ID, err)
	}
	pub, _, err := ParseApproverKey(a.PublicKey)
	if err != nil {
		return ApprovalTask{}, storeErr(op, approver.ID, err)
	}
	if !verify(pub, t.Body, approve, sig) {
		return ApprovalTask{}, opErr(op, approver.ID, ErrInvalidApproval)
	}
	d := ApprovalDecision{Approver: approver.ID, Approve: approve, Signature: sig, At: now}
	next, err := s.store.AddApprovalDecision(ctx, id, d, a.PublicKey, now, now.Add(s.approvals.CollectWindow))
	if err != nil {
		return ApprovalTask{}, taskErr(op, approver.ID, err)
	}
	return next, nil
}

// taskErr keeps a *TaskClosedError as it is (it explains itself) and
// wraps anything else.
func taskErr(op, id string, err error) error {
	if _, ok := err.(*TaskClosedError); ok {
		return err
	}
	return storeErr(op, id, err)
}

// ApprovalRequest returns task id if p requested it; otherwise
// [ErrNotFound].
func (s *Service) ApprovalRequest(ctx context.Context, p Principal, id string) (ApprovalTask, error) {
	const op = "get approval request"
	t, err := s.task(ctx, op, id)
	if err != nil {
		return ApprovalTask{}, err
	}
	if t.Requester != p.ID || p.ID == "" {
		return ApprovalTask{}, opErr(op, "", ErrNotFound)
	}
	return t, nil
}

// CancelApprovalTask ends p's open task id as cancelled and returns it.
// A task p did not request is [ErrNotFound]; one that is no longer open
// (expired included), a [*TaskClosedError].
func (s *Service) CancelApprovalTask(ctx context.Context, p Principal, id string) (ApprovalTask, error) {
	const op = "cancel approval task"
	t, err := s.ApprovalRequest(ctx, p, id)
	if err != nil {
		return ApprovalTask{}, err
	}
	now := s.now()
	err = s.store.CancelApprovalTask(ctx, id, p.ID, now)
	if isNotFound(err) {
		// Ended meanwhile, or expired: say how.
		if t, err = s.ApprovalRequest(ctx, p, id); err != nil {
			return ApprovalTask{}, err
		}
		return ApprovalTask{}, &TaskClosedError{TaskID: id, Status: t.State(now)}
	}
	if err != nil {
		return ApprovalTask{}, storeErr(op, id, err)
	}
	t.Status, t.EndedAt = TaskCancelled, now
	return t, nil
}

// ClaimApprovalTask takes p's approved task id for running: of all the
// claims on one task, across every server instance, exactly one succeeds,
// and only before its CollectBy. It returns the task with its Request; the
// caller runs the operation and then calls [Service.FinishApprovalTask].
// p must still hold the role the request was made with ([ErrForbidden]).
// A task p did not request is [ErrNotFound]; one still waiting for
// approvals, [ErrApprovalPending]; one that ended or is being collected, a
// [*TaskClosedError].
func (s *Service) ClaimApprovalTask(ctx context.Context, p Principal, id string) (ApprovalTask, error) {
	const op = "claim approval task"
	t, err := s.ApprovalRequest(ctx, p, id)
	if err != nil {
		return ApprovalTask{}, err
	}
	if !p.HasRole(t.RequesterRole) {
		return ApprovalTask{}, opErr(op, p.ID, ErrForbidden)
	}
	now := s.now()
	claimed, err := s.store.ClaimApprovalTask(ctx, id, p.ID, now)
	if isNotFound(err) {
		if t, err = s.ApprovalRequest(ctx, p, id); err != nil {
			return ApprovalTask{}, err
		}
		if st := t.State(now); st == TaskPending {
			return ApprovalTask{}, opErr(op, id, ErrApprovalPending)
		} else {
			return ApprovalTask{}, &TaskClosedError{TaskID: id, Status: st}
		}
	}
	if err != nil {
		return ApprovalTask{}, storeErr(op, id, err)
	}
	return claimed, nil
}

// FinishApprovalTask records the outcome of a claimed task: done if ok,
// failed otherwise. The task's Request is forgotten either way.
func (s *Service) FinishApprovalTask(ctx context.Context, id string, ok bool) error {
	st := TaskFailed
	if ok {
		st = TaskDone
	}
	if err := s.store.FinishApprovalTask(ctx, id, st, s.now()); err != nil {
		return storeErr("finish approval task", id, err)
	}
	return nil
}

// Now returns the time by the service's clock: the time task states are
// judged at ([ApprovalTask.State]).
func (s *Service) Now() time.Time { return s.now() }
