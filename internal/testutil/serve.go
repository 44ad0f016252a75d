package testutil

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/test/bufconn"
)

// bufconnSize is the in-memory listener's buffer; unary lock calls are tiny.
const bufconnSize = 1 << 20

// ServeBufconn serves s over real gRPC on an in-memory listener. It returns
// a client connection dialled to it (target "passthrough:///bufnet",
// insecure; grpc.NewClient's default dns resolver cannot resolve a bufconn)
// and a stop function that closes the connection, closes s and waits for its
// goroutines, including running handlers. stop may be called more than
// once. s must be unstarted (qqtest.NewUnstartedServer); gRPC server options
// go to it through qqtest.WithGRPCServerOptions.
func ServeBufconn(s *qqtest.Server) (conn *grpc.ClientConn, stop func(), err error) {
	lis := bufconn.Listen(bufconnSize)
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	conn, err = grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return lis.DialContext(ctx)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		s.Close()
		<-served
		return nil, nil, err
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			conn.Close()
			s.Close()
			<-served
		})
	}
	return conn, stop, nil
}

// ShortConnectionAge returns a server option that recycles every connection
// after age (give or take gRPC's 10% jitter), sending GOAWAY and allowing
// grace for RPCs in flight. The real server does this with 30 s and 10 s;
// a tiny age lets a test see several recycles in well under a second. Give
// it to qqtest.WithGRPCServerOptions.
func ShortConnectionAge(age, grace time.Duration) grpc.ServerOption {
	return grpc.KeepaliveParams(keepalive.ServerParameters{
		MaxConnectionAge:      age,
		MaxConnectionAgeGrace: grace,
	})
}
