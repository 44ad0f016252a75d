package shard

import "errors"

// Errors returned by New and Run; compare with errors.Is. Errors from the
// client options also match client.ErrInvalidConfig.
var (
	// ErrInvalidArgument: an argument or option of New or Run is unusable.
	ErrInvalidArgument = errors.New("shard: invalid argument")
	// ErrRunning: Run was called on a Set that already ran.
	ErrRunning = errors.New("shard: Run called twice")
	// ErrClosed: the Set is closed.
	ErrClosed = errors.New("shard: set is closed")
)
