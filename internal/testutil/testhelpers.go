package testutil

import (
	"testing"

	"google.golang.org/grpc"
)

// BufconnConn serves s with [ServeBufconn] for the rest of the test and
// returns a client connection to it. The server and connection are stopped
// by tb.Cleanup; a setup error fails the test.
func BufconnConn(tb testing.TB, s *Server, opts ...grpc.ServerOption) *grpc.ClientConn {
	tb.Helper()
	conn, stop, err := ServeBufconn(s, opts...)
	if err != nil {
		tb.Fatalf("testutil: serve bufconn: %v", err)
	}
	tb.Cleanup(stop)
	return conn
}

// TCPAddr serves s with [ServeTCP] on a loopback port for the rest of the
// test and returns its address. The server is stopped by tb.Cleanup; a setup
// error fails the test.
func TCPAddr(tb testing.TB, s *Server, opts ...grpc.ServerOption) string {
	tb.Helper()
	addr, stop, err := ServeTCP(s, "127.0.0.1:0", opts...)
	if err != nil {
		tb.Fatalf("testutil: serve tcp: %v", err)
	}
	tb.Cleanup(stop)
	return addr
}
