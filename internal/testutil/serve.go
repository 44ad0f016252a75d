package testutil

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/test/bufconn"
)

// bufconnSize is the in-memory listener's buffer; unary lock calls are tiny.
const bufconnSize = 1 << 20

// gracefulStopTimeout bounds how long ServeTCP's stop waits for pending RPCs
// (a call blocked by DropRequest without a deadline would wait forever)
// before it stops the server hard.
const gracefulStopTimeout = 5 * time.Second

// ServeBufconn serves s over real gRPC on an in-memory listener. It returns
// a client connection dialled to it (target "passthrough:///bufnet",
// insecure; grpc.NewClient's default dns resolver cannot resolve a bufconn)
// and a stop function that closes the connection, stops the server and waits
// for its goroutines, including running handlers. stop may be called more
// than once. opts are passed to grpc.NewServer.
func ServeBufconn(s *Server, opts ...grpc.ServerOption) (conn *grpc.ClientConn, stop func(), err error) {
	lis := bufconn.Listen(bufconnSize)
	gs, served := start(s, lis, opts)
	conn, err = grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return lis.DialContext(ctx)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		gs.Stop()
		<-served
		return nil, nil, err
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			conn.Close()
			gs.Stop()
			<-served
		})
	}
	return conn, stop, nil
}

// ServeTCP serves s over real gRPC on addr (for example "127.0.0.1:0") and
// returns the bound address and a stop function. stop shuts down gracefully,
// letting pending RPCs finish, but forces the server down after a few
// seconds so that a test cannot hang on a dropped call; it waits for the
// server's goroutines and may be called more than once. opts are passed to
// grpc.NewServer.
func ServeTCP(s *Server, addr string, opts ...grpc.ServerOption) (bound string, stop func(), err error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, err
	}
	gs, served := start(s, lis, opts)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			stopped := make(chan struct{})
			go func() {
				gs.GracefulStop()
				close(stopped)
			}()
			t := time.NewTimer(gracefulStopTimeout)
			defer t.Stop()
			select {
			case <-stopped:
			case <-t.C:
				gs.Stop() // unblocks GracefulStop too
				<-stopped
			}
			<-served
		})
	}
	return lis.Addr().String(), stop, nil
}

// ShortConnectionAge returns a server option that recycles every connection
// after age (give or take gRPC's 10% jitter), sending GOAWAY and allowing
// grace for RPCs in flight. The real server does this with 30 s and 10 s;
// a tiny age lets a test see several recycles in well under a second.
func ShortConnectionAge(age, grace time.Duration) grpc.ServerOption {
	return grpc.KeepaliveParams(keepalive.ServerParameters{
		MaxConnectionAge:      age,
		MaxConnectionAgeGrace: grace,
	})
}

// start registers s on a new gRPC server and serves lis in a goroutine; the
// returned channel closes when Serve has returned.
func start(s *Server, lis net.Listener, opts []grpc.ServerOption) (*grpc.Server, <-chan struct{}) {
	// Waiting for handlers makes stop leave no goroutine behind (goleak);
	// it comes first so callers' options can still override it.
	gs := grpc.NewServer(append([]grpc.ServerOption{grpc.WaitForHandlers(true)}, opts...)...)
	pb.RegisterLeaderElectionServiceServer(gs, s)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = gs.Serve(lis) // returns when stopped; nothing else to report
	}()
	return gs, served
}
