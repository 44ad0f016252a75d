package client

import "context"

// WatchBuffer is how many transitions a Watch channel holds for a reader
// that has fallen behind.
const WatchBuffer = 64

// watcher is one Watch channel, owned by the loop: only the loop sends on
// it and closes it.
type watcher struct {
	ch   chan Transition
	stop func() bool // unregisters the context's AfterFunc
}

type (
	watchRequest struct {
		ctx   context.Context
		w     *watcher
		reply chan error
	}
	unwatchRequest struct{ w *watcher }
)

// Watch returns a channel that receives the client's transitions from now
// on, in order. The channel is closed when ctx ends or once the client has
// closed (after the transition to closed). Watch never blocks the machine:
// when a reader falls more than WatchBuffer transitions behind, the oldest
// undelivered ones are dropped, so a slow reader can miss intermediate
// transitions but always receives the most recent one. Use
// WithTransitionHook to see every transition without loss. After Close,
// Watch returns a closed channel.
func (q *QuorumQuestClient) Watch(ctx context.Context) <-chan Transition {
	w := &watcher{ch: make(chan Transition, WatchBuffer)}
	reply := make(chan error, 1)
	if err := q.submit(ctx, watchRequest{ctx: ctx, w: w, reply: reply}); err != nil {
		close(w.ch)
		return w.ch
	}
	<-reply
	return w.ch
}

func (l *loop) watch(r watchRequest) {
	l.watchers[r.w] = struct{}{}
	r.w.stop = context.AfterFunc(r.ctx, func() {
		_ = l.c.submit(context.Background(), unwatchRequest{w: r.w})
	})
	r.reply <- nil
}

func (l *loop) unwatch(w *watcher) {
	if _, ok := l.watchers[w]; !ok {
		return
	}
	delete(l.watchers, w)
	w.stop()
	close(w.ch)
}

// send delivers t without ever blocking: when the buffer is full it drops
// the oldest transition to make room. Only the loop sends, so after one
// receive there is room.
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
