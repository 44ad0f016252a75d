package client

import "testing"

// A call that stops waiting gives up its place, wherever it stands in
// line, the first place included: it must not believe it holds the turn
// (it would be sent beside the call that does), and the turn must pass
// over it to the next in line.
func TestLeavingTheLineGivesUpThePlace(t *testing.T) {
	var tr turns
	if tr.join() != nil {
		t.Fatal("the first call must hold the turn at once")
	}
	first, second := tr.join(), tr.join()
	if tr.quit(first) {
		t.Fatal("the first in line left and was told it held the turn, which was never given to it")
	}
	tr.pass()
	select {
	case <-second:
	default:
		t.Fatal("the turn did not pass to the next in line")
	}
	select {
	case <-first:
		t.Fatal("the turn was given to a call that had left the line")
	default:
	}
	if !tr.quit(second) {
		t.Fatal("a call given the turn was told it did not hold it")
	}
	tr.pass()
	if tr.busy || len(tr.queue) != 0 {
		t.Fatalf("turns not idle after the last call: busy %v, %d waiting", tr.busy, len(tr.queue))
	}
}
