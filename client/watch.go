package client

import "context"

// WatchBuffer is how many transitions a Watch channel holds for a reader
// that has fallen behind.
const WatchBuffer = 64

// Watch returns a channel that receives the client's transitions from now
// on, in order, closed when ctx ends or after the transition to closed. It
// never blocks the machine: a reader more than WatchBuffer transitions
// behind loses the oldest, but always receives the latest (WithTransitionHook
// loses none). After Close, for a nil ctx or on a client not made by
// NewQuorumQuestClient, the channel is closed at once.
func (q *QuorumQuestClient) Watch(ctx context.Context) <-chan Transition {
	if q.unmade() {
		ch := make(chan Transition)
		close(ch)
		return ch
	}
	return q.e.watch(ctx)
}

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
