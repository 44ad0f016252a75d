package fsm

import (
	"context"
	"errors"
	"fmt"

	looplab "github.com/looplab/fsm"
)

// Change is one transition the machine made, and the error that caused it,
// if any (a failed call, a refused renewal).
type Change struct {
	From  State
	To    State
	Event Event
	Cause error
}

// Machine is the election machine: a looplab/fsm instance built from the
// transition table. It must be owned by a single goroutine.
//
// Every transition goes through looplab/fsm's Event, which checks it
// against the table the instance was built from and moves its state. The
// instance has no callbacks: Event looks callbacks up in a map up to eight
// times per transition, which costs a string hash each when the map holds
// anything and nothing when it is empty, and an Event that returns nil has
// made the transition anyway (nothing can cancel or defer it), so the
// change is known without one. Nor does Fire pass Event any arguments,
// which would cost a slice per transition. (docs/performance.md measures
// both.)
type Machine struct {
	inner *looplab.FSM
}

// New returns a machine in state Follower.
func New() *Machine {
	descs := make([]looplab.EventDesc, 0, len(rules))
	for _, r := range rules {
		descs = append(descs, looplab.EventDesc{Name: string(r.Event), Src: []string{string(r.From)}, Dst: string(r.To)})
	}
	return &Machine{inner: looplab.NewFSM(string(Follower), descs, nil)}
}

// State returns the current state.
func (m *Machine) State() State { return State(m.inner.Current()) }

// Can reports whether event e is defined in the current state.
func (m *Machine) Can(e Event) bool {
	_, ok := next(m.State(), e)
	return ok
}

// Fire applies event e, recording cause as the reason for the transition.
// It returns the transition made, or a *TransitionError when e is not
// defined in the current state; the machine is unchanged then.
func (m *Machine) Fire(e Event, cause error) (Change, error) {
	from := m.State()
	to, ok := next(from, e)
	if !ok {
		return Change{}, &TransitionError{State: from, Event: e}
	}
	// A background context: looplab/fsm wedges for good if the context it is
	// given is cancelled during Event.
	if err := m.inner.Event(context.Background(), string(e)); err != nil {
		// The table has no self-transitions (which looplab/fsm reports as a
		// NoTransitionError with a nil Err) and the machine no callback that
		// could cancel, so this is a broken invariant, reported rather than
		// hidden.
		if none, ok := errors.AsType[looplab.NoTransitionError](err); !ok || none.Err != nil {
			return Change{}, err
		}
	}
	if now := m.State(); now != to {
		return Change{}, fmt.Errorf("fsm: %s in %s led to %s, the table says %s", e, from, now, to)
	}
	return Change{From: from, To: to, Event: e, Cause: cause}, nil
}
