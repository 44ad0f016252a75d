// Package checker is the randomized safety checker of docs/safety.md.
//
// [RunSchedule] plays one seeded schedule inside a testing/synctest bubble:
// candidates built by a [NewCandidate] campaign for one lock on the
// in-memory test server (polling, or through [Runner]), release it, hand it
// over and close, while faults are injected (delays, lost requests and
// answers, answers held to the caller's deadline, partitions, pauses,
// restarts, clock jumps up to the edge of what a lease can lose), and
// every candidate's word on its leadership (IsLeader, the remaining lease
// of a [LeaseReporter], a live lead context) is checked against what the
// server granted: on a grid, at the instant a lease expires, and from
// inside every release. The same seed always plays the same schedule, so a
// failure replays (see docs/safety.md for what the runtime may still
// order differently at one instant).
//
// [RunNetSchedule] is the real-network mode: candidates built by a
// [NewNetCandidate] dial their own fault proxy to one gRPC server over
// loopback, and seeded episodes of connection faults (resets, silences,
// stalls, server restarts) are played in real time, then healed; the same
// properties are judged against the server's record, with the readings
// bracketed by the clock, and liveness after healing against a bound
// derived from docs/connections.md. Its fleet mode (NetConfig.Servers)
// puts several servers over the store behind one balancer address
// instead (internal/testutil.Fleet) and plays server faults, adding check
// (f): no loss of leadership while a majority of the fleet is up.
package checker
