package checker

import (
	"context"

	"google.golang.org/grpc/status"
)

// contextStatus is the error a gRPC stub returns when ctx ends before the
// answer: DeadlineExceeded or Canceled.
func contextStatus(ctx context.Context) error {
	return status.FromContextError(ctx.Err()).Err()
}
