package transport_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
)

// The client must never provoke GOAWAY "too_many_pings" from a server
// with gRPC's default keepalive enforcement, idle or busy. Each client
// below reaches such a server over real TCP through a proxy of its own,
// which reads every GOAWAY the server sends: an idle follower, a leader
// renewing, a follower polling, and a follower whose calls the server
// never answers. Two aggressive gRPC clients (keepalive every 10 s, the
// shortest gRPC allows; one idle with pings permitted without calls, one
// with a call hung on the server) are the control: the server must throw
// them out, which takes about 40 s, and the client's own connections run
// for at least that long, and 45 s, under the same server. (With the
// control's keepalive in the client's dial options, its idle follower is
// thrown out too and this test fails.)
func TestNoTooManyPings(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 45 s of real time")
	}
	const ttl = 2 * time.Second
	addr := serveHanging(t, "hung", "aggressive-busy") // default enforcement: MinTime 5 min, no pings without streams
	proxy := func() *testutil.Proxy {
		p, err := testutil.NewProxy(addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })

	ours := map[string]*testutil.Proxy{}
	newClient := func(id string) *client.QuorumQuestClient {
		p := proxy()
		ours[id] = p
		c, err := client.NewQuorumQuestClient("svc", "dom", ttl, p.Addr(), client.WithClientID(id))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	leader := newClient("leader")
	if err := leader.Campaign(ctx); err != nil { // then renews every ~0.67 s: busy
		t.Fatal(err)
	}
	idle := newClient("idle")
	if ok, err := idle.TryAcquireLock(ctx); ok || err != nil { // then nothing: idle
		t.Fatalf("idle client: %v, %v", ok, err)
	}
	for _, id := range []string{"follower", "hung"} { // polling every ~0.2 s: busy
		c := newClient(id)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Run(ctx, func(context.Context) {})
		}()
	}

	// The control: plain gRPC clients that ping every 10 s.
	aggressive := func(id string, permitWithoutStream bool) *testutil.Proxy {
		p := proxy()
		cc, err := grpc.NewClient(p.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 5 * time.Second, PermitWithoutStream: permitWithoutStream}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cc.Close() })
		stub := pb.NewLeaderElectionServiceClient(cc)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				// A call that waits for a minute: keepalive pings are
				// sent only when nothing was read for 10 s, and gRPC's
				// own bandwidth probes answer every request sent.
				call, end := context.WithTimeout(ctx, time.Minute)
				stub.TryAcquireLock(call, &pb.TryAcquireLockRequest{Service: "svc", Domain: "dom", ClientId: id, Ttl: 2})
				end()
				if id == "aggressive-idle" {
					<-ctx.Done() // one call, then idle with pings allowed
				}
			}
		}()
		return p
	}
	controls := map[string]*testutil.Proxy{
		"aggressive-idle": aggressive("aggressive-idle", true),
		"aggressive-busy": aggressive("aggressive-busy", false),
	}

	start := time.Now()
	deadline := start.Add(75 * time.Second)
	caught := func(p *testutil.Proxy) bool {
		for _, g := range p.Frames().GoAways {
			if g.TooManyPings() {
				return true
			}
		}
		return false
	}
	for {
		pending := 0
		for _, p := range controls {
			if !caught(p) {
				pending++
			}
		}
		// Ours run at least as long as four pings of an aggressive
		// client take, whatever the control did.
		if pending == 0 && time.Since(start) >= 45*time.Second {
			break
		}
		if time.Now().After(deadline) {
			for id, p := range controls {
				t.Logf("control %q: %+v", id, p.Frames())
			}
			t.Fatalf("after %v, %d aggressive clients were still not sent too_many_pings: the check cannot fail", time.Since(start), pending)
		}
		time.Sleep(100 * time.Millisecond) // polling, bounded by deadline
	}
	t.Logf("the aggressive clients were thrown out; the test ran %v", time.Since(start).Round(time.Second))
	for id, p := range ours {
		f := p.Frames()
		for _, g := range f.GoAways {
			if g.TooManyPings() {
				t.Errorf("client %q got GOAWAY too_many_pings", id)
			}
		}
		t.Logf("client %q: %d pings sent, GOAWAYs %v", id, f.ClientPings, f.GoAways)
	}
	if !leader.IsLeader() {
		t.Error("the leader lost its lease on a healthy server")
	}
}

// hangingServer is the in-memory server, except that TryAcquireLock from
// the clients in hung never returns until the test ends, whatever the
// call's deadline: a server stuck on its store. Such a server sends
// nothing on the connection, not even the status of a call that timed
// out, which is when keepalive pings earn strikes.
type hangingServer struct {
	pb.UnimplementedLeaderElectionServiceServer
	store pb.LeaderElectionServiceClient // a qqtest.Server's stub
	hung  map[string]bool
	done  chan struct{}
}

func (s hangingServer) TryAcquireLock(ctx context.Context, req *pb.TryAcquireLockRequest) (*pb.TryAcquireLockResponse, error) {
	if s.hung[req.GetClientId()] {
		<-s.done
		return nil, status.Error(codes.Unavailable, "test over")
	}
	return s.store.TryAcquireLock(ctx, req)
}

func (s hangingServer) KeepAlive(ctx context.Context, req *pb.KeepAliveRequest) (*pb.KeepAliveResponse, error) {
	return s.store.KeepAlive(ctx, req)
}

func (s hangingServer) ReleaseLock(ctx context.Context, req *pb.ReleaseLockRequest) (*pb.ReleaseLockResponse, error) {
	return s.store.ReleaseLock(ctx, req)
}

// serveHanging serves a hangingServer on loopback TCP with gRPC's default
// keepalive enforcement, until the test ends.
func serveHanging(t *testing.T, hung ...string) string {
	t.Helper()
	s := hangingServer{store: qqtest.NewUnstartedServer().Stub(), hung: map[string]bool{}, done: make(chan struct{})}
	for _, id := range hung {
		s.hung[id] = true
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.WaitForHandlers(true))
	pb.RegisterLeaderElectionServiceServer(gs, s)
	served := make(chan struct{})
	go func() {
		defer close(served)
		gs.Serve(lis)
	}()
	t.Cleanup(func() {
		close(s.done)
		gs.Stop()
		<-served
	})
	return lis.Addr().String()
}
