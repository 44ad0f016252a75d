package testutil_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

// Real-network tests run outside synctest: sockets and gRPC's own goroutines
// are not durably blocked, so virtual time cannot drive them.

func TestServeBufconnStopUnblocksDroppedCall(t *testing.T) {
	s := qqtest.NewUnstartedServer()
	arrived := make(chan struct{})
	s.SetFaultFunc(func(qqtest.Call) qqtest.Fault {
		close(arrived)
		return qqtest.Fault{DropRequest: true}
	})
	conn, stop, err := testutil.ServeBufconn(s)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		// No deadline: only stop can end this call.
		_, err := pb.NewLeaderElectionServiceClient(conn).TryAcquireLock(context.Background(), &pb.TryAcquireLockRequest{Service: "billing", Domain: "eu-west", ClientId: "a", Ttl: 10})
		done <- err
	}()
	<-arrived
	stop()
	if err := <-done; err == nil {
		t.Fatal("dropped call succeeded after stop")
	}
	stop() // idempotent
}

// connCounter counts server-side connections.
type connCounter struct{ n atomic.Int64 }

func (*connCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (*connCounter) HandleRPC(context.Context, stats.RPCStats)                         {}
func (*connCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (c *connCounter) HandleConn(_ context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnBegin); ok {
		c.n.Add(1)
	}
}

func TestShortConnectionAgeRecyclesWithoutFailingCalls(t *testing.T) {
	conns := new(connCounter)
	s := qqtest.NewUnstartedServer(qqtest.WithGRPCServerOptions(
		testutil.ShortConnectionAge(50*time.Millisecond, time.Second),
		grpc.StatsHandler(conns)))
	c := pb.NewLeaderElectionServiceClient(testutil.BufconnConn(t, s))

	// Keep renewing until the server has replaced the connection twice; the
	// bound only matters if recycling is broken.
	const maxCalls = 100_000
	calls := 0
	for ; calls < maxCalls && conns.n.Load() < 3; calls++ {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		resp, err := c.TryAcquireLock(ctx, &pb.TryAcquireLockRequest{Service: "billing", Domain: "eu-west", ClientId: "a", Ttl: 30})
		cancel()
		if err != nil {
			t.Fatalf("call %d across connection recycling: %v", calls, err)
		}
		if !resp.GetIsLeader() {
			t.Fatalf("call %d: lost leadership across connection recycling", calls)
		}
	}
	if n := conns.n.Load(); n < 3 {
		t.Fatalf("%d calls saw %d connections, want the first one recycled twice", calls, n)
	}
	if h := s.History(); len(h) != 1 {
		t.Errorf("History has %d tenures, want one unbroken tenure", len(h))
	}
}
