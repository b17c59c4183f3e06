package backend

import "time"

// HealthReporter is implemented by backends whose store is a device, a
// token or a daemon that can go away and come back (PKCS #11, TPM): they
// recover from such outages by themselves, failing operations with
// [ErrUnavailable] meanwhile, and report where they stand for operators,
// load balancers and metrics. Find it by type assertion.
//
// Health returns at once — it never calls the store — and is safe for
// concurrent use, also after Close.
type HealthReporter interface {
	Health() Health
}

// Health is a snapshot of a backend's store as [HealthReporter] sees it.
// It holds no secret, URI, path or key material, so it may be logged and
// exported as metrics.
type Health struct {
	// State is up, recovering or down.
	State HealthState
	// Since is when the backend entered State.
	Since time.Time
	// LastError describes the failure of the latest outage, or of the
	// latest recovery attempt while not up: a PKCS #11 return code, "the
	// TPM does not answer", "4 calls have not returned". Empty until the
	// first outage.
	LastError string
	// Recoveries counts the outages the backend has recovered from since
	// it was opened.
	Recoveries uint64
	// Abandoned is how many calls to the store are still running after
	// their callers left at their contexts' end. Each keeps what it uses
	// (a session, the TPM) until it returns; while their number is at the
	// backend's bound, operations fail with [ErrUnavailable].
	Abandoned int
	// AbandonedTotal counts the calls abandoned since the backend opened.
	AbandonedTotal uint64
}

// HealthState says whether a backend's store answers.
type HealthState uint8

const (
	// HealthUp: the store answers.
	HealthUp HealthState = iota
	// HealthRecovering: the store failed in a way a reconnect can mend (a
	// device error, a removed token, a restarted daemon) and the backend
	// is re-establishing its sessions; operations may fail with
	// [ErrUnavailable] for a moment.
	HealthRecovering
	// HealthDown: the first recovery attempt failed, or calls to the store
	// stopped returning. Operations fail at once with [ErrUnavailable]
	// while the backend retries in the background, with backoff; an
	// instance whose backend is down should be taken out of service.
	HealthDown
)

// String returns "up", "recovering" or "down".
func (s HealthState) String() string {
	switch s {
	case HealthUp:
		return "up"
	case HealthRecovering:
		return "recovering"
	case HealthDown:
		return "down"
	}
	return "unknown"
}
