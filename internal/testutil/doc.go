// Package testutil holds what the project's own tests share beyond the
// public test server of package qqtest: a [Cable] that cuts one client off a
// real TCP server, and [BufconnConn] / [ServeBufconn], which put a
// qqtest.Server behind real gRPC on an in-memory listener for transport
// tests (reconnects, GOAWAY with [ShortConnectionAge], deadlines, status
// codes).
//
// For faults at the connection layer, under any call: a [Proxy] per client
// relays TCP to the server and plays outages by mode ([ProxyReset],
// [ProxySilent], [ProxyStall], back to [ProxyPass]), reporting the HTTP/2
// pings and GOAWAYs it relayed ([Proxy.Frames]); a [TCPServer] serves a
// qqtest.Server's locks on a fixed address and can be stopped and started
// again there, as a restarted server process in front of the same store.
//
// For faults of a server in a fleet: a [Fleet] runs several gRPC servers
// over one qqtest store behind an L4 balancer that picks a server per new
// TCP connection, round robin, and keeps a faulty server in rotation for
// a while, as a production balancer's health checks do. Each server can go
// silent, reset, stop gracefully (GOAWAY) or be killed, and come back;
// [Fleet.ServerOf] tells which server a client's connection reached.
//
// [Cable] and [ServeBufconn] do not need a test, so runnable examples and
// benchmarks use them too; [BufconnConn] is the testing.TB convenience.
package testutil
