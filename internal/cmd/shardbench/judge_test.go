package main

import (
	"strings"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
)

// The never-two-owners verdict must fail on each thing it judges: two
// replicas leading one shard at once, a lead outside the server's
// tenures, and a lead that never ended.
func TestCheckFindsEachViolation(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	tenure := func(client string, from, to float64) qqtest.Tenure {
		return qqtest.Tenure{Service: service, Domain: domain + "/7", ClientID: client, Start: at(from), End: at(to), Ended: true}
	}
	history := []qqtest.Tenure{tenure("a", 0, 10), tenure("b", 10, 20)}
	cases := []struct {
		name  string
		leads []*lead
		want  string // "" for no violation
	}{
		{"one after the other", []*lead{{"a", at(0.1), at(9)}, {"b", at(10.1), at(19)}}, ""},
		{"overlap", []*lead{{"a", at(0.1), at(10.5)}, {"b", at(10.1), at(19)}}, "led at once"},
		{"outside a tenure", []*lead{{"a", at(0.1), at(9)}, {"a", at(11), at(12)}}, "outside any tenure"},
		{"never ended", []*lead{{"a", at(0.1), time.Time{}}}, "never ended"},
	}
	for _, c := range cases {
		rec := &recorder{leads: map[int][]*lead{7: c.leads}}
		n, err := rec.check(history)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want an error saying %q", c.name, err, c.want)
		case n == 0:
			t.Errorf("%s: judged no lead", c.name)
		}
	}
}

func TestBalanced(t *testing.T) {
	live := []string{"a", "b", "c"}
	for _, c := range []struct {
		held map[string]int
		free int
		want bool
	}{
		{map[string]int{"a": 3334, "b": 3333, "c": 3333}, 0, true},
		{map[string]int{"a": 3335, "b": 3332, "c": 3333}, 0, false},
		{map[string]int{"a": 3334, "b": 3333, "c": 3332}, 1, false},
		{map[string]int{"a": 5000, "b": 5000}, 0, false},
	} {
		if got := balanced(c.held, c.free, 10000, live); got != c.want {
			t.Errorf("balanced(%v, %d free) = %v, want %v", c.held, c.free, got, c.want)
		}
	}
}
