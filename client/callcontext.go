package client

import (
	"context"
	"time"
)

// The contexts of TryAcquireLock and KeepAlive calls.
//
// A call needs a context that ends at its deadline, when it is abandoned
// (released, expired, closed, keep-alive stopped) and when the caller's
// context ends. context.WithDeadline gives each call the first, and a
// second layer the others; together, with gRPC registering its own context
// under them, that was 14 allocations and two timers per call, half of
// the client's cost over the bare stub (docs/performance.md). An
// election's calls never overlap (each waits for the one before it to
// return), so they share instead:
//
//   - scope, one long-lived cancellable context. gRPC registers each call's
//     context under it; the registration's map, once made, is reused. It
//     is replaced only after a call cancelled it.
//   - callTimer, one alarm (alarm.go), set by each call's deadline, that
//     cancels the scope at the deadline of the call being sent, with
//     context.DeadlineExceeded as the cause. It is moved only for a call
//     whose deadline comes before the one it is set for.
//   - callContext, which gives a call the scope's cancellation, its own
//     deadline (for the grpc-timeout header) and the caller's values.
//
// The caller's own cancellation reaches the scope through
// context.AfterFunc, at its cost, only when the caller's context can end
// at all, and never for keep-alive's renewals: the end of keep-alive's
// context calls stopKeepAlive, which cancels the renewal in flight itself.

// callContext is the context a call runs under.
type callContext struct {
	scope    context.Context // Done, Err and the cancellation gRPC registers under
	values   context.Context // the caller's context, for its values only
	deadline time.Time
}

func (c *callContext) Deadline() (time.Time, bool) { return c.deadline, true }
func (c *callContext) Done() <-chan struct{}       { return c.scope.Done() }
func (c *callContext) Err() error                  { return c.scope.Err() }

// Value looks in the scope first, which answers only for the context
// package's own key (so that gRPC's context is registered under the scope
// rather than watched by a goroutine of its own), then in the caller's.
func (c *callContext) Value(key any) any {
	if v := c.scope.Value(key); v != nil {
		return v
	}
	return c.values.Value(key)
}

// armCallLocked makes cl the call being sent and gives it its context: bounded by
// the request timeout, by before when not zero, and by ctx's deadline, and
// ended by ctx (for a renewal, by stopKeepAlive).
func (e *election) armCallLocked(cl *call, ctx context.Context, before time.Time) {
	if e.scope.Err() != nil { // an earlier call was cancelled
		e.scope, e.endScope = context.WithCancelCause(context.Background())
	}
	now := time.Now()
	d := e.rpc.Deadline(now, before)
	cl.ctx = callContext{scope: e.scope, values: ctx, deadline: d}
	cl.due = d
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		// ctx's end reaches the call below, after ctx.Err is set, which
		// the timer could precede: the timer keeps the call's own deadline.
		cl.ctx.deadline = cd
	}
	e.sending = cl
	e.callTimer.setBy(d)
	if cl.cancelled {
		e.endScope(context.Canceled)
		return
	}
	if cl.renewal != nil || ctx.Done() == nil {
		return
	}
	if ctx.Err() != nil {
		e.endScope(context.Cause(ctx))
		return
	}
	cl.stopCaller = e.afterFuncLocked(ctx, func() {
		e.mu.Lock()
		defer e.unlock()
		if e.sending == cl {
			e.endScope(context.Cause(ctx))
		}
	})
}

// disarmCallLocked is called once cl's call has returned.
func (e *election) disarmCallLocked(cl *call) {
	if cl.stopCaller != nil {
		cl.stopCaller()
	}
	// callLocked gives the turn away and disarms under one hold of e.mu, so
	// no later call can have been armed yet: sending is cl. The alarm is
	// left set: the next call is likely to need it by then.
	e.sending = nil
}

// cancelCallLocked cancels cl, whether it is being sent or still waits for its
// turn.
func (e *election) cancelCallLocked(cl *call, cause error) {
	if e.sending == cl {
		e.endScope(cause)
	} else if !cl.cancelled {
		cl.cancelled = true
		if cl.wake != nil {
			close(cl.wake)
		}
	}
}

// callTimedOut runs on the call timer's goroutine.
func (e *election) callTimedOut() {
	e.callbackStarted()
	e.mu.Lock()
	defer e.alarmDone(e.callTimer.fired()) // after the unlock
	defer e.unlock()
	cl := e.sending
	switch {
	case cl == nil: // set for a call that has returned
	case time.Now().Before(cl.due):
		e.callTimer.setBy(cl.due) // set for an earlier call
	default:
		e.endScope(context.DeadlineExceeded)
	}
}
