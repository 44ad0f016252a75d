package testutil

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// h2Preface is what an HTTP/2 client sends first; a gRPC server answers
// it with its SETTINGS, which shows a raw connection reached a server.
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

func newFleet(t *testing.T, n int, rotation time.Duration) (*Fleet, *qqtest.Server) {
	t.Helper()
	store := qqtest.NewUnstartedServer()
	f, err := NewFleet(store, n, rotation)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f, store
}

// rawConn opens a TCP connection to the balancer and returns it with the
// server it reached.
func rawConn(t *testing.T, f *Fleet) (net.Conn, int) {
	t.Helper()
	c, i, err := tryRawConn(f)
	if err != nil {
		t.Fatal(err)
	}
	return c, i
}

// tryRawConn is rawConn, returning the error of a connection reset before
// the preface could be written (a reset may beat the connect's return).
func tryRawConn(f *Fleet) (net.Conn, int, error) {
	c, err := net.DialTimeout("tcp", f.Addr(), 5*time.Second)
	if err != nil {
		return nil, -1, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	i, err := f.Reached(ctx, c.LocalAddr().String())
	if err != nil {
		c.Close()
		return nil, -1, err
	}
	if _, err := c.Write([]byte(h2Preface)); err != nil {
		c.Close()
		return nil, i, err
	}
	return c, i, nil
}

// expectRefusedOnce opens three connections in a row (one per server,
// round robin) and checks that exactly those to server s are reset.
func expectRefusedOnce(t *testing.T, f *Fleet, s int) {
	t.Helper()
	resets := 0
	for range 3 {
		c, j, err := tryRawConn(f)
		switch {
		case err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE):
			t.Fatal(err)
		case err != nil:
			if j >= 0 && j != s {
				t.Fatalf("server %d, which is up, reset a connection: %v", j, err)
			}
			resets++
		case j == s:
			expectReset(t, c)
			c.Close()
			resets++
		default:
			expectAnswer(t, c)
			c.Close()
		}
	}
	if resets != 1 {
		t.Fatalf("%d of 3 connections reset; want the one to server %d", resets, s)
	}
}

// expectAnswer checks that a server answers c's preface.
func expectAnswer(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 64)); n == 0 {
		t.Fatalf("no answer from the server: %v", err)
	}
}

// grpcClient is a gRPC client of the fleet that records the local address
// of every connection it dials.
type grpcClient struct {
	stub  pb.LeaderElectionServiceClient
	mu    sync.Mutex
	addrs []string
}

func newGRPCClient(t *testing.T, f *Fleet) *grpcClient {
	t.Helper()
	g := &grpcClient{}
	cc, err := grpc.NewClient(f.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
			if err == nil {
				g.mu.Lock()
				g.addrs = append(g.addrs, c.LocalAddr().String())
				g.mu.Unlock()
			}
			return c, err
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	g.stub = pb.NewLeaderElectionServiceClient(cc)
	return g
}

// call renews (or takes) lock s/d for id, waiting for a connection for at
// most wait.
func (g *grpcClient) call(id string, wait time.Duration, opts ...grpc.CallOption) error {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, err := g.stub.TryAcquireLock(ctx, &pb.TryAcquireLockRequest{Service: "s", Domain: id, ClientId: id, Ttl: 60}, opts...)
	return err
}

// server returns the server g's last connection reached.
func (g *grpcClient) server(t *testing.T, f *Fleet) int {
	t.Helper()
	g.mu.Lock()
	addr := g.addrs[len(g.addrs)-1]
	g.mu.Unlock()
	i, ok := f.ServerOf(addr)
	if !ok {
		t.Fatalf("the balancer does not know %s", addr)
	}
	return i
}

// Each new connection goes to the next server, and each server's calls
// are counted for the client that made them.
func TestFleetRoundRobinAndCounts(t *testing.T) {
	f, store := newFleet(t, 3, time.Minute)
	var got []int
	for range 6 {
		c, i := rawConn(t, f)
		expectAnswer(t, c)
		got = append(got, i)
	}
	if want := []int{0, 1, 2, 0, 1, 2}; !slices.Equal(got, want) {
		t.Fatalf("servers picked %v; want %v", got, want)
	}
	g := newGRPCClient(t, f)
	if err := g.call("a", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := g.call("a", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	i := g.server(t, f)
	if c := f.Calls(i, "a"); c.TryAcquireLock != 2 || c.Total() != 2 {
		t.Fatalf("server %d counted %+v for a; want 2 TryAcquireLock", i, c)
	}
	if c := f.Calls((i+1)%3, ""); c.Total() != 0 {
		t.Fatalf("server %d counted %+v; it had no call", (i+1)%3, c)
	}
	if h, _ := store.Holder("s", "a"); h != "a" {
		t.Fatalf("holder %q; the calls must reach the store", h)
	}
}

// A silent server forwards nothing on its connections, existing and new,
// and closes none of them, even after it heals; other servers answer.
func TestFleetSilence(t *testing.T) {
	f, _ := newFleet(t, 3, time.Minute)
	old, i := rawConn(t, f)
	expectAnswer(t, old)
	g := newGRPCClient(t, f)
	if err := g.call("a", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	s := g.server(t, f)
	if err := f.Silence(s); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.State(s); st != ServerSilent {
		t.Fatalf("state %v; want silent", st)
	}
	if err := g.call("a", quiet); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("call on a silent server: %v; want a deadline exceeded, no reset", err)
	}
	// New connections still reach it while it stays in rotation.
	for range 3 {
		c, j := rawConn(t, f)
		if j == s {
			expectNothing(t, c)
		} else {
			expectAnswer(t, c)
		}
	}
	if i != s {
		expectNothing(t, old) // drained of the SETTINGS already read
	}
	if err := f.Heal(s); err != nil {
		t.Fatal(err)
	}
	if err := g.call("a", quiet); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("call on a connection silenced before healing: %v; want it silent still", err)
	}
	for range 3 {
		c, _ := rawConn(t, f)
		expectAnswer(t, c)
	}
}

// A reset server resets its connections and each new one; once healed,
// new connections work.
func TestFleetReset(t *testing.T) {
	f, _ := newFleet(t, 3, time.Minute)
	g := newGRPCClient(t, f)
	if err := g.call("a", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	s := g.server(t, f)
	var old net.Conn
	for old == nil { // a raw connection to s, whose reset the test can see
		if c, j := rawConn(t, f); j == s {
			old = c
		}
	}
	expectAnswer(t, old)
	if err := f.Reset(s); err != nil {
		t.Fatal(err)
	}
	expectReset(t, old)
	expectRefusedOnce(t, f, s)
	// The gRPC client's connection was reset too: it dials again, and
	// reaches another server.
	if err := g.call("a", 5*time.Second, grpc.WaitForReady(true)); err != nil || g.server(t, f) == s {
		t.Fatalf("after the reset: %v, on server %d of the reset %d", err, g.server(t, f), s)
	}
	if err := f.Heal(s); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		c, _ := rawConn(t, f)
		expectAnswer(t, c)
	}
	if err := g.call("a", 5*time.Second, grpc.WaitForReady(true)); err != nil {
		t.Fatalf("after healing: %v", err)
	}
}

// A graceful stop sends GOAWAY and refuses new connections until Start;
// a kill sends no GOAWAY, resets at once, and refuses likewise.
func TestFleetStopAndKill(t *testing.T) {
	for _, kill := range []bool{false, true} {
		name := map[bool]string{false: "stop", true: "kill"}[kill]
		t.Run(name, func(t *testing.T) {
			f, store := newFleet(t, 3, time.Minute)
			g := newGRPCClient(t, f)
			if err := g.call("a", 5*time.Second); err != nil {
				t.Fatal(err)
			}
			s := g.server(t, f)
			stop, want := f.Stop, ServerStopped
			if kill {
				stop, want = f.Kill, ServerKilled
			}
			if err := stop(s); err != nil {
				t.Fatal(err)
			}
			if st, _ := f.State(s); st != want {
				t.Fatalf("state %v; want %v", st, want)
			}
			fr, _ := f.Frames(s)
			if got := len(fr.GoAways) > 0; got == kill {
				t.Fatalf("GOAWAYs %+v after %s", fr.GoAways, name)
			}
			expectRefusedOnce(t, f, s)
			if err := f.Start(s); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				c, _ := rawConn(t, f)
				expectAnswer(t, c)
			}
			if err := g.call("a", 5*time.Second, grpc.WaitForReady(true)); err != nil {
				t.Fatalf("after the start: %v", err)
			}
			if h, _ := store.Holder("s", "a"); h != "a" {
				t.Fatalf("holder %q; the store outlives its servers", h)
			}
		})
	}
}

// The balancer keeps a faulty server in rotation for the rotation time
// from its fault's start, then picks around it until it heals; with no
// server in rotation it still picks.
func TestFleetRotation(t *testing.T) {
	f, _ := newFleet(t, 3, 10*time.Second)
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	f.mu.Lock()
	f.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	f.mu.Unlock()
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	picks := func(k int) []int {
		f.mu.Lock()
		defer f.mu.Unlock()
		var out []int
		for range k {
			out = append(out, f.pickLocked(f.now()))
		}
		return out
	}
	if err := f.Silence(1); err != nil {
		t.Fatal(err)
	}
	advance(9 * time.Second)
	if got := picks(3); !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("9s into the fault: %v; want the silent server still picked", got)
	}
	if err := f.Kill(2); err != nil { // its own 10 s start now
		t.Fatal(err)
	}
	advance(time.Second)
	if got := picks(3); !slices.Equal(got, []int{0, 2, 0}) {
		t.Fatalf("10s into the fault: %v; want server 1 out of rotation", got)
	}
	advance(10 * time.Second)
	if err := f.Stop(0); err != nil {
		t.Fatal(err)
	}
	advance(10 * time.Second)
	if got := picks(3); len(got) != 3 {
		t.Fatalf("no server in rotation: %v; want picks all the same", got)
	}
	if err := f.Heal(1); err != nil {
		t.Fatal(err)
	}
	if got := picks(2); !slices.Equal(got, []int{1, 1}) {
		t.Fatalf("after healing server 1: %v; want only it", got)
	}
}

func TestFleetBadArguments(t *testing.T) {
	if _, err := NewFleet(qqtest.NewUnstartedServer(), 0, time.Second); !errors.Is(err, ErrFleet) {
		t.Fatalf("no server: %v", err)
	}
	if _, err := NewFleet(nil, 3, time.Second); !errors.Is(err, ErrFleet) {
		t.Fatalf("nil store: %v", err)
	}
	if _, err := NewFleet(qqtest.NewUnstartedServer(), 1, -time.Second); !errors.Is(err, ErrFleet) {
		t.Fatalf("negative rotation: %v", err)
	}
	f, _ := newFleet(t, 2, 0)
	for _, fault := range []func(int) error{f.Silence, f.Reset, f.Stop, f.Kill, f.Heal, f.Start} {
		if err := fault(2); !errors.Is(err, ErrFleet) {
			t.Fatalf("server 2 of 2: %v", err)
		}
	}
	if _, err := f.State(-1); !errors.Is(err, ErrFleet) {
		t.Fatalf("State(-1): %v", err)
	}
	f.Close()
	f.Close()
	if err := f.Silence(0); !errors.Is(err, ErrFleetClosed) {
		t.Fatalf("after Close: %v", err)
	}
}
