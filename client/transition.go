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

// Event is what moved a client's election machine: a request of the user,
// a timer, or a call's result; String gives docs/state-diagram.md's names.
type Event = fsm.Event

// The events that move a client's machine (docs/state-diagram.md).
const (
	// EventAcquire: TryAcquireLock was sent (while leading, it renews).
	EventAcquire = fsm.Acquire
	// EventRefresh: keep-alive sent a renewal (KeepAlive).
	EventRefresh = fsm.Refresh
	// EventGranted: the server granted or renewed the lease.
	EventGranted = fsm.Granted
	// EventDenied: the server refused (the lock is another's, or a renewal
	// found no lease), or the call failed in a way retrying cannot fix.
	EventDenied = fsm.Denied
	// EventFailed: a call failed with an error worth retrying (server
	// unreachable, timed out, connection replaced).
	EventFailed = fsm.Failed
	// EventExpire: the lease's local deadline passed.
	EventExpire = fsm.Expire
	// EventRelease: ReleaseLock gave the lock up.
	EventRelease = fsm.Release
	// EventClose: Close ended the client.
	EventClose = fsm.Close
)

// Transition is one change of the client's state machine.
type Transition struct {
	From, To State
	// Event names what caused the change (see docs/state-diagram.md).
	Event Event
	// At is when the machine made the change.
	At time.Time
	// Err is the failed call's error or the server's refusal, if any.
	Err error
}
