package fsm

// Rule is one row of the transition table: in state From, event Event moves
// the machine to state To.
type Rule struct {
	From    State
	Event   Event
	To      State
	Meaning string // one line for the diagram's table
}

// rules is the whole behaviour of the machine. The looplab/fsm instance,
// the state diagram and the coverage tests are all built from it, so a
// change here is a change everywhere.
var rules = []Rule{
	{Follower, Acquire, Acquiring, "TryAcquireLock is sent"},
	{Lost, Acquire, Acquiring, "TryAcquireLock is sent after leadership was lost"},
	{Leader, Acquire, Refreshing, "TryAcquireLock while leading renews the lease"},
	{Acquiring, Granted, Leader, "the server granted the lock; the lease runs from the send time"},
	{Acquiring, Denied, Follower, "another client holds the lock, or the call cannot succeed"},
	{Acquiring, Failed, Follower, "the call failed; nothing is held"},
	{Leader, Refresh, Refreshing, "keep-alive sends KeepAlive"},
	{Refreshing, Granted, Leader, "the lease was renewed from the send time"},
	{Refreshing, Denied, Lost, "the server says the lock is not ours (negative lease) or cannot be renewed"},
	{Refreshing, Failed, Leader, "the renewal failed but the lease still runs; it is retried"},
	{Leader, Expire, Lost, "the local lease deadline passed"},
	{Refreshing, Expire, Lost, "the local lease deadline passed while a renewal was in flight"},
	{Acquiring, Release, Follower, "ReleaseLock while acquiring; the acquisition's result is dropped"},
	{Leader, Release, Follower, "ReleaseLock: leadership ends before the release is sent"},
	{Refreshing, Release, Follower, "ReleaseLock while renewing; the renewal's result is dropped"},
	{Lost, Release, Follower, "ReleaseLock after a loss acknowledges it"},
	{Follower, Close, Closed, "Close"},
	{Acquiring, Close, Closed, "Close; the acquisition is cancelled and released"},
	{Leader, Close, Closed, "Close; leadership ends and the lock is released"},
	{Refreshing, Close, Closed, "Close; the renewal is cancelled and the lock released"},
	{Lost, Close, Closed, "Close"},
}

// Rules returns a copy of the transition table, in the order it is written.
func Rules() []Rule {
	return append([]Rule(nil), rules...)
}

// next returns the state that event e leads to from state s.
func next(s State, e Event) (State, bool) {
	for _, r := range rules {
		if r.From == s && r.Event == e {
			return r.To, true
		}
	}
	return "", false
}
