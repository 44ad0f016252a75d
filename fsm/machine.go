package fsm

import (
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
// looplab/fsm holds the state and decides every transition: Fire asks it
// whether the event is defined in the current state (Can) and moves it to
// the table's destination (SetState), the destination its Event would
// choose, from the table the instance was built from
// (TestLooplabAgreesWithTheTable). Fire does not call Event, which wedges
// for good should its context end midway.
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
func (m *Machine) Can(e Event) bool { return m.inner.Can(string(e)) }

// Fire applies event e, recording cause as the reason for the transition.
// It returns the transition made, or a *TransitionError when e is not
// defined in the current state; the machine is unchanged then.
func (m *Machine) Fire(e Event, cause error) (Change, error) {
	from := m.State()
	to, ok := next(from, e)
	if !m.inner.Can(string(e)) || !ok {
		return Change{}, &TransitionError{State: from, Event: e}
	}
	m.inner.SetState(string(to))
	return Change{From: from, To: to, Event: e, Cause: cause}, nil
}
