package transport

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrNotHolder is the cause recorded when the server answers that the lock
// is not ours: TryAcquireLock returned false, or KeepAlive returned a lease
// that is not positive.
var ErrNotHolder = errors.New("the server says this client does not hold the lock")

// ErrLateGrant is the cause recorded when the server granted the lock but
// the answer arrived when the lease it granted had already run out
// locally. It counts as a failed call: the machine never leads on it.
var ErrLateGrant = errors.New("the grant arrived after its lease had run out")

// Permanent reports whether err is a failure that retrying the same call
// cannot fix: the server does not offer the method, rejects the request or
// the caller's credentials. Everything else (unavailable, timed out,
// connection replaced, cancelled) may succeed on another attempt.
func Permanent(err error) bool {
	if err == nil {
		return false
	}
	switch status.Code(err) {
	case codes.Unimplemented, codes.InvalidArgument, codes.PermissionDenied,
		codes.Unauthenticated, codes.NotFound, codes.FailedPrecondition,
		codes.OutOfRange, codes.AlreadyExists, codes.DataLoss:
		return true
	}
	return false
}
