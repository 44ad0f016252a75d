package client

import "context"

// WatchBuffer is how many transitions a Watch channel holds for a reader
// that has fallen behind.
const WatchBuffer = 64

// watcher is one Watch channel. It is sent to and closed only with the
// election's mutex held, so a send never meets a closed channel.
type watcher struct {
	ch   chan Transition
	stop func() bool // unregisters the context's AfterFunc
}

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
	e.mu.Lock()
	defer e.unlock()
	if e.closed || ctx == nil {
		close(w.ch)
		return w.ch
	}
	e.watchers[w] = struct{}{}
	w.stop = e.afterFuncLocked(ctx, func() {
		e.mu.Lock()
		defer e.unlock()
		e.unwatchLocked(w)
	})
	return w.ch
}

// unwatchLocked closes w's channel, once.
func (e *election) unwatchLocked(w *watcher) {
	if _, ok := e.watchers[w]; !ok {
		return
	}
	delete(e.watchers, w)
	w.stop()
	close(w.ch)
}

// send delivers t without ever blocking: when the buffer is full it drops
// the oldest transition to make room. Senders hold the election's mutex, so
// after one receive there is room.
func (w *watcher) send(t Transition) {
	select {
	case w.ch <- t:
		return
	default:
	}
	select {
	case <-w.ch:
	default:
	}
	select {
	case w.ch <- t:
	default:
	}
}
