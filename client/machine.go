package client

import (
	"time"

	"github.com/quorum-quest/client-go/fsm"
)

// machine is the election's state machine, the snapshot it publishes for
// readers that take no lock, and the alarm that ends leadership by the
// lease's deadline. Methods but the readers need the election's mutex.
type machine struct {
	states *fsm.Machine
	snap   published
	expiry alarm
}

func (m *machine) init(expire func()) {
	m.states = fsm.New()
	m.snap.init(snapshot{state: StateFollower})
	m.expiry = newAlarm(expire)
}

func (m *machine) fire(ev fsm.Event, cause error) (fsm.Change, time.Time, error) {
	ch, err := m.states.Fire(ev, cause)
	if err != nil {
		return ch, time.Time{}, err
	}
	var deadline time.Time
	if ch.To.Leading() {
		deadline = m.snap.Load().deadline
	}
	m.snap.Store(snapshot{state: ch.To, deadline: deadline})
	return ch, deadline, nil
}

// grant publishes a granted lease's deadline, before Granted is fired.
func (m *machine) grant(d time.Time) {
	m.snap.Store(snapshot{state: m.states.State(), deadline: d})
	m.expiry.setBy(d)
}

func (m *machine) can(ev fsm.Event) bool { return m.states.Can(ev) }

func (m *machine) current() State { return m.states.State() }

// due reports whether the lease has run out, and sets the alarm again
// for a deadline renewed since it was set.
func (m *machine) due(now time.Time) bool {
	s := m.snap.Load()
	if !s.state.Leading() {
		return false
	}
	if now.Before(s.deadline) {
		m.expiry.setBy(s.deadline)
		return false
	}
	return true
}

// Readers check the deadline themselves: none sees a lease that has run
// out, even before the alarm has moved the machine to lost.

func (m *machine) leadingAt(now time.Time) bool {
	s := m.snap.Load()
	return s.state.Leading() && now.Before(s.deadline)
}

func (m *machine) remaining() time.Duration {
	s := m.snap.Load()
	if !s.state.Leading() {
		return 0
	}
	return max(time.Until(s.deadline), 0)
}

func (m *machine) state() State { return m.snap.Load().state }

func (m *machine) deadline() time.Time { return m.snap.Load().deadline }
