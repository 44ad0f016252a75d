package outage

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// judgeWindow counts changes of leader, runs that ended and the time with
// no run, inside the window only.
func TestJudgeWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	runs := []run{
		{id: "a", from: at(0), to: at(1500)},                   // the leader, ends inside
		{id: "a", from: at(1600), to: at(2000)},                // back: not a change, ends inside
		{id: "b", from: at(2300), to: at(4000)},                // a change
		{id: "c", from: at(4000), to: at(9000), ongoing: true}, // a change, past the window
		{id: "b", from: at(200), to: at(900)},                  // starts inside while a leads: a change
	}
	slices.SortFunc(runs, func(x, y run) int { return x.from.Compare(y.from) })
	changes, ended, leaderless := judgeWindow(runs, "a", at(1000), at(5000))
	if changes != 2 || ended != 3 || leaderless != 400*time.Millisecond {
		t.Fatalf("changes %d, ended %d, leaderless %v; want 2, 3, 400ms", changes, ended, leaderless)
	}
	// Nobody leads at all: the whole window is leaderless.
	if c, e, l := judgeWindow(nil, "a", at(0), at(1000)); c != 0 || e != 0 || l != time.Second {
		t.Fatalf("no runs: %d, %d, %v", c, e, l)
	}
}

func TestPrimary(t *testing.T) {
	if got := primary([]int{0, 2}, []int{5, 0, 1}, []int{7, 9, 6}); got != 2 {
		t.Fatalf("primary %d; want 2, which answered 5 calls to 0's 2", got)
	}
	if got := primary([]int{1, 2}, []int{0, 0, 0}, []int{0, 3, 3}); got != 1 {
		t.Fatalf("primary %d on a tie; want the lowest, 1", got)
	}
	if got := primary(nil, nil, nil); got != -1 {
		t.Fatalf("primary of no server %d; want -1", got)
	}
}

func TestRunFleetRefusesBadConfig(t *testing.T) {
	cfg := shortFleet(Vanish)
	cfg.Fault = "meteor"
	if _, err := RunFleet(context.Background(), cfg); !errors.Is(err, ErrConfig) {
		t.Fatalf("unknown fault: %v", err)
	}
	cfg = shortFleet(Vanish)
	cfg.Servers = 0
	if _, err := RunFleet(context.Background(), cfg); !errors.Is(err, ErrConfig) {
		t.Fatalf("no server: %v", err)
	}
}

// shortFleet is a trial short enough for make test: TTL 2 s, a vanished
// server silent for 2 s, a rolling restart 1 s apart.
func shortFleet(f FleetFault) FleetConfig {
	return FleetConfig{
		Fault: f, TTL: 2 * time.Second, Servers: 3, Candidates: 3,
		Rotation: 2 * time.Second, Down: 300 * time.Millisecond, RollEvery: time.Second,
		Steady: 2 * time.Second, Settle: 2 * time.Second, Limit: 30 * time.Second,
	}
}

// A fleet trial finds the server carrying the leader's connection and
// strikes it (every server in turn for a rolling restart), measures the
// steady state's renewals as both sides saw them, and judges safety on
// the store's record. Whether leadership survives is the figure the
// command prints, not asserted here: today's client loses it when its
// server vanishes (issue 18).
func TestRunFleet(t *testing.T) {
	for _, f := range []FleetFault{Vanish, Rolling} {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			res, err := RunFleet(context.Background(), shortFleet(f))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", res)
			for _, v := range res.Violations {
				t.Errorf("safety: %s", v)
			}
			switch {
			case f == Rolling && res.Server != -1:
				t.Errorf("a rolling restart struck server %d; it strikes them all", res.Server)
			case f != Rolling && !slices.Contains(res.LeaderServers, res.Server):
				t.Errorf("struck server %d; the leader's connections reached %v", res.Server, res.LeaderServers)
			}
			// A renewal in flight at the steady state's start or end may
			// fall on either side of it: the three counts need not agree.
			if res.SteadyRenewals == 0 || res.SteadyCalls == 0 || res.SteadySent == 0 {
				t.Errorf("steady state: %d renewals, %d calls answered, %d sent; want some of each", res.SteadyRenewals, res.SteadyCalls, res.SteadySent)
			}
			if res.LongestRenewal <= 0 && res.Changes == 0 {
				t.Errorf("no renewal seen in the window")
			}
		})
	}
}
