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

// A link retired for silence with no call in flight on it is closed at
// once: nothing is left to spare, and kept it would leak until Close.
// Here the call timed out before the threshold, so the link is judged
// when the threshold passes, with no call left on it.
func TestRetiredConnectionWithoutCallsClosesAtOnce(t *testing.T) {
	srv := qqtest.NewServer(t)
	srv.SetFaultFunc(func(call qqtest.Call) qqtest.Fault {
		return qqtest.Fault{DropRequest: call.ClientID == "dropped"}
	})
	c := openPair(t, srv.Addr(), 400*time.Millisecond)
	noHedges(c)
	replaced := replacedSignal(c)
	c.mu.Lock()
	before := c.links
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil { // a link not READY is not judged
		t.Fatalf("links not READY: %v", err)
	}
	callCtx, callCancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer callCancel()
	if _, err := c.TryAcquireLock(callCtx, tryReq("dropped")); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("dropped call: %v", err)
	}
	within(t, replaced, 5*time.Second, "the silent link replaced when the threshold passed")
	c.mu.Lock()
	old := before[0]
	if c.links[0] == old {
		old = before[1]
	}
	c.mu.Unlock()
	// Closed just after the replacement, outside the lock: allow 1 s.
	closeCtx, closeCancel := context.WithTimeout(ctx, time.Second)
	defer closeCancel()
	for s := old.cc.GetState(); s != connectivity.Shutdown; s = old.cc.GetState() {
		if !old.cc.WaitForStateChange(closeCtx, s) {
			t.Fatalf("replaced link with no call in flight still %v; want it closed at once", s)
		}
	}
	c.mu.Lock()
	_, retired := c.retired[old]
	c.mu.Unlock()
	if retired {
		t.Fatal("the closed link is still kept as retired")
	}
}
