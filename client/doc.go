// Package client is the Go client of Quorum Quest, a leader-election
// service: one lock per service/domain pair, held by one client at a time
// for a TTL and kept by keep-alives.
//
// A QuorumQuestClient is a thin facade over an explicit state machine
// (package fsm, drawn in docs/state-diagram.md). The machine has one owner
// at a time, whoever holds the client's mutex: the public methods, the
// results of calls to the server and the expiry and keep-alive timers each
// apply their event under it, and readers use the snapshot published after
// every transition. Calls to the server are made outside the mutex, in the
// order they were started. Every change of leadership is therefore one
// transition of that machine, in one order, observable through
// WithTransitionHook.
//
// IsLeader is true only while the machine is leading and the lease's local
// deadline, measured from when the request was sent and shortened for clock
// drift and a safety margin, has not passed. Because the server offers no
// fencing token, work protected by leadership should still tolerate being
// done twice in the rare case of a clock that drifts beyond the policy.
package client

// Inside the package, for whoever changes it. Each file owns one concern,
// listed from the top down; election.go still calls back and forth with
// keepalive.go, callcontext.go, hooks.go and watch.go (not yet one-way).
//
//	client.go, campaign.go  the facade: argument checks, then election's methods
//	election.go   election, the machine's owner: acquire, release, close,
//	              the call in flight (callLocked) and unlock, the only way
//	              out of e.mu, which flushes the log records noted under it
//	keepalive.go  keepAlive: the renewal schedule, one time.AfterFunc per
//	              renewal (no goroutine between renewals) and its backoff
//	callcontext.go, turns.go  a call's context and deadline; calls leave in order
//	alarm.go, background.go   timers and callbacks, and Close's wait for them
//	hooks.go, watch.go, observe.go, leadership.go  the observers of transitions
//	snapshot.go   the state and deadline published after every transition
//
// e.mu guards every field of election below it, the keep-alive record, the
// call in flight, its context, the turns and the alarms; functions called
// with it held end in Locked. Read without it: the published snapshot
// (atomic) and the configuration fixed at construction.
