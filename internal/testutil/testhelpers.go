package testutil

import (
	"testing"

	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
)

// BufconnConn serves s with [ServeBufconn] for the rest of the test and
// returns a client connection to it. The server and connection are stopped
// by tb.Cleanup; a setup error fails the test.
func BufconnConn(tb testing.TB, s *qqtest.Server) *grpc.ClientConn {
	tb.Helper()
	conn, stop, err := ServeBufconn(s)
	if err != nil {
		tb.Fatalf("testutil: serve bufconn: %v", err)
	}
	tb.Cleanup(stop)
	return conn
}
