package fsm

import (
	"errors"
	"testing"
)

// FuzzMachine feeds arbitrary event sequences to the machine: it never
// panics, every refused event leaves the state as it was, every accepted one
// follows the table, and nothing leaves Closed.
func FuzzMachine(f *testing.F) {
	f.Add([]byte{0, 2, 1, 2, 6, 7})
	f.Add([]byte{0, 4, 0, 2, 5, 0, 3})
	f.Add([]byte{7, 0, 1, 2, 3, 4, 5, 6})
	events := Events()
	f.Fuzz(func(t *testing.T, seq []byte) {
		m := New()
		for _, b := range seq {
			e := events[int(b)%len(events)]
			from := m.State()
			want, defined := next(from, e)
			ch, err := m.Fire(e, nil)
			switch {
			case defined && err != nil:
				t.Fatalf("%s in %s: %v", e, from, err)
			case defined && (m.State() != want || ch.From != from || ch.To != want):
				t.Fatalf("%s in %s: now %s, change %+v; table says %s", e, from, m.State(), ch, want)
			case !defined && (!errors.Is(err, ErrInvalidTransition) || m.State() != from):
				t.Fatalf("%s in %s: err %v, now %s", e, from, err, m.State())
			}
			if from == Closed && m.State() != Closed {
				t.Fatalf("left closed by %s", e)
			}
		}
	})
}
