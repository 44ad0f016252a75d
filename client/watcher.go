package client

// watcher is one Watch channel. It is sent to and closed only with the
// election's mutex held, so a send never meets a closed channel.
type watcher struct {
	ch   chan Transition
	stop func() bool // unregisters the callback that ends the watch with its context
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
