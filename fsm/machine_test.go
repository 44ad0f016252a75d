package fsm

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
)

// paths are hand-written walks through the machine, each event with the
// state it must lead to. Together they must drive every rule of the table:
// TestEveryRuleIsDriven fails when a rule is added without a walk through it.
var paths = []struct {
	name  string
	steps []struct {
		event Event
		want  State
	}
}{
	{"acquire denied", steps(Acquire, Acquiring, Denied, Follower)},
	{"acquire failed", steps(Acquire, Acquiring, Failed, Follower)},
	{"lead, renew, release", steps(Acquire, Acquiring, Granted, Leader, Refresh, Refreshing, Granted, Leader, Release, Follower)},
	{"renewal fails then lease expires", steps(Acquire, Acquiring, Granted, Leader, Refresh, Refreshing, Failed, Leader, Expire, Lost, Acquire, Acquiring, Granted, Leader)},
	{"renewal refused", steps(Acquire, Acquiring, Granted, Leader, Refresh, Refreshing, Denied, Lost, Release, Follower)},
	{"expire during renewal", steps(Acquire, Acquiring, Granted, Leader, Refresh, Refreshing, Expire, Lost, Close, Closed)},
	{"renew by TryAcquireLock", steps(Acquire, Acquiring, Granted, Leader, Acquire, Refreshing, Release, Follower, Close, Closed)},
	{"release while acquiring", steps(Acquire, Acquiring, Release, Follower)},
	{"close while acquiring", steps(Acquire, Acquiring, Close, Closed)},
	{"close while leading", steps(Acquire, Acquiring, Granted, Leader, Close, Closed)},
	{"close while refreshing", steps(Acquire, Acquiring, Granted, Leader, Refresh, Refreshing, Close, Closed)},
	{"close lost", steps(Acquire, Acquiring, Granted, Leader, Expire, Lost, Close, Closed)},
}

func steps(pairs ...any) []struct {
	event Event
	want  State
} {
	out := make([]struct {
		event Event
		want  State
	}, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, struct {
			event Event
			want  State
		}{pairs[i].(Event), pairs[i+1].(State)})
	}
	return out
}

func TestPaths(t *testing.T) {
	for _, p := range paths {
		t.Run(p.name, func(t *testing.T) {
			m := New()
			for i, s := range p.steps {
				from := m.State()
				ch, err := m.Fire(s.event, nil)
				if err != nil {
					t.Fatalf("step %d: %s in %s: %v", i, s.event, from, err)
				}
				if m.State() != s.want || ch.To != s.want || ch.From != from || ch.Event != s.event {
					t.Fatalf("step %d: %s from %s: state %s, change %+v; want %s", i, s.event, from, m.State(), ch, s.want)
				}
			}
		})
	}
}

func TestEveryRuleIsDriven(t *testing.T) {
	driven := map[Rule]bool{}
	for _, p := range paths {
		from := Follower
		for _, s := range p.steps {
			for _, r := range Rules() {
				if r.From == from && r.Event == s.event && r.To == s.want {
					driven[r] = true
				}
			}
			from = s.want
		}
	}
	for _, r := range Rules() {
		if !driven[r] {
			t.Errorf("no test path drives %s --%s--> %s", r.From, r.Event, r.To)
		}
	}
}

func TestUndefinedEventsAreRefusedAndChangeNothing(t *testing.T) {
	for _, s := range States() {
		for _, e := range Events() {
			if _, ok := next(s, e); ok {
				continue
			}
			m := New()
			m.inner.SetState(string(s))
			_, err := m.Fire(e, nil)
			var te *TransitionError
			if !errors.Is(err, ErrInvalidTransition) || !errors.As(err, &te) || te.State != s || te.Event != e {
				t.Errorf("%s in %s: err %v, want a TransitionError", e, s, err)
			}
			if m.State() != s {
				t.Errorf("%s in %s moved the machine to %s", e, s, m.State())
			}
		}
	}
}

func TestClosedIsTerminal(t *testing.T) {
	for _, r := range Rules() {
		if r.From == Closed {
			t.Errorf("rule leaves the closed state: %+v", r)
		}
	}
	for _, s := range States() {
		if s == Closed {
			continue
		}
		if _, ok := next(s, Close); !ok {
			t.Errorf("state %s cannot be closed", s)
		}
	}
}

// Fire takes the decision from looplab/fsm (Can) and the destination from
// the table: the two must be the answers looplab's own Event gives, for
// every state and event, defined or not.
func TestLooplabAgreesWithTheTable(t *testing.T) {
	for _, s := range States() {
		for _, e := range Events() {
			to, defined := next(s, e)
			m := New()
			m.inner.SetState(string(s))
			if can := m.inner.Can(string(e)); can != defined {
				t.Errorf("%s in %s: looplab/fsm's Can says %v, the table %v", e, s, can, defined)
			}
			err := m.inner.Event(context.Background(), string(e))
			switch {
			case defined && (err != nil || m.State() != to):
				t.Errorf("%s in %s: looplab/fsm's Event led to %s (err %v), the table says %s", e, s, m.State(), err, to)
			case !defined && err == nil:
				t.Errorf("%s in %s: looplab/fsm's Event accepted an event the table does not define", e, s)
			}
			m.inner.SetState(string(s))
			ch, err := m.Fire(e, nil)
			if defined && (err != nil || ch.To != to || m.State() != to) {
				t.Errorf("%s in %s: Fire made %+v (err %v, state %s), the table says %s", e, s, ch, err, m.State(), to)
			}
		}
	}
}

// Should the table ever get a rule from a state to itself, Fire applies it
// as a change like any other (looplab/fsm's Event would answer it with a
// NoTransitionError whose Err is nil, a success).
func TestSelfTransitionIsAChange(t *testing.T) {
	self := Rule{Leader, Refresh, Leader, "test only"}
	saved := rules
	rules = append(append([]Rule(nil), saved...), self)
	t.Cleanup(func() { rules = saved })
	// Leader --refresh--> Refreshing comes first in the table: drop it so
	// that the self-transition is the rule for refresh in leader.
	for i, r := range rules {
		if r.From == Leader && r.Event == Refresh && r.To == Refreshing {
			rules = append(rules[:i:i], rules[i+1:]...)
			break
		}
	}
	m := New()
	for _, e := range []Event{Acquire, Granted} {
		if _, err := m.Fire(e, nil); err != nil {
			t.Fatal(err)
		}
	}
	cause := errors.New("why")
	ch, err := m.Fire(Refresh, cause)
	if err != nil || ch != (Change{From: Leader, To: Leader, Event: Refresh, Cause: cause}) || m.State() != Leader {
		t.Fatalf("self-transition: change %+v, err %v, state %s; want a change from leader to leader", ch, err, m.State())
	}
}

func TestChangeCarriesCause(t *testing.T) {
	m := New()
	cause := errors.New("unavailable")
	if _, err := m.Fire(Acquire, nil); err != nil {
		t.Fatal(err)
	}
	ch, err := m.Fire(Failed, cause)
	if err != nil || !errors.Is(ch.Cause, cause) {
		t.Fatalf("change %+v, err %v: want cause %v", ch, err, cause)
	}
}

func TestLeading(t *testing.T) {
	want := map[State]bool{Leader: true, Refreshing: true}
	for _, s := range States() {
		if s.Leading() != want[s] {
			t.Errorf("%s.Leading() = %v", s, s.Leading())
		}
	}
}

func TestDiagramIsCheckedIn(t *testing.T) {
	got, err := os.ReadFile("../docs/state-diagram.md")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != Diagram() {
		t.Fatal("docs/state-diagram.md differs from fsm.Diagram(): run `make diagram` and commit it")
	}
}

func TestDiagramNamesEveryRule(t *testing.T) {
	d := Diagram()
	for _, r := range Rules() {
		line := "    " + string(r.From) + " --> " + string(r.To) + ": " + string(r.Event) + "\n"
		row := "| " + string(r.From) + " | " + string(r.Event) + " | " + string(r.To) + " | " + r.Meaning + " |\n"
		if !strings.Contains(d, line) || !strings.Contains(d, row) {
			t.Errorf("diagram lacks %+v", r)
		}
	}
}
