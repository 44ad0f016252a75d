package fsm

// State is where an election stands from this client's point of view.
type State string

// The states of the election machine.
const (
	// Follower holds nothing and has nothing in flight.
	Follower State = "follower"
	// Acquiring has a TryAcquireLock call in flight.
	Acquiring State = "acquiring"
	// Leader holds a lease whose local deadline has not passed.
	Leader State = "leader"
	// Refreshing is still Leader, with a renewal of the lease in flight.
	Refreshing State = "refreshing"
	// Lost is where leadership ends without this client asking: the server
	// refused a renewal, or the local lease deadline passed.
	Lost State = "lost"
	// Closed is terminal: the client was closed and accepts no more events.
	Closed State = "closed"
)

// States lists every state in the order the diagram presents them.
func States() []State {
	return []State{Follower, Acquiring, Leader, Refreshing, Lost, Closed}
}

// Leading reports whether s is a state in which the client holds a lease.
// Whether that lease is still valid is a matter of time, which this package
// does not keep: callers check the lease deadline as well.
func (s State) Leading() bool {
	return s == Leader || s == Refreshing
}

// String returns the state's name.
func (s State) String() string { return string(s) }

// Event is something that happened to the election: a request from the
// user, a timer, or the result of a call to the server.
type Event string

// The events of the election machine.
const (
	// Acquire starts a TryAcquireLock call.
	Acquire Event = "acquire"
	// Refresh starts a keep-alive renewal of the lease.
	Refresh Event = "refresh"
	// Granted is the server granting or renewing the lease.
	Granted Event = "granted"
	// Denied is the server refusing: the lock is held by another client, a
	// renewal came back with a negative lease, or the call failed with an
	// error that retrying cannot fix.
	Denied Event = "denied"
	// Failed is a call that ended in an error worth retrying (the server was
	// unreachable, the connection was replaced, the attempt timed out).
	Failed Event = "failed"
	// Expire is the local lease deadline passing.
	Expire Event = "expire"
	// Release is the user giving the lock up.
	Release Event = "release"
	// Close is the user closing the client.
	Close Event = "close"
)

// Events lists every event in the order the diagram presents them.
func Events() []Event {
	return []Event{Acquire, Refresh, Granted, Denied, Failed, Expire, Release, Close}
}

// String returns the event's name.
func (e Event) String() string { return string(e) }
