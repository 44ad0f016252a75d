package fsm

import (
	"context"

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
type Machine struct {
	inner *looplab.FSM
	// cause is the reason Fire was given, kept here for the enter_state
	// callback rather than passed through looplab/fsm's untyped arguments.
	cause error
	// last is written by the enter_state callback, the one place looplab/fsm
	// tells us the transition completed.
	last Change
}

// New returns a machine in state Follower.
func New() *Machine {
	m := &Machine{}
	descs := make([]looplab.EventDesc, 0, len(rules))
	for _, r := range rules {
		descs = append(descs, looplab.EventDesc{Name: string(r.Event), Src: []string{string(r.From)}, Dst: string(r.To)})
	}
	m.inner = looplab.NewFSM(string(Follower), descs, looplab.Callbacks{
		"enter_state": func(_ context.Context, e *looplab.Event) {
			m.last = Change{From: State(e.Src), To: State(e.Dst), Event: Event(e.Event), Cause: m.cause}
		},
	})
	return m
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
	if _, ok := next(from, e); !ok {
		return Change{}, &TransitionError{State: from, Event: e}
	}
	m.cause = cause
	// A background context: looplab/fsm wedges for good if the context it is
	// given is cancelled during Event.
	if err := m.inner.Event(context.Background(), string(e)); err != nil {
		// The rule exists, no callback can cancel, and the table has no
		// self-transitions (looplab/fsm would answer one with a
		// NoTransitionError and skip enter_state, leaving last stale;
		// TestNoSelfTransitions keeps it so). An error here is a broken
		// invariant, reported rather than hidden.
		return Change{}, err
	}
	return m.last, nil
}
