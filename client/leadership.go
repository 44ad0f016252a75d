package client

import (
	"context"
	"fmt"
)

// leadership returns a context that is cancelled the moment this client's
// leadership ends (lost, released or closed) or when parent ends. If the
// client does not lead, the context is already cancelled. Its cause
// (context.Cause) matches ErrNotLeader and wraps the reason leadership ended.
func (e *election) leadership(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	e.mu.Lock()
	defer e.unlock()
	switch {
	case e.closed:
		cancel(ErrClosed)
	case e.isLeader():
		e.leadershipEnds = append(e.leadershipEnds, cancel)
	default:
		cancel(ErrNotLeader)
	}
	return ctx, func() { cancel(context.Canceled) }
}

// endLeadershipLocked cancels every leadership context when leadership ends.
func (e *election) endLeadershipLocked(t Transition) {
	cause := fmt.Errorf("%w: %s -> %s on %s", ErrNotLeader, t.From, t.To, t.Event)
	if t.Err != nil {
		cause = fmt.Errorf("%w: %s -> %s on %s: %w", ErrNotLeader, t.From, t.To, t.Event, t.Err)
	}
	for _, cancel := range e.leadershipEnds {
		cancel(cause)
	}
	e.leadershipEnds = nil
}
