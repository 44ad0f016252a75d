package client

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/fsm"
	"github.com/quorum-quest/client-go/transport"
)

// ErrUnhealthy is what HealthCheck.Check returns, wrapped with the reason,
// when the client it watches is stuck.
var ErrUnhealthy = errors.New("quorumquest: unhealthy")

// HealthCheck judges whether a client works as it should, from the
// outcomes of its calls as its transitions report them. Attach it to one
// client with WithHealthCheck; then Check tells the verdict and ServeHTTP
// serves it, for a liveness probe or a sidecar's /healthz.
//
// A client is healthy until one of these holds:
//
//   - its calls to the server (acquisitions and renewals) have failed
//     without one success for at least the tolerance: the server is
//     unreachable, refuses the client's credentials, or times out;
//   - its last lease ran out while its renewals were failing, and no call
//     has reached the server since;
//   - it is closed.
//
// The verdict turns healthy at the first call answered, granted or not. A
// client that makes no calls stays as it was.
//
// A tolerance of a few TTLs (three is a good default) outlasts any lease,
// so a leader's failing renewals alone never trip it: the expiry rule does.
type HealthCheck struct {
	tolerance time.Duration

	mu           sync.Mutex
	attached     bool
	failingSince time.Time // start of the current run of failed calls
	lastErr      error
	expired      time.Time // a lease ran out during that run
	closed       bool
}

// NewHealthCheck returns a HealthCheck that reports a client unhealthy
// once its calls have failed for tolerance without a success. tolerance
// must be positive; anything else returns an error matching
// ErrInvalidArgument.
func NewHealthCheck(tolerance time.Duration) (*HealthCheck, error) {
	if tolerance <= 0 {
		return nil, fmt.Errorf("%w: NewHealthCheck: tolerance %v is not positive", ErrInvalidArgument, tolerance)
	}
	return &HealthCheck{tolerance: tolerance}, nil
}

// WithHealthCheck makes h watch the client being created. A HealthCheck
// judges one client: giving it to a second client returns an error
// matching ErrInvalidOption.
func WithHealthCheck(h *HealthCheck) Option {
	return func(c *config) error {
		if h == nil {
			return fmt.Errorf("%w: WithHealthCheck: nil HealthCheck", ErrInvalidOption)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.attached {
			return fmt.Errorf("%w: WithHealthCheck: the HealthCheck already watches a client", ErrInvalidOption)
		}
		h.attached = true
		return WithTransitionHook(h.observe)(c)
	}
}

// observe is the transition hook: every call's outcome is a transition.
func (h *HealthCheck) observe(t Transition) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch t.Event {
	case fsm.Granted:
		h.reached()
	case fsm.Denied:
		// Denied with another error than "not ours" is a call the server
		// rejected (bad credentials, unknown method): retrying cannot fix it.
		if t.Err == nil || errors.Is(t.Err, transport.ErrNotHolder) {
			h.reached()
		} else {
			h.failed(t)
		}
	case fsm.Failed:
		h.failed(t)
	case fsm.Expire:
		// Renewals failing, not a lease left to run out without keep-alive.
		if t.From == fsm.Refreshing || !h.failingSince.IsZero() {
			h.expired = t.At
			if h.failingSince.IsZero() {
				h.failingSince = t.At
			}
			if h.lastErr == nil {
				h.lastErr = errors.New("a renewal was still unanswered at the deadline")
			}
		}
	case fsm.Close:
		h.closed = true
	}
}

func (h *HealthCheck) reached() {
	h.failingSince, h.lastErr, h.expired = time.Time{}, nil, time.Time{}
}

func (h *HealthCheck) failed(t Transition) {
	if h.failingSince.IsZero() {
		h.failingSince = t.At
	}
	h.lastErr = t.Err
	if h.lastErr == nil { // keeps Check's message whole
		h.lastErr = fmt.Errorf("%s -> %s on %s", t.From, t.To, t.Event)
	}
}

// Check returns nil while the client is healthy, and otherwise an error
// matching ErrUnhealthy that says why and wraps the latest failed call's
// error (so status.Code of it gives the gRPC code).
func (h *HealthCheck) Check() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	switch {
	case h.closed:
		return fmt.Errorf("%w: the client is closed", ErrUnhealthy)
	case !h.expired.IsZero():
		return fmt.Errorf("%w: the lease ran out %v ago while renewals were failing: %w",
			ErrUnhealthy, now.Sub(h.expired).Round(time.Millisecond), h.lastErr)
	case !h.failingSince.IsZero() && now.Sub(h.failingSince) >= h.tolerance:
		return fmt.Errorf("%w: calls to the server have failed for %v (tolerance %v): %w",
			ErrUnhealthy, now.Sub(h.failingSince).Round(time.Millisecond), h.tolerance, h.lastErr)
	}
	return nil
}

// ServeHTTP answers 200 "ok" while the client is healthy and 503 with the
// reason otherwise, as text, for any method: mount it as a liveness probe,
// e.g. mux.Handle("/healthz", h).
func (h *HealthCheck) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := h.Check(); err != nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, err)
		return
	}
	fmt.Fprintln(w, "ok")
}
