package transport

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// pair is two gRPC servers over one qqtest store, the first behind a fault
// proxy, each counting the calls it serves: the smallest fleet in which
// one server can vanish while the other is fine.
type pair struct {
	store   *qqtest.Server
	proxy   *testutil.Proxy
	servers [2]*testutil.TCPServer
	calls   [2]atomic.Int64

	mu        sync.Mutex
	served    func(server int, method string, err error) // after each call
	authority [2]map[string]bool
}

// newPair starts the pair on addrs (host:port, port 0 for any).
func newPair(t testing.TB, addrs ...string) *pair {
	t.Helper()
	if len(addrs) == 0 {
		addrs = []string{"127.0.0.1:0", "127.0.0.1:0"}
	}
	f := &pair{store: qqtest.NewUnstartedServer()}
	for i := range f.servers {
		f.authority[i] = map[string]bool{}
		s, err := testutil.StartTCPServer(f.store, addrs[i], grpc.UnaryInterceptor(f.interceptor(i)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		f.servers[i] = s
	}
	p, err := testutil.NewProxy(f.servers[0].Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	f.proxy = p
	return f
}

func (f *pair) interceptor(i int) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		f.calls[i].Add(1)
		f.mu.Lock()
		if md, ok := metadata.FromIncomingContext(ctx); ok {
			for _, a := range md[":authority"] {
				f.authority[i][a] = true
			}
		}
		f.mu.Unlock()
		resp, err := handler(ctx, req)
		if err == nil && ctx.Err() != nil {
			err = status.FromContextError(ctx.Err()).Err() // applied, but its caller had gone
		}
		f.mu.Lock()
		served := f.served
		f.mu.Unlock()
		if served != nil {
			served(i, info.FullMethod, err)
		}
		return resp, err
	}
}

// onServed sets a function told of every call served, after it.
func (f *pair) onServed(fn func(server int, method string, err error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.served = fn
}

// addr lists the proxy (server 0) and server 1.
func (f *pair) addr() string { return f.proxy.Addr() + "," + f.servers[1].Addr() }

// total is the number of calls both servers saw.
func (f *pair) total() int64 { return f.calls[0].Load() + f.calls[1].Load() }

// openPair opens a Conn to f with the test dial parameters.
func openPair(t testing.TB, address string, silence time.Duration) *Conn {
	t.Helper()
	opts, err := ConnParams{ConnectTimeout: time.Second, MaxBackoff: 100 * time.Millisecond}.DialOptions()
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(address, silence, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// replacedSignal returns a channel that receives once per link replaced.
func replacedSignal(c *Conn) <-chan struct{} {
	ch := make(chan struct{}, 16)
	c.mu.Lock()
	c.onReplace = func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	c.mu.Unlock()
	return ch
}

// within fails the test unless ch receives within d: a bound on a wait
// for an event, never a sleep.
func within(t *testing.T, ch <-chan struct{}, d time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(d):
		t.Fatalf("%s: not within %v", what, d)
	}
}

// pairWithNothingListening opens a Conn to a loopback address nothing
// listens on, and returns it with the address.
func pairWithNothingListening(t *testing.T) (*Conn, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return openPair(t, addr, time.Second), addr
}

// State is READY only when a link is: with no server to reach, it reports
// the links' failure.
func TestConnStateWithoutAServerIsNotReady(t *testing.T) {
	c, addr := pairWithNothingListening(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c.mu.Lock()
	links := c.links
	c.mu.Unlock()
	for _, l := range links {
		for s := l.cc.GetState(); s != connectivity.TransientFailure; s = l.cc.GetState() {
			if !l.cc.WaitForStateChange(ctx, s) {
				t.Fatalf("a link to %s stayed %v for 5 s, nothing listening", addr, s)
			}
		}
	}
	if s := c.State(); s == connectivity.Ready {
		t.Fatalf("state %v with nothing listening at %s", s, addr)
	}
}

// WaitReady ends with ctx when nothing listens, and with ErrConnClosed once
// the Conn is closed.
func TestWaitReadyEndsWithItsContextOrTheConn(t *testing.T) {
	c, _ := pairWithNothingListening(t)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if err := c.WaitReady(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitReady with nothing listening: %v, want DeadlineExceeded", err)
	}
	c.Close()
	if err := c.WaitReady(t.Context()); !errors.Is(err, ErrConnClosed) {
		t.Fatalf("WaitReady on a closed Conn: %v, want ErrConnClosed", err)
	}
}

// A third copy replaces the first link only while that link has answered
// nothing since the hedge: one that answers other calls is alive, and the
// call is only slow on it.
func TestRescueSparesAFirstLinkThatAnswers(t *testing.T) {
	f := newPair(t)
	c := openPair(t, f.addr(), 5*time.Second)
	acquire(t, c, "me")
	acquire(t, c, "me")
	c.mu.Lock()
	first, second := c.links[0], c.links[1]
	first.lastAnswer = time.Now() // answered just now
	c.mu.Unlock()
	if _, err := c.replaceSilent(first, second, renewal, lockID{}); err == nil || c.Replaced() != 0 {
		t.Fatalf("rescue replaced a link that had just answered (%v, %d replaced)", err, c.Replaced())
	}
	c.mu.Lock()
	first.lastAnswer = time.Now().Add(-time.Minute) // nothing since
	c.mu.Unlock()
	l, err := c.replaceSilent(first, second, renewal, lockID{})
	if err != nil || c.Replaced() != 1 || l == first || l == second {
		t.Fatalf("rescue of a silent first link: %v, %d replaced, link %p (first %p, second %p)", err, c.Replaced(), l, first, second)
	}
	c.mu.Lock()
	l.inflight-- // the copy takeLink counted is never sent
	c.mu.Unlock()
}
