package checker

import (
	"slices"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
)

// A seed always draws the same plan, and plans keep to the assumptions
// docs/safety.md states: one server-wide episode at a time, all within the
// fault phase; clock jumps of at most MaxClockJump, more than a lease apart,
// and many of exactly MaxClockJump; candidates that release, close and Run.
func TestPlanIsDeterministicAndWithinAssumptions(t *testing.T) {
	cfg := SafetyConfig{}.WithDefaults()
	if cfg.MaxClockJump != 120*time.Millisecond {
		t.Fatalf("MaxClockJump defaults to %v; want the client's 1%% of 2s plus 100ms", cfg.MaxClockJump)
	}
	differ, edgeJumps, runs, releasing, closing := 0, 0, 0, 0, 0
	for seed := uint64(1); seed <= 500; seed++ {
		a, b := newPlan(seed, cfg), newPlan(seed, cfg)
		if a.candidates != b.candidates || a.calls != b.calls || len(a.events) != len(b.events) ||
			!slices.Equal(a.behaviours, b.behaviours) || len(a.behaviours) != a.candidates {
			t.Fatalf("seed %d: two draws differ: %+v / %+v", seed, a, b)
		}
		for i := range a.events {
			if a.events[i].at != b.events[i].at || a.events[i].what != b.events[i].what || a.events[i].slot != b.events[i].slot {
				t.Fatalf("seed %d: event %d differs: %+v / %+v", seed, i, a.events[i], b.events[i])
			}
		}
		if c := newPlan(seed+1, cfg); c.candidates != a.candidates || len(c.events) != len(a.events) {
			differ++
		}
		if a.candidates < cfg.MinCandidates || a.candidates > cfg.MaxCandidates {
			t.Fatalf("seed %d: %d candidates", seed, a.candidates)
		}

		var busyUntil, lastJump time.Duration = -1, -time.Hour
		for _, e := range a.events {
			if e.at < 0 || e.at > cfg.FaultPhase {
				t.Fatalf("seed %d: %s at %v, outside the fault phase", seed, e.what, e.at)
			}
			switch e.what {
			case "pause", "restart":
				if e.at < busyUntil {
					t.Fatalf("seed %d: %s at %v overlaps an episode until %v", seed, e.what, e.at, busyUntil)
				}
				busyUntil = e.at + e.slot
				if busyUntil >= cfg.FaultPhase {
					t.Fatalf("seed %d: %s until %v outlasts the fault phase", seed, e.what, busyUntil)
				}
			case "resume":
				busyUntil = e.at
			case "jump":
				if e.slot <= 0 || e.slot > cfg.MaxClockJump || e.at-lastJump <= cfg.serverTTL() {
					t.Fatalf("seed %d: jump of %v at %v, %v after the last", seed, e.slot, e.at, e.at-lastJump)
				}
				lastJump = e.at
				if e.slot == cfg.MaxClockJump {
					edgeJumps++
				}
			}
		}
		for _, b := range a.behaviours {
			if b.run {
				runs++
			}
			if b.release > 0 {
				releasing++
			}
			if b.close > 0 {
				closing++
			}
		}
	}
	if edgeJumps < 200 || runs < 200 || releasing < 200 || closing < 200 {
		t.Fatalf("in 500 plans: %d jumps of exactly MaxClockJump, %d candidates that Run, %d that release, %d that close", edgeJumps, runs, releasing, closing)
	}
	if differ < 250 {
		t.Fatalf("only %d of 500 consecutive seeds draw different plans", differ)
	}
}

// The fault function decides by (seed, client, method, call number), not by
// the order calls happen to arrive in.
func TestCallFaultsIgnoreArrivalOrder(t *testing.T) {
	cfg := SafetyConfig{}.WithDefaults()
	var seed uint64
	for seed = 1; ; seed++ { // a plan with every kind of call fault
		p := newPlan(seed, cfg).calls
		if p.delay > 0.1 && p.err > 0.05 && p.dropRequest > 0.03 && p.dropResponse > 0.03 {
			break
		}
	}
	calls := []qqtest.Call{
		{Method: qqtest.MethodTryAcquireLock, ClientID: "a"}, {Method: qqtest.MethodKeepAlive, ClientID: "a"},
		{Method: qqtest.MethodTryAcquireLock, ClientID: "b"}, {Method: qqtest.MethodTryAcquireLock, ClientID: "c"},
	}
	decide := func(order []int) map[qqtest.Call][]qqtest.Fault {
		r := newRun(seed, cfg)
		out := map[qqtest.Call][]qqtest.Fault{}
		for range 50 {
			for _, i := range order {
				out[calls[i]] = append(out[calls[i]], r.callFault(calls[i]))
			}
		}
		return out
	}
	a, b := decide([]int{0, 1, 2, 3}), decide([]int{3, 1, 2, 0})
	kinds := map[string]bool{}
	for c, fs := range a {
		for n, f := range fs {
			if f != b[c][n] {
				t.Fatalf("%+v call %d: %+v in one order, %+v in another", c, n, f, b[c][n])
			}
			kinds["delay"] = kinds["delay"] || f.Delay > 0
			kinds["code"] = kinds["code"] || f.Code != 0
			kinds["drop request"] = kinds["drop request"] || f.DropRequest
			kinds["drop response"] = kinds["drop response"] || f.DropResponse
		}
	}
	if len(kinds) != 4 || !kinds["delay"] || !kinds["code"] || !kinds["drop request"] || !kinds["drop response"] {
		t.Fatalf("seed %d drew only %v in 200 calls", seed, kinds)
	}
}
