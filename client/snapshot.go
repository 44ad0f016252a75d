package client

import (
	"sync/atomic"
	"time"

	"github.com/quorum-quest/client-go/fsm"
)

// snapshot is what the election publishes after every transition: readers
// never touch the machine.
type snapshot struct {
	state    State
	deadline time.Time // local end of the lease; meaningful while leading
}

// published holds the latest snapshot in one atomic word, so that
// publishing costs no allocation: a pointer to a new snapshot per
// transition was two or three allocations per call (docs/performance.md).
//
// The word holds the state's index in its low bits and, above them, the
// deadline as nanoseconds after base plus one (0 for no deadline). base
// carries the monotonic clock reading, and so does every deadline rebuilt
// from it, so comparing one with time.Now() is immune to wall-clock jumps,
// as comparing the original would be. A deadline the word cannot hold
// (more than 36 years after base: TTLs go up to 68 years) is published
// behind the pointer instead, and the word only says so.
type published struct {
	base time.Time
	word atomic.Uint64
	far  atomic.Pointer[snapshot]
}

const (
	stateBits = 3
	farBit    = 1 << stateBits // the snapshot is behind far
	offShift  = stateBits + 1
	maxOff    = 1<<(64-offShift) - 1
)

// states indexes the states for the word; fsm has fewer than 1<<stateBits.
var states = fsm.States()

// init sets base and publishes s; it must come before any other use.
func (p *published) init(s snapshot) {
	p.base = time.Now()
	p.Store(s)
}

// Store publishes s. Only one goroutine at a time may store.
func (p *published) Store(s snapshot) {
	var off uint64
	if !s.deadline.IsZero() {
		// A deadline before base (none is: deadlines are computed from
		// calls made after it) is in the past either way.
		d := max(s.deadline.Sub(p.base), 0)
		if uint64(d) >= maxOff {
			// The pointer first: a reader that sees the flag finds it. A
			// copy, so that s itself does not escape (and is not allocated)
			// on every Store.
			far := s
			p.far.Store(&far)
			p.word.Store(farBit | stateIndex(s.state))
			return
		}
		off = uint64(d) + 1
	}
	p.word.Store(off<<offShift | stateIndex(s.state))
}

// Load returns the latest snapshot.
func (p *published) Load() snapshot {
	w := p.word.Load()
	if w&farBit != 0 {
		return *p.far.Load()
	}
	s := snapshot{state: states[w&(1<<stateBits-1)]}
	if off := w >> offShift; off != 0 {
		s.deadline = p.base.Add(time.Duration(off - 1))
	}
	return s
}
func stateIndex(s State) uint64 {
	for i, st := range states {
		if st == s {
			return uint64(i)
		}
	}
	panic("quorumquest: unknown state " + string(s)) // the machine has no other states
}
