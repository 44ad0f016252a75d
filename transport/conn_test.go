package transport_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"github.com/quorum-quest/client-go/transport"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

func acquireReq(id string) *pb.TryAcquireLockRequest {
	return &pb.TryAcquireLockRequest{Service: "svc", Domain: "dom", ClientId: id, Ttl: 10}
}

func openConn(t *testing.T, addr string, silence time.Duration) *transport.Conn {
	t.Helper()
	p := transport.ConnParams{ConnectTimeout: time.Second, MaxBackoff: 100 * time.Millisecond}
	opts, err := p.DialOptions()
	if err != nil {
		t.Fatal(err)
	}
	c, err := transport.Open(addr, silence, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func callWithin(c *transport.Conn, d time.Duration, id string) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	_, err := c.TryAcquireLock(ctx, acquireReq(id))
	return err
}

// A connection gone silent for good (the proxy heals for new connections
// only) is replaced while a call waits on it: the call and its hedge wait
// the hedge delay each on the two silent links, then a third copy goes on
// a new link and is answered within the call's timeout.
func TestConnReplacesSilentConnection(t *testing.T) {
	p, err := testutil.NewProxy(qqtest.NewServer(t).Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c := openConn(t, p.Addr(), 300*time.Millisecond)
	if err := callWithin(c, 5*time.Second, "a"); err != nil {
		t.Fatal(err)
	}
	// Twice, the second time with the first copy on the other link (an
	// extra call turns the links' alternation by one).
	for round := range 2 {
		for range round {
			if err := callWithin(c, 5*time.Second, "a"); err != nil {
				t.Fatal(err)
			}
		}
		replaced := c.Replaced()
		p.SetMode(testutil.ProxySilent)
		p.SetMode(testutil.ProxyPass) // the existing connections stay silent
		if err := callWithin(c, 300*time.Millisecond, "a"); err != nil {
			t.Fatalf("round %d: call on the silent connection: %v", round, err)
		}
		if c.Replaced() == replaced {
			t.Fatalf("round %d: answered without replacing a silent link", round)
		}
		if err := callWithin(c, 5*time.Second, "a"); err != nil {
			t.Fatalf("round %d: call on the replacement: %v", round, err)
		}
	}
	if c.State() != connectivity.Ready {
		t.Fatalf("state %v", c.State())
	}
}

// Evidence needs the silence threshold: a short call timing out does not
// condemn a connection, and any answer clears the evidence.
func TestConnKeepsConnectionThatAnswers(t *testing.T) {
	srv := qqtest.NewServer(t)
	srv.SetFaultFunc(func(call qqtest.Call) qqtest.Fault {
		return qqtest.Fault{DropRequest: call.ClientID == "dropped"}
	})
	c := openConn(t, srv.Addr(), time.Second)
	for range 3 {
		// Three of these add up to more than the threshold: only the
		// answers in between keep the connection.
		if err := callWithin(c, 400*time.Millisecond, "dropped"); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("dropped call: %v", err)
		}
		for range 2 { // an answer on each link: both are alive
			if err := callWithin(c, 5*time.Second, "a"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if c.Replaced() != 0 {
		t.Fatalf("a connection that answers was replaced %d times", c.Replaced())
	}
}

// Swapping the connection does not cut short a call in flight on the old
// one: it gets its answer, and the old connection is closed after it.
func TestConnSwapSparesCallsInFlight(t *testing.T) {
	srv := qqtest.NewServer(t)
	srv.SetFaultFunc(func(call qqtest.Call) qqtest.Fault {
		switch call.ClientID {
		case "dropped":
			return qqtest.Fault{DropRequest: true}
		case "slow":
			return qqtest.Fault{Delay: time.Second}
		}
		return qqtest.Fault{}
	})
	c := openConn(t, srv.Addr(), 200*time.Millisecond)
	if err := callWithin(c, 5*time.Second, "warm-up"); err != nil {
		t.Fatal(err)
	}
	inFlight := make(chan error, 1)
	go func() { inFlight <- callWithin(c, 5*time.Second, "slow") }()
	if err := callWithin(c, 300*time.Millisecond, "dropped"); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("dropped call: %v", err)
	}
	if c.Replaced() == 0 {
		t.Fatal("not replaced")
	}
	if err := <-inFlight; err != nil {
		t.Fatalf("the call in flight during the swap: %v", err)
	}
}

func TestConnClosed(t *testing.T) {
	c := openConn(t, "127.0.0.1:1", time.Second)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	err := callWithin(c, time.Second, "a")
	if !errors.Is(err, transport.ErrConnClosed) || status.Code(err) != codes.Canceled {
		t.Fatalf("call after Close: %v", err)
	}
	if c.State() != connectivity.Shutdown {
		t.Fatalf("state %v", c.State())
	}
	var noContext context.Context
	if _, err := c.KeepAlive(noContext, &pb.KeepAliveRequest{}); !errors.Is(err, transport.ErrNilContext) {
		t.Fatalf("call with a nil context: %v", err)
	}
	if _, err := transport.Open("127.0.0.1:1", 0); !errors.Is(err, transport.ErrConnParams) {
		t.Fatalf("Open with no silence threshold: %v", err)
	}
	if _, err := (transport.ConnParams{MaxBackoff: time.Second}).DialOptions(); !errors.Is(err, transport.ErrConnParams) {
		t.Fatalf("DialOptions without a connect timeout: %v", err)
	}
	if _, err := (transport.ConnParams{ConnectTimeout: time.Second}).DialOptions(); !errors.Is(err, transport.ErrConnParams) {
		t.Fatalf("DialOptions without a backoff cap: %v", err)
	}
}
