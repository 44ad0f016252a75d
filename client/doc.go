// Package client is the Go client of Quorum Quest, a leader-election
// service: one lock per service/domain pair, held by one client at a time
// for a TTL and kept by keep-alives.
//
// A QuorumQuestClient is a thin facade over an explicit state machine
// (package fsm, drawn in docs/state-diagram.md) with one owner at a time:
// public methods, call results and timers apply their events under the
// client's mutex, calls to the server are made outside it in the order they
// were started, and readers use the snapshot published after every
// transition. Every change of leadership is one transition, in one order,
// observable through WithTransitionHook.
//
// IsLeader is true only while the machine leads and the lease's local
// deadline, measured from when the request was sent and shortened for clock
// drift and a safety margin, has not passed. The server offers no fencing
// token: work protected by leadership should tolerate being done twice
// should a clock drift beyond the policy.
package client

// Inside the package: each file uses only the files listed below it.
//
//	campaign.go, watch.go, client.go  the facade: checks, then the election
//	renewal.go, acquire.go  keep-alive's and the user's calls; callLocked
//	              sends one and turns its result into an event
//	leadership.go, election.go  election: the owners below, Close, and
//	              fireLocked, which applies an event and tells observers
//	calls.go      calls: the call whose result counts, the one being sent,
//	              their turns (turns.go), whether the server may hold
//	keepalive.go  keepAlive: the renewal schedule, a timer per renewal
//	observers.go  observers: hooks.go, watcher.go, leadership contexts and
//	              metrics; nil while there are none
//	background.go what Close waits for: renewals, the alarm, callbacks
//	machine.go    machine: the state machine, snapshot.go, alarm.go
//	guard.go      the mutex; its unlock writes what logbook.go noted
//	the rest      configuration, types and errors
//
// The mutex (guard) guards election and every owner in it; election's
// methods that need it end in Locked, and the owners' methods all need it
// (calls.awaitTurn and sendInTurn release it while they wait). Read without
// it: the snapshot (an atomic pointer) and the configuration.
