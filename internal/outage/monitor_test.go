package outage

import (
	"testing"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
)

// The safety check must be able to fail: overlapping tenures, and runs of
// leadership the server's record does not hold, are reported.
func TestCheckFindsViolations(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	ten := func(id string, from, to int) qqtest.Tenure {
		return qqtest.Tenure{ClientID: id, Start: at(from), End: at(to), Ended: true}
	}
	leads := func(id string, from, to int) run {
		return run{id: id, from: at(from), firstAfter: at(from), lastBefore: at(to), to: at(to)}
	}
	history := []qqtest.Tenure{ten("a", 0, 1000), ten("b", 1000, 2000)}
	if v := check(history, []run{leads("a", 10, 990), leads("b", 1001, 1999)}); len(v) != 0 {
		t.Fatalf("violations in a safe history: %v", v)
	}
	for name, tc := range map[string]struct {
		history []qqtest.Tenure
		runs    []run
	}{
		"overlapping tenures":       {[]qqtest.Tenure{ten("a", 0, 1000), ten("b", 999, 2000)}, nil},
		"leading past its tenure":   {history, []run{leads("a", 10, 1001)}},
		"leading before its tenure": {history, []run{leads("b", 999, 1500)}},
		"leading without a tenure":  {history, []run{leads("c", 10, 20)}},
		"leading across a lapse":    {[]qqtest.Tenure{ten("a", 0, 1000), ten("a", 1500, 2000)}, []run{leads("a", 10, 1600)}},
	} {
		if v := check(tc.history, tc.runs); len(v) == 0 {
			t.Errorf("%s: not reported", name)
		}
	}
}

func TestMovesFindsChangesOfLeadership(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	m := &monitor{closed: []run{
		{id: "a", from: at(0), to: at(500)},
		{id: "b", from: at(600), to: at(900), ongoing: true},
	}}
	if got := m.moves(at(0), at(1000)); len(got) != 2 {
		t.Fatalf("moves %v; want a stopping and b starting", got)
	}
	m = &monitor{closed: []run{{id: "a", from: at(0), to: at(999), ongoing: true}}}
	if got := m.moves(at(0), at(1000)); len(got) != 0 {
		t.Fatalf("moves %v for leadership that stayed put", got)
	}
}
