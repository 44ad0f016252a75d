package qqtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/internal/nilness"
	"github.com/quorum-quest/client-go/pb"
	"google.golang.org/grpc"
)

// ErrServerStarted is returned by [Server.Start] and [Server.Serve] on a
// server that already serves or was closed: a Server serves one listener,
// once.
var ErrServerStarted = errors.New("qqtest: server already started or closed")

// closeTimeout bounds how long Close waits for pending calls (a call blocked
// by DropRequest or a pause without a deadline would wait forever) before it
// stops the server hard.
const closeTimeout = 5 * time.Second

// serving is a Server's network side.
type serving struct {
	mu     sync.Mutex
	gs     *grpc.Server  // nil until Start or Serve
	addr   string        // the listener's address while serving
	served chan struct{} // closed when grpc's Serve has returned
	closed bool
}

// service is what gRPC calls: the Server's methods, without putting the
// generated service interface in the Server's public method set.
type service struct {
	pb.UnimplementedLeaderElectionServiceServer
	s *Server
}

func (v service) TryAcquireLock(ctx context.Context, req *pb.TryAcquireLockRequest) (*pb.TryAcquireLockResponse, error) {
	return v.s.tryAcquireLock(ctx, req)
}

func (v service) KeepAlive(ctx context.Context, req *pb.KeepAliveRequest) (*pb.KeepAliveResponse, error) {
	return v.s.keepAlive(ctx, req)
}

func (v service) ReleaseLock(ctx context.Context, req *pb.ReleaseLockRequest) (*pb.ReleaseLockResponse, error) {
	return v.s.releaseLock(ctx, req)
}

// Start serves s over real gRPC on a free loopback port (see [Server.Addr])
// in the background, until [Server.Close].
func (s *Server) Start() error {
	if s.invalid != nil {
		return s.invalid
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	gs, served, err := s.listen(lis)
	if err != nil {
		return err
	}
	go func() {
		defer close(served)
		_ = gs.Serve(lis) // returns when stopped; nothing else to report
	}()
	return nil
}

// Serve serves s over real gRPC on lis, for example to run the server as a
// process of its own, and returns after [Server.Close] with nil, or with
// the error that made gRPC stop serving. It closes lis.
func (s *Server) Serve(lis net.Listener) error {
	if nilness.IsNil(lis) {
		return fmt.Errorf("%w: Serve(nil)", ErrInvalidArgument)
	}
	if s.invalid != nil {
		lis.Close()
		return s.invalid
	}
	gs, served, err := s.listen(lis)
	if err != nil {
		return err
	}
	defer close(served)
	if err := gs.Serve(lis); !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil // closed before gRPC started serving
}

// listen prepares the gRPC server for lis, or closes lis and fails if s
// already serves or was closed.
func (s *Server) listen(lis net.Listener) (*grpc.Server, chan struct{}, error) {
	n := &s.serving
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.gs != nil || n.closed {
		lis.Close()
		return nil, nil, ErrServerStarted
	}
	// Waiting for handlers makes Close leave no goroutine behind (goleak);
	// it comes first so that WithGRPCServerOptions can still override it.
	n.gs = grpc.NewServer(append([]grpc.ServerOption{grpc.WaitForHandlers(true)}, s.grpcOpts...)...)
	pb.RegisterLeaderElectionServiceServer(n.gs, service{s: s})
	n.addr = lis.Addr().String()
	n.served = make(chan struct{})
	return n.gs, n.served, nil
}

// Addr returns the address s serves on, for client.NewQuorumQuestClient,
// or "" if it does not serve the network.
func (s *Server) Addr() string {
	n := &s.serving
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addr
}

// Close stops serving the network: it lets pending calls finish, but stops
// the server hard after a few seconds so that a test cannot hang on a
// dropped or paused call, and waits for the server's goroutines. Lock
// state, [Server.Stub] and requests on their way ([Fault.IgnoreCancel])
// are unaffected. Close may be called more than once; a closed server
// cannot serve again.
func (s *Server) Close() {
	n := &s.serving
	n.mu.Lock()
	n.closed = true
	gs, served := n.gs, n.served
	n.addr = ""
	n.mu.Unlock()
	if gs == nil {
		return
	}
	stopped := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(stopped)
	}()
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-stopped:
	case <-t.C:
		gs.Stop() // unblocks GracefulStop too
		<-stopped
	}
	<-served
}
