package client_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// These tests use real gRPC over loopback TCP and bufconn, in real time.

func TestOverTCP(t *testing.T) {
	srv := qqtest.NewServer(t)
	addr := srv.Addr()
	a, err := client.NewQuorumQuestClient(service, domain, ttl, addr, client.WithClientID("a"), client.WithTransitionHook(recordTransitions))
	if err != nil {
		t.Fatal(err)
	}
	mustAcquire(t, a)
	mustStartKeepAlive(t, a)
	if holder, _ := srv.Holder(service, domain); holder != "a" {
		t.Fatalf("server holder %q", holder)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, held := srv.Holder(service, domain); held {
		t.Fatal("Close over TCP did not release")
	}
}

func TestOverBufconn(t *testing.T) {
	srv := qqtest.NewUnstartedServer()
	conn := testutil.BufconnConn(t, srv)
	a, err := client.NewQuorumQuestClient(service, domain, ttl, "unused", client.WithServerStub(pb.NewLeaderElectionServiceClient(conn)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	mustAcquire(t, a)
	if err := a.ReleaseLock(bg); err != nil {
		t.Fatal(err)
	}
	if _, held := srv.Holder(service, domain); held {
		t.Fatal("release over bufconn did not reach the server")
	}
}

func TestUnreachableServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	a, err := client.NewQuorumQuestClient(service, domain, ttl, addr, client.WithRequestTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ok, err := a.TryAcquireLock(bg)
	if ok || status.Code(err) != codes.Unavailable {
		t.Fatalf("TryAcquireLock = %v, %v; want false, Unavailable", ok, err)
	}
	if a.State() != client.StateFollower {
		t.Fatalf("state %s", a.State())
	}
}

// connCounter counts the connections a server accepts.
type connCounter struct{ n atomic.Int32 }

func (c *connCounter) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context   { return ctx }
func (c *connCounter) HandleRPC(context.Context, stats.RPCStats)                         {}
func (c *connCounter) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context { return ctx }
func (c *connCounter) HandleConn(_ context.Context, s stats.ConnStats) {
	if _, ok := s.(*stats.ConnBegin); ok {
		c.n.Add(1)
	}
}

// The real server replaces every connection after 30s (+10s grace); here
// every 150ms, against a 1s lease renewed about every 333ms. Leadership must
// survive every replacement.
func TestLeadershipSurvivesConnectionRecycling(t *testing.T) {
	conns := &connCounter{}
	srv := qqtest.NewServer(t, qqtest.WithGRPCServerOptions(testutil.ShortConnectionAge(150*time.Millisecond, 50*time.Millisecond), grpc.StatsHandler(conns)))
	addr := srv.Addr()
	renewed := make(chan client.Transition, 64)
	a, err := client.NewQuorumQuestClient(service, domain, time.Second, addr,
		client.WithClientID("a"),
		client.WithTransitionHook(recordTransitions),
		client.WithTransitionHook(func(tr client.Transition) {
			if tr.From == client.StateRefreshing || tr.To == client.StateLost {
				select {
				case renewed <- tr:
				default: // the test has stopped reading; never block Close
				}
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	mustAcquire(t, a)
	mustStartKeepAlive(t, a)
	var granted int
	// 12 renewals take about 4s; a bound well beyond that fails the test
	// instead of hanging it when renewals stop.
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for granted < 12 {
		var tr client.Transition
		select {
		case tr = <-renewed:
		case <-deadline.C:
			t.Fatalf("only %d renewals within 30s (%d connections); state %s", granted, conns.n.Load(), a.State())
		}
		switch {
		case tr.To == client.StateLost:
			t.Fatalf("leadership lost after %d renewals and %d connections: %v", granted, conns.n.Load(), tr.Err)
		case tr.Event == client.EventGranted:
			granted++
		}
	}
	if n := conns.n.Load(); n < 5 {
		t.Fatalf("only %d connections over %d renewals: recycling was not exercised", n, granted)
	}
	if !a.IsLeader() {
		t.Fatal("not leader after the renewals")
	}
}
