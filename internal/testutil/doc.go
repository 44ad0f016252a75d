// Package testutil holds what the project's own tests share beyond the
// public test server of package qqtest: a [Cable] that cuts one client off a
// real TCP server, and [BufconnConn] / [ServeBufconn], which put a
// qqtest.Server behind real gRPC on an in-memory listener for transport
// tests (reconnects, GOAWAY with [ShortConnectionAge], deadlines, status
// codes).
//
// [Cable] and [ServeBufconn] do not need a test, so runnable examples and
// benchmarks use them too; [BufconnConn] is the testing.TB convenience.
package testutil
