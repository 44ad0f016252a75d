package client

import "context"

// The requests the public methods send to the loop. Each carries a reply
// channel with room for one answer, so the loop never blocks on a caller
// that stopped waiting.
type (
	acquireRequest struct {
		ctx   context.Context
		reply chan acquireReply
	}
	acquireReply struct {
		leading bool
		err     error
	}
	releaseRequest struct {
		ctx   context.Context
		reply chan error
	}
	startKeepAliveRequest struct {
		ctx   context.Context
		reply chan error
	}
	stopKeepAliveRequest struct{ reply chan error }
	closeRequest         struct{ reply chan error }
)
