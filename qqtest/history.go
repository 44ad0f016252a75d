package qqtest

import "time"

// Tenure is one period during which a client held a lock, as the server saw
// it. A tenure starts when a client acquires a free or expired lock, is
// extended by every renewal (TryAcquireLock or KeepAlive by the holder), and
// ends at the earliest of its expiry, its release and a [Server.Restart].
// Two tenures of the same lock never overlap; comparing them with what
// clients believed is how tests check safety.
type Tenure struct {
	Service, Domain, ClientID string
	// Start is when the server granted the lock, by the server clock.
	Start time.Time
	// End is when the tenure ended or, while it is still held, the current
	// expiry. It is never before Start, even after the server clock was
	// moved backwards.
	End time.Time
	// Ended is false while the lock is still held.
	Ended bool
}

// History returns every tenure so far, in the order they started. An
// expired tenure is reported as ended even if no call has touched its lock
// since.
func (s *Server) History() []Tenure {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.nowLocked()
	out := make([]Tenure, len(s.history))
	copy(out, s.history)
	for i := range out {
		if !out[i].Ended && !now.Before(out[i].End) {
			out[i].Ended = true
		}
	}
	return out
}

// endTenureLocked closes l's tenure at the earlier of at and its current
// expiry. s.mu must be held.
func (s *Server) endTenureLocked(l *lock, at time.Time) {
	t := &s.history[l.tenure]
	if at.Before(t.Start) {
		// Only a backwards clock jump gets here; a negative tenure would
		// only confuse safety checks.
		at = t.Start
	}
	if at.Before(t.End) {
		t.End = at
	}
	t.Ended = true
}
