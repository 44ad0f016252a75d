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

// Inside the package, for whoever changes it. Each file owns one concern
// and uses only the files listed below it (names defined further up are
// never called back):
//
//	campaign.go, watch.go, client.go  the facade: argument checks, then the election
//	renewal.go    StartKeepAlive, StopKeepAlive and each renewal's call
//	acquire.go    TryAcquireLock and ReleaseLock; callLocked sends a call
//	              and turns its result into an event
//	leadership.go the context Run leads under
//	election.go   election: the owners below, Close, and fireLocked, which
//	              applies an event and tells the observers
//	calls.go      calls: the call whose result counts, the one being sent,
//	              their turns (turns.go), and whether the server may hold
//	keepalive.go  keepAlive: the renewal schedule, a timer per renewal
//	observers.go  observers: hooks (hooks.go), Watch channels (watcher.go),
//	              leadership contexts, metrics; nil while there are none
//	background.go background: what Close waits for (renewals, the alarm,
//	              callbacks of contexts)
//	machine.go    machine: the state machine, its published snapshot
//	              (snapshot.go) and the expiry alarm (alarm.go)
//	guard.go      guard: the mutex; unlock writes what logbook.go noted
//	health.go, callbacks.go, observe.go, timing.go, dial.go, options.go,
//	transition.go, errors.go  configuration, types and errors
//
// The election's mutex (guard) guards every field of election and of the
// owners it holds; methods of election called with it held end in Locked,
// and the owners' methods are all called with it held (calls.awaitTurn and
// calls.sendInTurn release it while they wait). Read without it: the
// published snapshot (an atomic pointer, the readers IsLeader, State and
// GetRemainingLease) and the configuration fixed at construction.
