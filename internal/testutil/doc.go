// Package testutil provides an in-memory Quorum Quest server for tests, in
// the spirit of net/http/httptest.
//
// A [Server] implements pb.LeaderElectionServiceServer with exactly the
// semantics of the wire contract (locks keyed by service and domain, TTLs in
// whole seconds, a default TTL for ttl <= 0, -1s lease lengths for
// non-holders, releases only by the holder). It records every holding period
// ([Server.History]) so tests can check safety, counts calls
// ([Server.Calls]) so tests can assert traffic, and injects faults
// deterministically: delays, status codes, lost requests and responses,
// partitions, pauses, restarts and clock skew.
//
// The server keeps time only through its clock (time.Now by default), timers
// and channels. Under testing/synctest that time is virtual, so a 15 s TTL
// test runs in microseconds and never flakes; create and drive the Server
// inside the bubble so that its channels and timers belong to it.
//
// [Server.Stub] calls the server in-process, for timing tests under
// synctest. [ServeBufconn] and [ServeTCP] put it behind real gRPC, for
// transport tests (reconnects, GOAWAY, deadlines, status codes). Faults apply
// on both paths because both run through the same service methods.
//
// The core of the package does not import testing, so runnable examples can
// use it too; [BufconnConn] and [TCPAddr] are the testing.TB conveniences.
package testutil
