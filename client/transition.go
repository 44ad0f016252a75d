package client

import (
	"time"

	"github.com/quorum-quest/client-go/fsm"
)

// State is the state of a client's election machine; its String method
// gives the names used in docs/state-diagram.md.
type State = fsm.State

// The states a client can be in.
const (
	StateFollower   = fsm.Follower
	StateAcquiring  = fsm.Acquiring
	StateLeader     = fsm.Leader
	StateRefreshing = fsm.Refreshing
	StateLost       = fsm.Lost
	StateClosed     = fsm.Closed
)

// Transition is one change of the client's state machine.
type Transition struct {
	From, To State
	// Event names what caused the change (see docs/state-diagram.md).
	Event string
	// At is when the machine made the change.
	At time.Time
	// Err is the error behind the change, if any: the failed call or the
	// server's refusal.
	Err error
}
