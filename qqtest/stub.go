package qqtest

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quorum-quest/client-go/pb"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Stub returns a pb.LeaderElectionServiceClient that calls s directly, in
// the caller's goroutine, with no network: the in-process stub for the
// client's WithServerStub option and for timing tests under synctest.
//
// It behaves like a generated gRPC stub where it matters: a call whose
// context is already done is never sent; a call whose context ends before the
// answer returns status.FromContextError(ctx.Err()).Err(), so
// codes.DeadlineExceeded or codes.Canceled; requests are cloned, so callers
// cannot alias server state. grpc.CallOption arguments are ignored. A nil
// context or request fails with codes.InvalidArgument, never a panic, and
// a call to a server built with bad input with codes.FailedPrecondition;
// both errors match ErrInvalidArgument with errors.Is.
func (s *Server) Stub() pb.LeaderElectionServiceClient {
	return stub{s}
}

type stub struct{ s *Server }

func (st stub) TryAcquireLock(ctx context.Context, in *pb.TryAcquireLockRequest, _ ...grpc.CallOption) (*pb.TryAcquireLockResponse, error) {
	return invoke(ctx, in, st.s.tryAcquireLock)
}

func (st stub) ReleaseLock(ctx context.Context, in *pb.ReleaseLockRequest, _ ...grpc.CallOption) (*pb.ReleaseLockResponse, error) {
	return invoke(ctx, in, st.s.releaseLock)
}

func (st stub) KeepAlive(ctx context.Context, in *pb.KeepAliveRequest, _ ...grpc.CallOption) (*pb.KeepAliveResponse, error) {
	return invoke(ctx, in, st.s.keepAlive)
}

// statusError is a gRPC status error that also wraps the error it was made
// from: status.Code gives its code, and errors.Is finds ErrInvalidArgument.
type statusError struct {
	status *status.Status
	err    error
}

func statusOf(code codes.Code, err error) error {
	return &statusError{status: status.New(code, err.Error()), err: err}
}

func (e *statusError) Error() string              { return e.status.Err().Error() }
func (e *statusError) GRPCStatus() *status.Status { return e.status }
func (e *statusError) Unwrap() error              { return e.err }

// invoke does for one in-process call what a gRPC stub does around the wire:
// it refuses to send on a dead context, copies the request as marshalling
// would, and loses an answer that arrives after the context ended.
func invoke[Req proto.Message, Resp any](ctx context.Context, in Req, method func(context.Context, Req) (Resp, error)) (Resp, error) {
	var zero Resp
	if ctx == nil {
		return zero, statusOf(codes.InvalidArgument, fmt.Errorf("%w: nil context", ErrInvalidArgument))
	}
	if any(in) == nil || !in.ProtoReflect().IsValid() {
		return zero, statusOf(codes.InvalidArgument, fmt.Errorf("%w: nil request", ErrInvalidArgument))
	}
	if ctx.Err() != nil {
		return zero, contextStatus(ctx)
	}
	out, err := method(ctx, proto.Clone(in).(Req))
	if err != nil {
		return zero, err
	}
	if ctx.Err() != nil {
		return zero, contextStatus(ctx)
	}
	return out, nil
}
