// Package observe lets this module's own packages watch a client's
// transitions synchronously, where WithTransitionHook's goroutine per
// burst of transitions would cost too much per call: package otelmetrics
// records through it (docs/performance.md has the figures).
//
// An Observer runs under the client's lock, so only code of this module
// may implement one: it must only update memory of its own (no blocking,
// no calls back into the client, no user code, which includes any
// OpenTelemetry provider). Being internal, this package is out of users'
// reach by construction.
package observe

import (
	"time"

	"github.com/quorum-quest/client-go/fsm"
)

// Identity names a client's lock and the ID it campaigns with.
type Identity struct {
	Service, Domain, ClientID string
	// Client is the same for every observer of one client and differs
	// between clients, even ones of the same lock and ID: a Factory given
	// twice to one client can tell.
	Client any
}

// Transition is one change of a client's machine.
type Transition struct {
	From, To fsm.State
	Event    fsm.Event
	// At is when the machine made the change.
	At time.Time
	// Deadline is the lease's local deadline after the change while To is
	// leading, zero otherwise. A renewal's grant carries the new deadline;
	// the transition that sent the renewal, the old one.
	Deadline time.Time
}

// Observer watches one client.
type Observer interface {
	// Transition is called with every transition, in order, under the
	// client's lock.
	Transition(Transition)
	// GaveUp is called, under the client's lock, when ReleaseLock is
	// called while the machine has nothing to release (follower or lost):
	// the client stops trying to acquire, which no transition shows.
	GaveUp()
	// Close is called once, by the client's Close after its last
	// transition, outside the lock.
	Close()
}

// Factory makes the Observer of one client; an error fails
// NewQuorumQuestClient. It is called once the client's identity is
// settled and nothing else can fail, outside any lock.
type Factory func(Identity) (Observer, error)

// ClientOption is set by package client when it is initialised: it
// returns a client.Option (typed any here, since package client imports
// this one) that installs the observer made by f.
var ClientOption func(f Factory) any
