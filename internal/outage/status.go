package outage

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cryptoplug/cryptoplug/backend"
)

// Status is a backend's health as operators see it: up; recovering after a
// failure a reconnect can mend; down once a recovery attempt failed. The
// zero value is up. It is safe for concurrent use; [Status.Up], the hot
// path's question, is one atomic load.
type Status struct {
	state atomic.Uint32 // backend.HealthState, written under mu

	mu           sync.Mutex
	since        time.Time
	lastErr      string
	recoveries   uint64
	attemptSince time.Time // when the running recovery attempt started; zero when none runs
}

// Up reports whether the store was last seen answering.
func (s *Status) Up() bool { return backend.HealthState(s.state.Load()) == backend.HealthUp }

// Failed records an outage: reason (which must hold no secret, URI or
// path) describes it. An up status becomes recovering; one already
// recovering or down keeps its state and the time it entered it.
func (s *Status) Failed(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr = reason
	if s.get() == backend.HealthUp {
		s.set(backend.HealthRecovering)
	}
}

// AttemptStarted records that a recovery attempt is under way (see
// [Status.Snapshot] for what an attempt that does not return looks like).
func (s *Status) AttemptStarted() {
	s.mu.Lock()
	s.attemptSince = time.Now()
	s.mu.Unlock()
}

// AttemptFailed records a failed recovery attempt: the status is down.
func (s *Status) AttemptFailed(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attemptSince = time.Time{}
	s.lastErr = reason
	if s.get() != backend.HealthDown {
		s.set(backend.HealthDown)
	}
}

// Recovered records a successful recovery: the status is up again, and
// counts one more recovery if it was not up.
func (s *Status) Recovered() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attemptSince = time.Time{}
	if s.get() != backend.HealthUp {
		s.recoveries++
		s.set(backend.HealthUp)
	}
}

// Reason returns the latest failure's description.
func (s *Status) Reason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

func (s *Status) get() backend.HealthState { return backend.HealthState(s.state.Load()) }

// set changes the state; the caller holds mu.
func (s *Status) set(st backend.HealthState) {
	s.state.Store(uint32(st))
	s.since = time.Now()
}

// Snapshot returns the health of a backend with this status whose calls
// run through calls (nil for none). Two facts override the recorded state
// with down, because no call could be served then: a recovery attempt
// still running after hangAfter (the store hangs the attempt too), and
// abandoned calls at their limit.
func (s *Status) Snapshot(calls *Calls, hangAfter time.Duration) backend.Health {
	s.mu.Lock()
	h := backend.Health{State: s.get(), Since: s.since, LastError: s.lastErr, Recoveries: s.recoveries}
	attempt := s.attemptSince
	s.mu.Unlock()
	if h.State == backend.HealthRecovering && !attempt.IsZero() && time.Since(attempt) > hangAfter {
		h.State, h.Since = backend.HealthDown, attempt.Add(hangAfter)
		h.LastError = fmt.Sprintf("a recovery attempt has not returned for %v", time.Since(attempt).Round(time.Second))
	}
	if calls != nil {
		h.Abandoned, h.AbandonedTotal = calls.Abandoned(), calls.Total()
		if full, since := calls.Full(); full && h.State != backend.HealthDown {
			h.State, h.Since = backend.HealthDown, since
			h.LastError = fmt.Sprintf("%d calls to the store have not returned", h.Abandoned)
		}
	}
	return h
}
