package testutil

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
)

// ServerState is the state of one server of a [Fleet].
type ServerState int

// The states of a fleet's server. Every state but ServerUp is a fault,
// which the balancer keeps in rotation for the fleet's rotation time.
const (
	// ServerUp serves, and the balancer relays to it.
	ServerUp ServerState = iota
	// ServerSilent is a vanished host: every connection to it, existing
	// and new, is a black hole (see [ProxySilent]); the connections
	// silenced stay silent after the server heals.
	ServerSilent
	// ServerReset resets every connection to it, and each new one.
	ServerReset
	// ServerStopped is a server stopped gracefully (GOAWAY, calls in
	// flight finish) and not yet started again: new connections to it
	// are refused with a reset.
	ServerStopped
	// ServerKilled is a server killed at once: its connections were reset
	// and new ones are until it starts again.
	ServerKilled
)

// String names the state.
func (s ServerState) String() string {
	switch s {
	case ServerUp:
		return "up"
	case ServerSilent:
		return "silent"
	case ServerReset:
		return "reset"
	case ServerStopped:
		return "stopped"
	case ServerKilled:
		return "killed"
	}
	return fmt.Sprintf("ServerState(%d)", int(s))
}

// ErrFleet is returned for a bad argument to a [Fleet]: a server index out
// of range, a fleet of no server, a negative rotation time.
var ErrFleet = errors.New("testutil: bad fleet argument")

// ErrFleetExternal is returned by the faults a [Fleet] of external servers
// cannot make ([Fleet.Stop], [Fleet.Kill]): its balancer can silence or
// reset the connections to a server, not stop the server.
var ErrFleetExternal = errors.New("testutil: fault needs an in-process server")

// ErrFleetClosed is returned by a closed [Fleet]'s fault methods.
var ErrFleetClosed = errors.New("testutil: fleet closed")

// Fleet is a production deployment in miniature: several gRPC servers
// over one qqtest store, behind an L4 TCP balancer on one loopback
// address that picks a server for each new TCP connection, round robin.
// Each server can go silent, reset its connections, stop gracefully, be
// killed, and come back; the balancer keeps a faulty server in rotation
// for the fleet's rotation time after its fault began, as a balancer's
// health checks take that long to drop it, and picks among the healthy
// ones after that (among all of them when none is). It tells which server
// a client's connection reached ([Fleet.ServerOf]), and counts each
// server's calls per client. All methods are safe for concurrent use.
type Fleet struct {
	store    *qqtest.Server
	opts     []grpc.ServerOption
	rotation time.Duration
	lis      net.Listener
	accepted sync.WaitGroup

	mu      sync.Mutex
	members []*member
	next    int            // the round robin's next pick
	conns   map[string]int // client address (its local address) -> server
	picked  chan struct{}  // closed and replaced at every pick
	calls   map[fleetCallKey]int
	closed  bool
	now     func() time.Time // the rotation's clock; tests move it

	answered []atomic.Int64 // per server, every call it answered
	external bool           // the servers are not ours: see NewFleetOf
}

// member is one server of the fleet and the balancer's relay to it.
type member struct {
	relay *Proxy
	srv   *TCPServer // a new one, on a new port, at every start
	state ServerState
	since time.Time // when the current fault began
}

type fleetCallKey struct {
	server   int
	clientID string
	method   qqtest.Method
}

// NewFleet starts n servers of store with the given gRPC server options,
// each on a loopback port of its own, and the balancer in front of them.
// A faulty server stays in rotation for rotation (0: it leaves at once).
func NewFleet(store *qqtest.Server, n int, rotation time.Duration, opts ...grpc.ServerOption) (*Fleet, error) {
	if store == nil || n < 1 || rotation < 0 {
		return nil, fmt.Errorf("%w: NewFleet(store %v, %d servers, rotation %v)", ErrFleet, store != nil, n, rotation)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := newBalancer(lis, n, rotation)
	f.store, f.opts = store, opts
	for i := range n {
		m := &member{}
		f.members = append(f.members, m)
		srv, err := f.serve(i)
		if err != nil {
			f.Close()
			return nil, err
		}
		m.srv, m.relay = srv, newRelay(srv.Addr())
	}
	f.accepted.Add(1)
	go f.accept()
	return f, nil
}

// NewFleetOf puts the fleet's balancer in front of servers it did not
// start (real Quorum Quest servers, say), one per address. Its faults are
// those a balancer can make alone: [Fleet.Silence], [Fleet.Reset] and
// [Fleet.Heal]; [Fleet.Stop] and [Fleet.Kill] are ErrFleetExternal, and
// the call counts stay zero, the calls not passing through the fleet.
func NewFleetOf(addrs []string, rotation time.Duration) (*Fleet, error) {
	if len(addrs) < 1 || rotation < 0 || slices.Contains(addrs, "") {
		return nil, fmt.Errorf("%w: NewFleetOf(%q, rotation %v)", ErrFleet, addrs, rotation)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := newBalancer(lis, len(addrs), rotation)
	f.external = true
	for _, a := range addrs {
		f.members = append(f.members, &member{relay: newRelay(a)})
	}
	f.accepted.Add(1)
	go f.accept()
	return f, nil
}

// newBalancer is a fleet of n servers yet to be added, listening on lis.
func newBalancer(lis net.Listener, n int, rotation time.Duration) *Fleet {
	return &Fleet{
		rotation: rotation, lis: lis,
		conns: map[string]int{}, calls: map[fleetCallKey]int{},
		picked: make(chan struct{}), now: time.Now,
		answered: make([]atomic.Int64, n),
	}
}

// serve starts server i on a new loopback port: a port of its own at
// every start, so that no other socket can take it while it is down.
func (f *Fleet) serve(i int) (*TCPServer, error) {
	return startTCPServer(countingStub{f: f, server: i, next: f.store.Stub()}, "127.0.0.1:0", f.opts...)
}

// Addr is the balancer's address, the one clients dial.
func (f *Fleet) Addr() string { return f.lis.Addr().String() }

// Size is the number of servers.
func (f *Fleet) Size() int { return len(f.members) }

// State returns server i's state.
func (f *Fleet) State(i int) (ServerState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i < 0 || i >= len(f.members) {
		return 0, fmt.Errorf("%w: server %d of %d", ErrFleet, i, len(f.members))
	}
	return f.members[i].state, nil
}

// ServerOf returns the server the balancer sent the connection from
// clientAddr to: the client side's local address (net.Conn.LocalAddr),
// as a dialer passed with grpc.WithContextDialer sees it.
func (f *Fleet) ServerOf(clientAddr string) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, ok := f.conns[clientAddr]
	return i, ok
}

// Reached waits until the balancer has picked a server for the
// connection from clientAddr (a client's connect returns before the
// balancer accepts), and returns it; it fails when ctx ends first.
func (f *Fleet) Reached(ctx context.Context, clientAddr string) (int, error) {
	for {
		f.mu.Lock()
		i, ok := f.conns[clientAddr]
		picked := f.picked
		f.mu.Unlock()
		if ok {
			return i, nil
		}
		select {
		case <-picked:
		case <-ctx.Done():
			return 0, fmt.Errorf("testutil: no server picked for %s: %w", clientAddr, ctx.Err())
		}
	}
}

// Frames returns what server i's relay saw of the HTTP/2 frames: the
// pings clients sent and the GOAWAYs servers sent (see [Proxy.Frames]).
func (f *Fleet) Frames(i int) (Frames, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i < 0 || i >= len(f.members) {
		return Frames{}, fmt.Errorf("%w: server %d of %d", ErrFleet, i, len(f.members))
	}
	return f.members[i].relay.Frames(), nil
}

// Calls returns the calls server i answered for clientID ("" for every
// client), since the fleet started.
func (f *Fleet) Calls(i int, clientID string) qqtest.CallCounts {
	f.mu.Lock()
	defer f.mu.Unlock()
	var c qqtest.CallCounts
	for k, n := range f.calls {
		if k.server != i || (clientID != "" && k.clientID != clientID) {
			continue
		}
		switch k.method {
		case qqtest.MethodTryAcquireLock:
			c.TryAcquireLock += n
		case qqtest.MethodKeepAlive:
			c.KeepAlive += n
		case qqtest.MethodReleaseLock:
			c.ReleaseLock += n
		}
	}
	return c
}

// Answered returns every call server i answered since the fleet started,
// whatever the client and method: cheap enough to sample often, when
// [Fleet.Calls] walks every client's counts.
func (f *Fleet) Answered(i int) int64 {
	if i < 0 || i >= len(f.answered) {
		return 0
	}
	return f.answered[i].Load()
}

func (f *Fleet) accept() {
	defer f.accepted.Done()
	for {
		c, err := f.lis.Accept()
		if err != nil {
			return // closed
		}
		f.mu.Lock()
		i := f.pickLocked(f.now())
		f.conns[c.RemoteAddr().String()] = i
		close(f.picked)
		f.picked = make(chan struct{})
		relay := f.members[i].relay
		f.mu.Unlock()
		relay.handle(c)
	}
}

// pickLocked picks the next server round robin among those in rotation:
// up, or faulty for less than the rotation time. f.mu must be held.
func (f *Fleet) pickLocked(now time.Time) int {
	n := len(f.members)
	for k := range n {
		i := (f.next + k) % n
		if m := f.members[i]; m.state == ServerUp || now.Sub(m.since) < f.rotation {
			f.next = i + 1
			return i
		}
	}
	i := f.next % n // none in rotation: a balancer with no healthy backend still forwards
	f.next = i + 1
	return i
}

// fault moves server i to state s with the relay mode for it, and
// returns its server for the caller to stop or kill.
func (f *Fleet) fault(i int, s ServerState, mode ProxyMode) (*TCPServer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, ErrFleetClosed
	}
	if i < 0 || i >= len(f.members) {
		return nil, fmt.Errorf("%w: server %d of %d", ErrFleet, i, len(f.members))
	}
	m := f.members[i]
	if m.state == ServerUp {
		m.since = f.now()
	}
	m.state = s
	return m.srv, m.relay.SetMode(mode)
}

// Silence makes server i vanish without a reset: see [ServerSilent].
func (f *Fleet) Silence(i int) error {
	_, err := f.fault(i, ServerSilent, ProxySilent)
	return err
}

// Reset resets every connection to server i, and each new one, until
// [Fleet.Heal]; the server itself keeps serving.
func (f *Fleet) Reset(i int) error {
	_, err := f.fault(i, ServerReset, ProxyReset)
	return err
}

// Stop stops server i gracefully, as grpc.Server.GracefulStop does on
// SIGTERM: GOAWAY on every connection, calls in flight finish (a few
// seconds at most), then its connections close. New connections to it are
// refused until [Fleet.Start].
func (f *Fleet) Stop(i int) error {
	if f.external {
		return fmt.Errorf("%w: Stop(%d)", ErrFleetExternal, i)
	}
	srv, err := f.fault(i, ServerStopped, ProxyPass)
	if err != nil {
		return err
	}
	srv.Stop() // the relay passes the refusals on as resets
	return nil
}

// Kill kills server i: its connections are reset and its listener gone at
// once, calls in flight lost, until [Fleet.Start].
func (f *Fleet) Kill(i int) error {
	if f.external {
		return fmt.Errorf("%w: Kill(%d)", ErrFleetExternal, i)
	}
	srv, err := f.fault(i, ServerKilled, ProxyReset)
	if err != nil {
		return err
	}
	srv.Kill()
	return nil
}

// Start serves server i again after Stop or Kill, on a new port, and puts
// it back in rotation; on a server that is up, silent or resetting it is
// [Fleet.Heal].
func (f *Fleet) Start(i int) error { return f.Heal(i) }

// Heal ends server i's fault: a stopped or killed server serves again,
// and new connections to it work. Connections silenced stay silent.
func (f *Fleet) Heal(i int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return ErrFleetClosed
	}
	if i < 0 || i >= len(f.members) {
		return fmt.Errorf("%w: server %d of %d", ErrFleet, i, len(f.members))
	}
	m := f.members[i]
	if m.state == ServerStopped || m.state == ServerKilled {
		srv, err := f.serve(i)
		if err != nil {
			return err
		}
		m.srv = srv
		m.relay.SetBackend(srv.Addr())
	}
	m.state = ServerUp
	return m.relay.SetMode(ProxyPass)
}

// Close stops the balancer, closes every connection and kills every
// server, then waits for the fleet's goroutines. It is idempotent.
func (f *Fleet) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	members := f.members
	f.mu.Unlock()
	f.lis.Close()
	f.accepted.Wait()
	for _, m := range members {
		if m.relay != nil {
			m.relay.Close()
		}
		if m.srv != nil {
			m.srv.Kill()
		}
	}
}

// countingStub counts the calls server i answers, per client, on their
// way to the store.
type countingStub struct {
	f      *Fleet
	server int
	next   pb.LeaderElectionServiceClient
}

func (c countingStub) count(clientID string, m qqtest.Method) {
	c.f.answered[c.server].Add(1)
	c.f.mu.Lock()
	c.f.calls[fleetCallKey{c.server, clientID, m}]++
	c.f.mu.Unlock()
}

func (c countingStub) TryAcquireLock(ctx context.Context, in *pb.TryAcquireLockRequest, opts ...grpc.CallOption) (*pb.TryAcquireLockResponse, error) {
	c.count(in.GetClientId(), qqtest.MethodTryAcquireLock)
	return c.next.TryAcquireLock(ctx, in, opts...)
}

func (c countingStub) KeepAlive(ctx context.Context, in *pb.KeepAliveRequest, opts ...grpc.CallOption) (*pb.KeepAliveResponse, error) {
	c.count(in.GetClientId(), qqtest.MethodKeepAlive)
	return c.next.KeepAlive(ctx, in, opts...)
}

func (c countingStub) ReleaseLock(ctx context.Context, in *pb.ReleaseLockRequest, opts ...grpc.CallOption) (*pb.ReleaseLockResponse, error) {
	c.count(in.GetClientId(), qqtest.MethodReleaseLock)
	return c.next.ReleaseLock(ctx, in, opts...)
}
