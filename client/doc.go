// Package client is the Go client of Quorum Quest, a leader-election
// service: one lock per service/domain pair, held by one client at a time
// for a TTL and kept by keep-alives.
//
// A QuorumQuestClient is a thin facade over an explicit state machine
// (package fsm, drawn in docs/state-diagram.md). Each client runs one
// goroutine that owns its machine: the public methods send it requests and
// read the snapshot it publishes after every transition, and the results of
// calls to the server come back to it as events. Every change of leadership
// is therefore one transition of that machine, in one order, observable
// through WithTransitionHook.
//
// IsLeader is true only while the machine is leading and the lease's local
// deadline, measured from when the request was sent and shortened for clock
// drift and a safety margin, has not passed. Because the server offers no
// fencing token, work protected by leadership should still tolerate being
// done twice in the rare case of a clock that drifts beyond the policy.
package client
