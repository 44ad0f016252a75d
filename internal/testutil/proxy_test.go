package testutil

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// greeter is a TCP backend that says "hi" on every connection, then
// echoes: the greeting shows the backend-to-client direction on its own.
type greeter struct {
	lis   net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func newGreeter(t *testing.T) *greeter {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &greeter{lis: lis}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			g.mu.Lock()
			g.conns = append(g.conns, c)
			g.mu.Unlock()
			g.wg.Add(1)
			go func() {
				defer g.wg.Done()
				if _, err := c.Write([]byte("hi")); err == nil {
					_, _ = io.Copy(c, c)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		g.mu.Lock()
		for _, c := range g.conns {
			c.Close()
		}
		g.mu.Unlock()
		g.wg.Wait()
	})
	return g
}

func newProxy(t *testing.T, backend string) *Proxy {
	t.Helper()
	p, err := NewProxy(backend)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dialProxy(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// quiet is how long a connection must stay without bytes or errors to
// count as silent or stalled; what passes arrives within milliseconds.
const quiet = 300 * time.Millisecond

// expect reads exactly want from c within a few seconds.
func expect(t *testing.T, c net.Conn, want string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
}

// expectNothing checks that c neither delivers a byte nor ends for quiet.
func expectNothing(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(quiet))
	n, err := c.Read(make([]byte, 16))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d bytes, %v; want nothing at all, the connection open", n, err)
	}
}

// expectReset checks that c ends with an error (not a timeout) at once.
func expectReset(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 16)
	for {
		n, err := c.Read(buf)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			t.Fatal("the connection was not closed")
		case err != nil:
			return
		case n > 0:
			continue // bytes sent before the reset
		}
	}
}

func TestProxyPass(t *testing.T) {
	p := newProxy(t, newGreeter(t).lis.Addr().String())
	c := dialProxy(t, p)
	expect(t, c, "hi")
	c.Write([]byte("ping"))
	expect(t, c, "ping")
	if p.Mode() != ProxyPass || p.Conns() != 1 {
		t.Fatalf("mode %v, %d conns", p.Mode(), p.Conns())
	}
}

func TestProxyReset(t *testing.T) {
	p := newProxy(t, newGreeter(t).lis.Addr().String())
	old := dialProxy(t, p)
	expect(t, old, "hi")
	p.SetMode(ProxyReset)
	expectReset(t, old)
	// Refused: accepted, then reset, which the dial itself may already
	// report.
	if c, err := net.DialTimeout("tcp", p.Addr(), 5*time.Second); err == nil {
		expectReset(t, c)
		c.Close()
	} else if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("dialling a resetting proxy: %v; want a reset", err)
	}
	p.SetMode(ProxyPass)
	healed := dialProxy(t, p)
	expect(t, healed, "hi")
}

func TestProxySilent(t *testing.T) {
	p := newProxy(t, newGreeter(t).lis.Addr().String())
	old := dialProxy(t, p)
	expect(t, old, "hi")
	p.SetMode(ProxySilent)
	if _, err := old.Write([]byte("ping")); err != nil {
		t.Fatalf("writing to a silent connection: %v", err)
	}
	expectNothing(t, old)
	fresh := dialProxy(t, p) // accepted, never greeted
	fresh.Write([]byte("ping"))
	expectNothing(t, fresh)

	p.SetMode(ProxyPass)
	old.Write([]byte("ping"))
	expectNothing(t, old) // silent for good
	expectNothing(t, fresh)
	healed := dialProxy(t, p)
	expect(t, healed, "hi")
	if n := p.Conns(); n != 3 {
		t.Fatalf("%d connections open; want the 2 silent ones and the healed one", n)
	}
	// A client closing a silent connection frees it.
	old.Close()
	deadline := time.Now().Add(5 * time.Second)
	for p.Conns() != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections open after the client closed one", p.Conns())
		}
		time.Sleep(5 * time.Millisecond) // polling, bounded by deadline
	}
}

func TestProxyStall(t *testing.T) {
	p := newProxy(t, newGreeter(t).lis.Addr().String())
	old := dialProxy(t, p)
	expect(t, old, "hi")
	p.SetMode(ProxyStall)
	old.Write([]byte("ping"))
	expectNothing(t, old)    // client to backend held
	fresh := dialProxy(t, p) // the backend greets at once...
	expectNothing(t, fresh)  // ...and the greeting is held
	p.SetMode(ProxyPass)
	expect(t, old, "ping")
	expect(t, fresh, "hi")
}

// A gRPC server restarted on the same address, behind a proxy, keeps its
// address and the lock state of its store.
func TestTCPServerRestart(t *testing.T) {
	srv := qqtest.NewUnstartedServer()
	ts, err := StartTCPServer(srv, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ts.Stop)
	p := newProxy(t, ts.Addr())
	cc, err := grpc.NewClient(p.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	stub := pb.NewLeaderElectionServiceClient(cc)
	call := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := stub.TryAcquireLock(ctx, &pb.TryAcquireLockRequest{Service: "s", Domain: "d", ClientId: "a", Ttl: 60})
		return err
	}
	if err := call(); err != nil {
		t.Fatal(err)
	}
	addr := ts.Addr()
	ts.Stop()
	if ts.Serving() || call() == nil {
		t.Fatal("a stopped server answered")
	}
	if err := ts.Start(); err != nil {
		t.Fatal(err)
	}
	if err := ts.Start(); !errors.Is(err, ErrServing) {
		t.Fatalf("second Start: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for call() != nil {
		if time.Now().After(deadline) {
			t.Fatal("no answer after the restart")
		}
	}
	if ts.Addr() != addr {
		t.Fatalf("address moved from %s to %s", addr, ts.Addr())
	}
	if h, _ := srv.Holder("s", "d"); h != "a" {
		t.Fatalf("holder %q after restart; the store's state must survive", h)
	}
}

func TestProxyModeString(t *testing.T) {
	for m, want := range map[ProxyMode]string{ProxyPass: "pass", ProxyReset: "reset", ProxySilent: "silent", ProxyStall: "stall", 9: "ProxyMode(9)"} {
		if m.String() != want {
			t.Errorf("%d: %q", int(m), m.String())
		}
	}
	p, err := NewProxy("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if err := p.SetMode(ProxySilent); !errors.Is(err, ErrProxyClosed) {
		t.Fatalf("SetMode after Close: %v", err)
	}
}
