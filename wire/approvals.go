package wire

// Multi-authorization: a key can carry a [KeyPolicy] that makes some of its
// operations wait for a quorum of approvers. Such an operation is answered
// 202 with a [PendingApproval] instead of its result; approvers fetch the
// [ApprovalTask], sign its canonical encoding ([ApprovalMessage]) with their
// registered key and post an [ApprovalDecision]; once the quorum is reached
// the requester collects the [ApprovalResult], once. docs/approvals.md
// describes the flow and the encoding.

// Operations an approval task can stand for ([ApprovalTask.Operation]).
const (
	OpSign         = "sign"
	OpDecrypt      = "decrypt"
	OpDecapsulate  = "decapsulate"
	OpBlock        = "block"
	OpUnblock      = "unblock"
	OpDelete       = "delete"
	OpChangePolicy = "change_policy"
)

// Task states ([ApprovalTask.Status]).
const (
	TaskPending   = "pending"   // waiting for approvals
	TaskApproved  = "approved"  // quorum reached; the requester may collect
	TaskRejected  = "rejected"  // an approver rejected it
	TaskCancelled = "cancelled" // the requester cancelled it, or the key's state changed
	TaskExpired   = "expired"   // not approved, or not collected, in time
	TaskExecuting = "executing" // the requester is collecting it
	TaskDone      = "done"      // it ran and its result was returned
	TaskFailed    = "failed"    // it was collected but the operation failed
)

// Decisions an approver can take ([ApprovalDecision.Decision]).
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
)

// Bounds of a key policy, checked before anything is stored.
const (
	// MaxApprovalRules bounds the rules of one operation class.
	MaxApprovalRules = 4
	// MaxRuleApprovers bounds the approvers one rule names.
	MaxRuleApprovers = 16
	// MaxApprovalSignature bounds an approval's signature: an RSA-4096
	// signature is 512 bytes.
	MaxApprovalSignature = 1024
)

// ApprovalRule asks for Quorum distinct approvals among Approvers
// (principal IDs of registered approvers): 1 ≤ Quorum ≤ len(Approvers) ≤
// [MaxRuleApprovers].
type ApprovalRule struct {
	Quorum    int      `json:"quorum"`
	Approvers []string `json:"approvers"`
}

// KeyPolicy says which operations on a key need approvals, per operation
// class. Every rule of a class must be met (several rules are a logical
// AND); a class without rules needs none. It is the body of PUT
// /v1/key/{label}/policy and may be given at creation ([KeySpec.Policy]).
type KeyPolicy struct {
	// Use: sign, decrypt and decapsulate.
	Use []ApprovalRule `json:"use,omitempty"`
	// Block: block and unblock.
	Block []ApprovalRule `json:"block,omitempty"`
	// Delete: destroying the key.
	Delete []ApprovalRule `json:"delete,omitempty"`
	// ChangePolicy: replacing this policy.
	ChangePolicy []ApprovalRule `json:"change_policy,omitempty"`
}

// KeyState is the answer of GET /v1/key/{label}/policy and of the routes
// that change a key's policy or block it: the key's policy, whether it is
// blocked, and the version of that state (it grows with every change; a
// change makes every open request on the key end as cancelled).
type KeyState struct {
	Label   string    `json:"label"`
	ID      string    `json:"id"`
	Policy  KeyPolicy `json:"policy"`
	Blocked bool      `json:"blocked"`
	Version int64     `json:"version"`
}

// PendingApproval is the body of a 202 answer: the operation was parked as
// an approval task. Poll GET /v1/approvals/requests/{request_id} and
// collect with POST /v1/approvals/requests/{request_id}/result.
type PendingApproval struct {
	RequestID string `json:"request_id"`
	Operation string `json:"operation"`
	Status    string `json:"status"`
	ExpiresAt int64  `json:"expires_at"` // Unix seconds
}

// TaskKey names the key of an approval task.
type TaskKey struct {
	Label     string `json:"label"`
	ID        string `json:"id"` // lowercase hex
	Algorithm string `json:"algorithm"`
}

// TaskParam is one detail of what a task will do, as text: scheme and hash
// names, numbers in decimal, digests and hashes in lowercase hex.
type TaskParam struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ApprovalTask is a parked operation, as approvers and its requester see
// it. The fields up to Params are what an approval signs (see
// [ApprovalTaskBody]); the others report its progress.
type ApprovalTask struct {
	ID        string  `json:"id"`
	Operation string  `json:"operation"`
	Key       TaskKey `json:"key"`
	Requester string  `json:"requester"` // principal ID
	CreatedAt int64   `json:"created_at"`
	ExpiresAt int64   `json:"expires_at"`
	// Params say exactly what will be done, sorted by name: for sign the
	// scheme, hash, salt length, context and the digest signed (or, for a
	// whole message, its SHA-256 and length); for decrypt and decapsulate
	// the options and the ciphertext's SHA-256 and length; for
	// change_policy the new policy, one param per class.
	Params []TaskParam `json:"params"`

	Status string `json:"status"`
	// Rules are the rules the task must meet: the key's policy for the
	// operation's class when the task was made.
	Rules     []ApprovalRule `json:"rules"`
	Decisions []TaskDecision `json:"decisions,omitempty"`
	// CollectBy is when an approved task stops being collectable (Unix
	// seconds; 0 before approval).
	CollectBy int64 `json:"collect_by,omitempty"`
}

// TaskDecision is one approver's recorded decision on a task.
type TaskDecision struct {
	Approver  string `json:"approver"` // principal ID
	Decision  string `json:"decision"` // "approve" or "reject"
	DecidedAt int64  `json:"decided_at"`
}

// ApprovalTaskList is the answer of GET /v1/approvals/tasks: the open tasks
// the calling approver may still decide, oldest first.
type ApprovalTaskList struct {
	Tasks []ApprovalTask `json:"tasks"`
}

// ApprovalDecision is the body of POST /v1/approvals/tasks/{id}/decision:
// the approver's decision and its signature over [ApprovalMessage] of the
// task and this decision, made with the approver's registered key (see
// [SignApproval]).
type ApprovalDecision struct {
	Decision  string `json:"decision"`
	Signature []byte `json:"signature"`
}

// ApprovalResult is the answer of POST /v1/approvals/requests/{id}/result:
// the parked operation's result, returned once. Exactly one of the result
// fields is set, by Operation: Signature (sign), Plaintext (decrypt),
// SharedKey (decapsulate), Key (block, unblock, change_policy); delete
// sets none.
type ApprovalResult struct {
	RequestID string    `json:"request_id"`
	Operation string    `json:"operation"`
	Signature []byte    `json:"signature,omitempty"`
	Plaintext []byte    `json:"plaintext,omitempty"`
	SharedKey []byte    `json:"shared_key,omitempty"`
	Key       *KeyState `json:"key,omitempty"`
}

// CreateApprover is the body of POST /sys/v1/approvers: the principal that
// will approve (it must hold the approver role) and the public key its
// approvals are signed with, a PEM "PUBLIC KEY" block: ECDSA P-256, Ed25519,
// or RSA of 2048 to 4096 bits.
type CreateApprover struct {
	Principal string `json:"principal"`
	PublicKey string `json:"public_key"`
}

// Approver describes a registered approver.
type Approver struct {
	Principal string `json:"principal"`
	PublicKey string `json:"public_key"` // PEM
	Algorithm string `json:"algorithm"`  // "ECDSA-P256", "Ed25519", "RSA-2048", …
	CreatedBy string `json:"created_by"`
	CreatedAt int64  `json:"created_at"`
}

// ApproverList is the answer of GET /sys/v1/approvers.
type ApproverList struct {
	Approvers []Approver `json:"approvers"`
}
