package transport

import (
	"context"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/fsm"
	"github.com/quorum-quest/client-go/pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// waitForCaller answers every call only when the caller's context ends,
// with the status gRPC gives a context error.
type waitForCaller struct{ pb.LeaderElectionServiceClient }

func (waitForCaller) TryAcquireLock(ctx context.Context, _ *pb.TryAcquireLockRequest, _ ...grpc.CallOption) (*pb.TryAcquireLockResponse, error) {
	<-ctx.Done()
	return nil, status.FromContextError(ctx.Err()).Err()
}

// A call whose context was cancelled because its deadline came (the
// cause is context.DeadlineExceeded, as the client's shared call contexts
// do it) timed out, and says so: callers and health checks read the code.
// A context cancelled for any other reason stays a cancellation.
func TestCancelledAtItsDeadlineIsATimeout(t *testing.T) {
	tr := newTransport(t, waitForCaller{}, 10*time.Second)
	for _, c := range []struct {
		cause error
		want  codes.Code
	}{
		{context.DeadlineExceeded, codes.DeadlineExceeded},
		{context.Canceled, codes.Canceled},
	} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(c.cause)
		r := tr.TryAcquire(ctx, time.Time{})
		if r.Event != fsm.Failed || status.Code(r.Err) != c.want {
			t.Errorf("cancelled with cause %v: %v, code %v; want failed with %v", c.cause, r.Event, status.Code(r.Err), c.want)
		}
	}
}
