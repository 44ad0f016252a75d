package benchmark

import (
	"context"
	"testing"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/pb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"
)

// instantStub answers every call at once, granting every lock: with it, a
// benchmark measures the client's own cost per call (its machine, contexts
// and bookkeeping) without the network round trip that makes the loopback
// figures noisy. It looks at the call's context as gRPC does (deadline and
// Done), but none of gRPC's own costs are in the figure.
type instantStub struct {
	lease    *durationpb.Duration
	renewals renewalCount
}

func newInstantStub() *instantStub {
	return &instantStub{lease: durationpb.New(TTL), renewals: newRenewalCount()}
}

var (
	granted = &pb.TryAcquireLockResponse{IsLeader: true}
	empty   = &pb.ReleaseLockResponse{}
)

func look(ctx context.Context) error {
	ctx.Deadline()
	select {
	case <-ctx.Done():
		return ctx.Err()
	default:
		return nil
	}
}

func (s *instantStub) TryAcquireLock(ctx context.Context, _ *pb.TryAcquireLockRequest, _ ...grpc.CallOption) (*pb.TryAcquireLockResponse, error) {
	return granted, look(ctx)
}

func (s *instantStub) ReleaseLock(ctx context.Context, _ *pb.ReleaseLockRequest, _ ...grpc.CallOption) (*pb.ReleaseLockResponse, error) {
	return empty, look(ctx)
}

func (s *instantStub) KeepAlive(ctx context.Context, _ *pb.KeepAliveRequest, _ ...grpc.CallOption) (*pb.KeepAliveResponse, error) {
	err := look(ctx)
	s.renewals.add()
	return &pb.KeepAliveResponse{LeaseLength: s.lease}, err
}

// OverheadTryAcquireLock is ClientTryAcquireLock against a server that
// answers at once: the client's own cost per call.
func OverheadTryAcquireLock(b *testing.B) {
	acquireBackToBack(b, client.WithServerStub(newInstantStub()))
}

// OverheadKeepAlive is ClientKeepAlive against a server that answers at
// once: the client's own cost per renewal, its timer included.
func OverheadKeepAlive(b *testing.B) {
	stub := newInstantStub()
	renewBackToBack(b, &stub.renewals, client.WithServerStub(stub))
}
