package client

import "slices"

// turns makes an election's calls leave one at a time, in the order they
// were started, so that the server sees them in the order the client made
// them: a release can never overtake the acquisition before it, nor the
// reverse. It is guarded by the election's mutex.
//
// A call that finds no other out takes its turn without allocating
// anything; only a call that must wait gets a channel. (A channel per call,
// closed when it returned, was one allocation per call;
// docs/performance.md.)
type turns struct {
	busy  bool            // a call has the turn
	queue []chan struct{} // the calls waiting, in order
}

// join asks for the turn. It returns nil when the caller has it now;
// otherwise a channel that is closed when the turn is given to the caller.
// A caller that stops waiting calls quit.
func (t *turns) join() chan struct{} {
	if !t.busy {
		t.busy = true
		return nil
	}
	ch := make(chan struct{})
	t.queue = append(t.queue, ch)
	return ch
}

// quit gives up the place that join returned, if the turn has not been
// given to it meanwhile. It reports whether the caller holds the turn (and
// must then call pass).
func (t *turns) quit(ch chan struct{}) (holds bool) {
	if i := slices.Index(t.queue, ch); i >= 0 {
		t.queue = slices.Delete(t.queue, i, i+1)
		return false
	}
	return true
}

// pass ends the caller's turn and gives it to the next call in line.
func (t *turns) pass() {
	if len(t.queue) == 0 {
		t.busy = false
		return
	}
	next := t.queue[0]
	t.queue = slices.Delete(t.queue, 0, 1)
	close(next)
}
