package client

import "context"

// WatchBuffer is how many transitions a Watch channel holds for a reader
// that has fallen behind.
const WatchBuffer = 64

// Watch returns a channel that receives the client's transitions from now
// on, in order. The channel is closed when ctx ends or once the client has
// closed (after the transition to closed). Watch never blocks the machine:
// when a reader falls more than WatchBuffer transitions behind, the oldest
// undelivered ones are dropped, so a slow reader can miss intermediate
// transitions but always receives the most recent one. Use
// WithTransitionHook to see every transition without loss. After Close,
// and for a nil ctx (a bad argument, with no error to report it by), Watch
// returns a closed channel; so it does on a client not made by
// NewQuorumQuestClient.
func (q *QuorumQuestClient) Watch(ctx context.Context) <-chan Transition {
	if q.unmade() {
		ch := make(chan Transition)
		close(ch)
		return ch
	}
	return q.e.watch(ctx)
}

// watch serves Watch.
func (e *election) watch(ctx context.Context) <-chan Transition {
	w := &watcher{ch: make(chan Transition, WatchBuffer)}
	e.mu.lock()
	defer e.mu.unlock()
	if e.closed || ctx == nil {
		close(w.ch)
		return w.ch
	}
	o := e.observersLocked()
	o.watch(w)
	w.stop = e.bg.afterFunc(ctx, func() {
		e.mu.lock()
		defer e.mu.unlock()
		o.unwatch(w)
	})
	return w.ch
}
