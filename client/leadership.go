package client

import "context"

// leadership returns a context that is cancelled the moment this client's
// leadership ends (lost, released or closed) or when parent ends. If the
// client does not lead, the context is already cancelled. Its cause
// (context.Cause) matches ErrNotLeader and wraps the reason leadership ended.
func (e *election) leadership(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	e.mu.lock()
	defer e.mu.unlock()
	switch {
	case e.closed:
		cancel(ErrClosed)
	case e.isLeader():
		e.observersLocked().leadUntilEnd(cancel)
	default:
		cancel(ErrNotLeader)
	}
	return ctx, func() { cancel(context.Canceled) }
}
