// Package qqtest provides an in-memory Quorum Quest server for tests, in
// the spirit of net/http/httptest: start one per test, point clients at it,
// inject faults, and check what the server saw.
//
// A [Server] has exactly the semantics of the wire contract: locks keyed by
// service and domain, TTLs in whole seconds, a default TTL for ttl <= 0,
// -1s lease lengths for non-holders, releases only by the holder. Tests ask
// it who holds a lock ([Server.Holder], [Server.Lease]), every holding
// period so far ([Server.History]) and how many calls it served
// ([Server.Calls]).
//
// # Two ways to connect
//
// [NewServer] serves real gRPC on a loopback port for one test; give
// [Server.Addr] to client.NewQuorumQuestClient. Use it when the network is
// part of what you test.
//
// For everything about time, create the server with [NewUnstartedServer]
// inside a testing/synctest bubble and give [Server.Stub] to
// client.WithServerStub. The server keeps time only through its clock
// (time.Now by default), timers and channels, so inside the bubble its time
// is virtual: a test that waits out a 15 s lease runs in microseconds, and
// its timings are exact instants, not ranges. TestLeaderOnlyWork in this
// package's leaderwork_test.go is the complete pattern for testing
// leader-only work: a worker on client.Run stops within its lease when its
// client is partitioned, and another takes over.
//
// # Faults
//
// Faults apply to both ways of connecting, because both run through the
// same methods. Each fault's documentation says what the client sees:
//
//   - [Server.Partition] and [Server.Heal]: one client's calls hang until
//     their deadline, as under a silent network outage.
//   - [Server.Pause] and [Server.Resume]: every call stalls, as on a server
//     in a long pause or a store failover.
//   - [Server.DropLock]: a lock is lost now, as by a store that forgot it.
//   - [Server.Restart]: every lock is lost, as by a server with an
//     in-memory store restarting.
//   - [Server.SetClockOffset]: the server's clock is skewed or jumps.
//   - [Server.SetFault] and [Server.SetFaultFunc]: calls are delayed,
//     failed with a gRPC status code, lost on the way in or out, or
//     delivered after their caller gave up ([Fault]).
//
// Faults are deterministic: none is random, so a test that uses them passes
// or fails the same way on every run.
//
// [Server.Start] and [Server.Serve] serve an unstarted server outside
// tests, for example as a development server of its own.
//
// # Compatibility
//
// qqtest follows the module's version like the client does, and what is
// documented here is stable: the wire-contract semantics of the server,
// each fault's documented behaviour as the client sees it, the order in
// which a call meets its faults, and the meaning of History, Calls, Holder
// and Lease. Within a major version, these may change:
//
//   - new faults, new fields of [Fault] and [Call], new methods and new
//     options may be added; the zero value of a new field means no fault, so
//     existing Fault literals keep their meaning (use field names in
//     literals);
//   - [CallCounts] may gain a field for a method the service gains, and the
//     [Method] type new values;
//   - error messages, and the text of injected status errors, may change;
//     compare status codes, not strings;
//   - how the server spends real time and goroutines may change: outside a
//     synctest bubble, only the documented durations (delays, TTLs, the
//     callers' deadlines) are promised, and Close's bound on pending calls
//     may change;
//   - behaviour the wire contract leaves open may be made to match the real
//     server more closely; such a change is called out in the release
//     notes.
package qqtest
