package transport

import (
	"context"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// noHedges makes c never hedge, to watch one link at a time.
func noHedges(c *Conn) {
	c.mu.Lock()
	c.rtt = rtts{delay: time.Hour, floor: time.Hour, cap: time.Hour}
	c.mu.Unlock()
}

// A link retired for silence is closed once the last call in flight on
// it has ended, not before (the call gets its answer) and not never (a
// retired link would leak until Close).
func TestRetiredConnectionClosesAfterItsLastCall(t *testing.T) {
	srv := qqtest.NewServer(t)
	slowArrived := make(chan struct{})
	srv.SetFaultFunc(func(call qqtest.Call) qqtest.Fault {
		switch call.ClientID {
		case "dropped":
			return qqtest.Fault{DropRequest: true}
		case "slow":
			close(slowArrived)
			return qqtest.Fault{Delay: time.Second}
		}
		return qqtest.Fault{}
	})
	opts, err := ConnParams{ConnectTimeout: time.Second, MaxBackoff: 100 * time.Millisecond}.DialOptions()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(srv.Addr(), 200*time.Millisecond, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	noHedges(c)
	call := func(id string, d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		_, err := c.TryAcquireLock(ctx, &pb.TryAcquireLockRequest{Service: "svc", Domain: "dom", ClientId: id, Ttl: 10})
		return err
	}
	if err := call("warm-up", 5*time.Second); err != nil {
		t.Fatal(err)
	}

	inFlight := make(chan error, 1)
	go func() { inFlight <- call("slow", 5*time.Second) }()
	<-slowArrived
	c.mu.Lock()
	old := c.links[0]
	if old.inflight == 0 {
		old = c.links[1]
	}
	c.mu.Unlock()
	// Calls alternate between the links: within a few, one lands on old.
	retired := false
	for range 4 {
		if err := call("dropped", 300*time.Millisecond); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("dropped call: %v", err)
		}
		c.mu.Lock()
		_, retired = c.retired[old]
		c.mu.Unlock()
		if retired {
			break
		}
	}
	if !retired {
		t.Fatal("the link with the slow call in flight was never retired for silence")
	}
	if s := old.cc.GetState(); s == connectivity.Shutdown {
		t.Fatal("the retired link was closed with a call still in flight on it")
	}
	if err := <-inFlight; err != nil {
		t.Fatalf("the call in flight during the swap: %v", err)
	}
	c.mu.Lock()
	_, retired = c.retired[old]
	c.mu.Unlock()
	if s := old.cc.GetState(); s != connectivity.Shutdown || retired {
		t.Fatalf("after its last call: retired link %v, still retired %v; want it closed and forgotten", s, retired)
	}
}
