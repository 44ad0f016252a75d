// Package qqtest provides an in-memory Quorum Quest server for tests, in
// the spirit of net/http/httptest.
//
// A [Server] has exactly the semantics of the wire contract (locks keyed by
// service and domain, TTLs in whole seconds, a default TTL for ttl <= 0,
// -1s lease lengths for non-holders, releases only by the holder). Tests
// ask it who holds a lock ([Server.Holder], [Server.Lease]), every holding
// period so far ([Server.History]) and how many calls it served
// ([Server.Calls]), and inject faults deterministically: partitions of one
// client, pauses of the whole server, lost locks and restarts, clock skew,
// and per-call delays, status codes and lost requests or answers.
//
// [NewServer] serves real gRPC on a loopback port for one test; give
// [Server.Addr] to client.NewQuorumQuestClient. For tests about time, create
// the server with [NewUnstartedServer] inside a testing/synctest bubble and
// give [Server.Stub] to client.WithServerStub: the server keeps time only
// through its clock (time.Now by default), timers and channels, so that time
// is virtual, and a 15 s TTL test runs in microseconds and never flakes.
// Faults apply on both paths because both run through the same methods.
//
// [Server.Start] and [Server.Serve] serve an unstarted server outside tests,
// for example as a development server of its own.
package qqtest
