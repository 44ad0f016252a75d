package testutil

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
)

// ErrServing is returned by [TCPServer.Start] while the server is already
// serving.
var ErrServing = errors.New("testutil: server already serving")

// stopTimeout bounds how long Stop lets pending calls finish (a call
// blocked by a dropped request waits for its deadline) before it stops the
// server hard.
const stopTimeout = 5 * time.Second

// TCPServer serves the lock state of a [qqtest.Server] over real gRPC on a
// fixed TCP address, and can be stopped and started again on that same
// address: a server process restarted in front of the same store. The
// store is used through its Stub, so its faults, history and call counts
// apply, and its lock state survives the restart (use qqtest's Restart or
// DropLock as well for a store that loses it). The store itself need not
// serve the network.
type TCPServer struct {
	store pb.LeaderElectionServiceClient
	addr  string
	opts  []grpc.ServerOption

	mu     sync.Mutex
	gs     *grpc.Server  // nil while stopped
	served chan struct{} // closed when gs has stopped serving
}

// StartTCPServer serves store on addr ("127.0.0.1:0" picks a port, which
// every restart then reuses) with the given grpc.ServerOptions.
func StartTCPServer(store *qqtest.Server, addr string, opts ...grpc.ServerOption) (*TCPServer, error) {
	return startTCPServer(store.Stub(), addr, opts...)
}

// startTCPServer serves the calls of stub, which a [Fleet] wraps to count
// each server's calls.
func startTCPServer(stub pb.LeaderElectionServiceClient, addr string, opts ...grpc.ServerOption) (*TCPServer, error) {
	t := &TCPServer{store: stub, addr: addr, opts: opts}
	if err := t.Start(); err != nil {
		return nil, err
	}
	return t, nil
}

// Addr is the address the server listens on, across restarts.
func (t *TCPServer) Addr() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.addr
}

// Serving reports whether the server is up.
func (t *TCPServer) Serving() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.gs != nil
}

// Start serves again on the same address, with a new grpc.Server.
func (t *TCPServer) Start() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gs != nil {
		return ErrServing
	}
	lis, err := net.Listen("tcp", t.addr)
	if err != nil {
		return err
	}
	t.addr = lis.Addr().String() // the port picked the first time
	// Waiting for handlers makes Stop leave no goroutine behind (goleak).
	t.gs = grpc.NewServer(append([]grpc.ServerOption{grpc.WaitForHandlers(true)}, t.opts...)...)
	pb.RegisterLeaderElectionServiceServer(t.gs, forwarder{stub: t.store})
	t.served = make(chan struct{})
	gs, served := t.gs, t.served
	go func() {
		defer close(served)
		_ = gs.Serve(lis) // returns when stopped; nothing else to report
	}()
	return nil
}

// Stop shuts the gRPC server down gracefully (GOAWAY, pending calls
// finish), hard after a few seconds; connections are refused until Start.
// Stopping a stopped server does nothing.
func (t *TCPServer) Stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gs == nil {
		return
	}
	stopped := make(chan struct{})
	go func() {
		t.gs.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		t.gs.Stop() // unblocks GracefulStop too
		<-stopped
	}
	<-t.served
	t.gs = nil
}

// Kill stops the server at once, as a killed process: its listener and
// every connection close without GOAWAY, and calls in flight fail.
// Connections are refused until Start. Killing a stopped server does
// nothing.
func (t *TCPServer) Kill() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gs == nil {
		return
	}
	t.gs.Stop()
	<-t.served
	t.gs = nil
}

// Restart is Stop then Start.
func (t *TCPServer) Restart() error {
	t.Stop()
	return t.Start()
}

// forwarder serves gRPC calls by making them on a stub.
type forwarder struct {
	pb.UnimplementedLeaderElectionServiceServer
	stub pb.LeaderElectionServiceClient
}

func (f forwarder) TryAcquireLock(ctx context.Context, in *pb.TryAcquireLockRequest) (*pb.TryAcquireLockResponse, error) {
	return f.stub.TryAcquireLock(ctx, in)
}

func (f forwarder) KeepAlive(ctx context.Context, in *pb.KeepAliveRequest) (*pb.KeepAliveResponse, error) {
	return f.stub.KeepAlive(ctx, in)
}

func (f forwarder) ReleaseLock(ctx context.Context, in *pb.ReleaseLockRequest) (*pb.ReleaseLockResponse, error) {
	return f.stub.ReleaseLock(ctx, in)
}
