package transport_test

import (
	"context"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"github.com/quorum-quest/client-go/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// BenchmarkConn compares a call through a transport.Conn with the same call
// on a bare gRPC stub, over loopback TCP: what the Conn adds per call (the
// evidence kept per link, and the race a hedge may join: a goroutine, a
// timer and a channel) should stay small beside the call itself.
func BenchmarkConn(b *testing.B) {
	srv := qqtest.NewServer(b)
	creds := grpc.WithTransportCredentials(insecure.NewCredentials())
	cc, err := grpc.NewClient(srv.Addr(), creds)
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	conn, err := transport.Open(srv.Addr(), time.Second, creds)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	req := &pb.TryAcquireLockRequest{Service: "s", Domain: "d", ClientId: "a", Ttl: 10}
	for _, bc := range []struct {
		name string
		stub pb.LeaderElectionServiceClient
	}{{"grpc", pb.NewLeaderElectionServiceClient(cc)}, {"conn", conn}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.stub.TryAcquireLock(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
