package client

import "slices"

// turns makes an election's calls leave one at a time, in the order they
// were started, so that a release never overtakes the acquisition before
// it, nor the reverse. Only a call that must wait gets a channel.
type turns struct {
	busy  bool
	queue []chan struct{}
}

// join returns nil when the caller has the turn now, else a channel closed
// when the turn is given to it. A caller that stops waiting calls quit.
func (t *turns) join() chan struct{} {
	if !t.busy {
		t.busy = true
		return nil
	}
	ch := make(chan struct{})
	t.queue = append(t.queue, ch)
	return ch
}

// quit gives up the place join returned, unless the turn came meanwhile:
// then it reports that the caller holds it, and must pass it on.
func (t *turns) quit(ch chan struct{}) (holds bool) {
	if i := slices.Index(t.queue, ch); i >= 0 {
		t.queue = slices.Delete(t.queue, i, i+1)
		return false
	}
	return true
}

func (t *turns) pass() {
	if len(t.queue) == 0 {
		t.busy = false
		return
	}
	next := t.queue[0]
	t.queue = slices.Delete(t.queue, 0, 1)
	close(next)
}
