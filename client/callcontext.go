package client

import "context"

// armCallLocked makes cl the call being sent and gives it its context: the
// caller's (its values, deadline and cancellation), which the election
// cancels when it abandons the call (released, expired, closed, keep-alive
// stopped). The transport bounds it by the request timeout and leaseEnd.
func (e *election) armCallLocked(cl *call, ctx context.Context) {
	cl.ctx, cl.cancel = context.WithCancelCause(ctx)
	e.sending = cl
	if cl.cancelled {
		cl.cancel(context.Canceled)
	}
}

// disarmCallLocked is called once cl's call has returned: it ends the
// call's context, which frees it.
func (e *election) disarmCallLocked(cl *call) {
	cl.cancel(context.Canceled)
	// callLocked gives the turn away and disarms under one hold of e.mu, so
	// no later call can have been armed yet: sending is cl.
	e.sending = nil
}

// cancelCallLocked cancels cl, whether it is being sent or still waits for
// its turn.
func (e *election) cancelCallLocked(cl *call, cause error) {
	if e.sending == cl {
		cl.cancel(cause)
	} else if !cl.cancelled {
		cl.cancelled = true
		if cl.wake != nil {
			close(cl.wake)
		}
	}
}
