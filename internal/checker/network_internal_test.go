package checker

import (
	"slices"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
)

// A seed always draws the same network plan, and plans keep to what
// docs/safety.md states: episodes one at a time, within the fault phase,
// each at most MaxEpisode long unless it is the last and lasts until the
// faults stop; restarts are server-wide; every kind and both scopes occur.
func TestNetPlanIsDeterministicAndBounded(t *testing.T) {
	cfg := NetConfig{}.WithDefaults()
	kinds := map[NetFault]int{}
	single, all, toEnd, holds := 0, 0, 0, 0
	for seed := uint64(1); seed <= 500; seed++ {
		a, b := newNetPlan(seed, cfg), newNetPlan(seed, cfg)
		if a.candidates != b.candidates || !slices.Equal(a.holds, b.holds) || !slices.Equal(a.episodes, b.episodes) {
			t.Fatalf("seed %d: two draws differ: %+v / %+v", seed, a, b)
		}
		if a.candidates < cfg.MinCandidates || a.candidates > cfg.MaxCandidates || len(a.holds) != a.candidates {
			t.Fatalf("seed %d: %d candidates, %d holds", seed, a.candidates, len(a.holds))
		}
		for _, h := range a.holds {
			if h > 0 {
				holds++
			}
		}
		prev := time.Duration(0)
		for i, e := range a.episodes {
			last := i == len(a.episodes)-1
			switch {
			case e.at < prev || e.until <= e.at || e.until > cfg.FaultPhase:
				t.Fatalf("seed %d: episode %v at %v..%v overlaps or leaves the fault phase (previous ended %v)", seed, e, e.at, e.until, prev)
			case e.until-e.at > cfg.MaxEpisode && !(last && e.until == cfg.FaultPhase):
				t.Fatalf("seed %d: episode %v longer than %v", seed, e, cfg.MaxEpisode)
			case e.kind == NetRestart && e.target != -1, e.target >= a.candidates:
				t.Fatalf("seed %d: episode %v has target %d", seed, e, e.target)
			}
			prev = e.until
			kinds[e.kind]++
			if e.target < 0 {
				all++
			} else {
				single++
			}
			if last && e.until == cfg.FaultPhase {
				toEnd++
			}
		}
	}
	for _, k := range NetFaults() {
		if kinds[k] == 0 {
			t.Errorf("no %s episode in 500 plans", k)
		}
	}
	if single == 0 || all == 0 || toEnd == 0 || holds == 0 {
		t.Errorf("500 plans: %d single-proxy and %d every-proxy episodes, %d healing as the faults stop, %d handing candidates", single, all, toEnd, holds)
	}
	only := cfg
	only.Faults = []NetFault{NetSilent}
	for seed := uint64(1); seed <= 50; seed++ {
		for _, e := range newNetPlan(seed, only).episodes {
			if e.kind != NetSilent {
				t.Fatalf("seed %d: %v drawn from faults %v", seed, e, only.Faults)
			}
		}
	}
}

// fakeNet is a netRun judged on made-up readings: candidates a and b, the
// faults stopping at 10s, no episodes and no lead ends (a bound of
// 2.34s at the defaults).
func fakeNet(t *testing.T) (*netRun, func(ms int) time.Time) {
	t.Helper()
	cfg := NetConfig{}.WithDefaults()
	r := newNetRun(1, cfg)
	r.plan = netPlan{candidates: 2, holds: make([]time.Duration, 2)}
	r.leadEnds = make([][]time.Time, 2)
	r.handovers = make([][]time.Time, 2)
	r.incs = []*incarnation{{id: "a"}, {id: "b"}}
	t0 := time.Now()
	r.start = t0
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	r.healed = at(10000)
	return r, at
}

func checks(vs []Violation) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.Check)
	}
	return out
}

// Each check of the network mode fires on readings that break it, and
// stays quiet on readings a correct client gives; what the process's
// starvation explains is excused and only that.
func TestNetJudgeFindsViolations(t *testing.T) {
	ten := func(at func(int) time.Time, id string, from, to int) qqtest.Tenure {
		return qqtest.Tenure{Service: "safety", Domain: "network", ClientID: id, Start: at(from), End: at(to), Ended: true}
	}
	leader := func(at func(int) time.Time, cand, ms int) netClaim {
		return netClaim{cand: cand, before: at(ms), after: at(ms).Add(time.Microsecond), isLeader: true}
	}
	for _, tc := range []struct {
		name    string
		setup   func(r *netRun, at func(int) time.Time) []qqtest.Tenure
		want    []string // checks violated
		excused []string // checks excused
	}{
		{"safe", func(r *netRun, at func(int) time.Time) []qqtest.Tenure {
			c := leader(at, 0, 500)
			c.remaining, c.held, c.holder, c.expires = 1000*time.Millisecond, true, "a", at(1600)
			r.claims = []netClaim{c, leader(at, 1, 1500)}
			r.claims[1].sample = 1
			return []qqtest.Tenure{ten(at, "a", 0, 1000), ten(at, "b", 1000, 2000)}
		}, nil, nil},
		{"leader outside its tenure", func(r *netRun, at func(int) time.Time) []qqtest.Tenure {
			r.claims = []netClaim{leader(at, 0, 1000)}
			return []qqtest.Tenure{ten(at, "a", 0, 1000)}
		}, []string{"a"}, nil},
		{"leader before its tenure", func(r *netRun, at func(int) time.Time) []qqtest.Tenure {
			r.claims = []netClaim{leader(at, 1, 999)}
			return []qqtest.Tenure{ten(at, "a", 0, 1000), ten(at, "b", 1000, 2000)}
		}, []string{"a"}, nil},
		{"lead context past its tenure", func(r *netRun, at func(int) time.Time) []qqtest.Tenure {
			r.claims = []netClaim{{cand: 0, before: at(1050), after: at(1051), lead: true}}
			return []qqtest.Tenure{ten(at, "a", 0, 1000)}
		}, []string{"a"}, nil},
		{"lead context past its tenure, the process starved", func(r *netRun, at func(int) time.Time) []qqtest.Tenure {
			r.claims = []netClaim{{cand: 0, before: at(1050), after: at(1051), lead: true}}
			r.gaps = []netGap{{at(850), at(1049)}}
			return []qqtest.Tenure{ten(at, "a", 0, 1000)}
		}, nil, []string{"a"}},
		{"remaining lease beyond the server's", func(r *netRun, at func(int) time.Time) []qqtest.Tenure {
			c := leader(at, 0, 500)
			c.remaining, c.held, c.holder, c.expires = 600*time.Millisecond, true, "a", at(1000)
			r.claims = []netClaim{c}
			return []qqtest.Tenure{ten(at, "a", 0, 1000)}
		}, []string{"e"}, nil},
		{"remaining lease beyond the tenure", func(r *netRun, at func(int) time.Time) []qqtest.Tenure {
			c := leader(at, 0, 500)
			c.remaining = 600 * time.Millisecond
			r.claims = []netClaim{c}
			return []qqtest.Tenure{ten(at, "a", 0, 1000)}
		}, []string{"e"}, nil},
		{"remaining lease beyond a tenure its handover cut short", func(r *netRun, at func(int) time.Time) []qqtest.Tenure {
			c := leader(at, 0, 500)
			c.remaining, c.handing = 600*time.Millisecond, true
			r.claims = []netClaim{c}
			return []qqtest.Tenure{ten(at, "a", 0, 1000)}
		}, nil, nil},
		{"tenures overlap", func(r *netRun, at func(int) time.Time) []qqtest.Tenure {
			return []qqtest.Tenure{ten(at, "a", 0, 1000), ten(at, "b", 999, 2000)}
		}, []string{"b"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, at := fakeNet(t)
			r.judgeRecord(tc.setup(r, at))
			if got := checks(r.rep.Violations); !slices.Equal(got, tc.want) {
				t.Errorf("violations %v, want checks %v: %v", got, tc.want, r.rep.Violations)
			}
			if got := checks(r.rep.Excused); !slices.Equal(got, tc.excused) {
				t.Errorf("excused %v, want checks %v: %v", got, tc.excused, r.rep.Excused)
			}
		})
	}
}

// Liveness (c) fails a schedule without a leader at the end, with one
// found only after the bound, or whose leadership moves; a late verdict is
// excused only by as much starvation as it misses by.
func TestNetLivenessFindsViolations(t *testing.T) {
	// samples every 100ms from 9s to 20s; led(ms) gives the claimer.
	samples := func(r *netRun, at func(int) time.Time, led func(ms int) int) {
		for ms := 9000; ms <= 20000; ms += 100 {
			s := netSample{at: at(ms)}
			if c := led(ms); c >= 0 {
				s.claimers = []int{c}
			}
			r.samples = append(r.samples, s)
		}
	}
	for _, tc := range []struct {
		name     string
		led      func(ms int) int
		gaps     [][2]int // pauses of the process, in ms
		want     []string
		excused  []string
		recovery time.Duration
	}{
		{"leader throughout", func(int) int { return 0 }, nil, nil, nil, 0},
		{"recovers within the bound", func(ms int) int {
			if ms < 12000 {
				return -1
			}
			return 1
		}, nil, nil, nil, 2 * time.Second},
		{"never recovers", func(int) int { return -1 }, nil, []string{"c"}, nil, -1},
		{"recovers late", func(ms int) int {
			if ms < 13000 {
				return -1
			}
			return 0
		}, nil, []string{"c"}, nil, 3 * time.Second},
		{"recovers late, the process starved that long", func(ms int) int {
			if ms < 13000 {
				return -1
			}
			return 0
		}, [][2]int{{10500, 11300}}, nil, []string{"c"}, 3 * time.Second},
		{"leadership moves", func(ms int) int {
			if ms < 15000 {
				return 0
			}
			return 1
		}, nil, []string{"c"}, nil, 5 * time.Second},
		{"leadership moves within the bound", func(ms int) int {
			if ms < 10100 {
				return 0
			}
			return 1
		}, nil, nil, nil, 100 * time.Millisecond},
		{"leadership moves after the process starved", func(ms int) int {
			if ms < 15000 {
				return 0
			}
			return 1
		}, [][2]int{{14500, 14900}}, nil, []string{"c"}, 5 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, at := fakeNet(t)
			samples(r, at, tc.led)
			for _, g := range tc.gaps {
				r.gaps = append(r.gaps, netGap{at(g[0]), at(g[1])})
			}
			r.judgeLiveness()
			if got := checks(r.rep.Violations); !slices.Equal(got, tc.want) {
				t.Errorf("violations %v, want checks %v: %v", got, tc.want, r.rep.Violations)
			}
			if got := checks(r.rep.Excused); !slices.Equal(got, tc.excused) {
				t.Errorf("excused %v, want checks %v: %v", got, tc.excused, r.rep.Excused)
			}
			if r.rep.Recovery != tc.recovery {
				t.Errorf("recovery %v, want %v", r.rep.Recovery, tc.recovery)
			}
			if r.rep.RecoveryBound != 2340*time.Millisecond {
				t.Errorf("bound %v, want 2.34s (TTL, then a retry and two round trips)", r.rep.RecoveryBound)
			}
		})
	}
}

// Fleet plans strike servers of the fleet, one or a majority at once, with
// the fleet's kinds only; the proxy mode's plans are unchanged by it.
func TestNetFleetPlan(t *testing.T) {
	cfg := NetConfig{Servers: 3}.WithDefaults()
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	kinds := map[NetFault]int{}
	widths := map[int]int{}
	for seed := uint64(1); seed <= 300; seed++ {
		for _, e := range newNetPlan(seed, cfg).episodes {
			if e.target < 0 || e.target >= 3 || (e.servers != 1 && e.servers != 2) {
				t.Fatalf("seed %d: %v strikes servers %d..+%d of 3", seed, e, e.target, e.servers)
			}
			kinds[e.kind]++
			widths[e.servers]++
		}
	}
	for _, k := range FleetNetFaults() {
		if kinds[k] == 0 {
			t.Errorf("no %s episode in 300 fleet plans", k)
		}
	}
	if kinds[NetStall] > 0 || widths[1] == 0 || widths[2] == 0 {
		t.Errorf("fleet plans: kinds %v, widths %v", kinds, widths)
	}
	for _, bad := range []NetConfig{
		{Servers: 1}, {Servers: 3, Faults: []NetFault{NetStall}}, {Faults: []NetFault{NetKill}}, {StableLeadership: true},
		{Servers: 3, Rotation: -time.Second},
	} {
		if err := bad.WithDefaults().validate(); err == nil {
			t.Errorf("%+v validated", bad)
		}
	}
}

// Check (f) counts a leader that stops leading while a majority of the
// fleet was up, and fails it under StableLeadership; a handover, a
// majority down within the TTL before, or a starved process excuse it.
func TestNetStabilityFindsUnforcedLosses(t *testing.T) {
	for _, tc := range []struct {
		name              string
		setup             func(r *netRun, at func(int) time.Time)
		unforced, forced  int
		violated, excused []string
	}{
		{"stays", func(*netRun, func(int) time.Time) {}, 0, 0, nil, nil},
		{"lost, one server down", func(r *netRun, at func(int) time.Time) {
			r.struck = []fleetSpan{{at(1000), at(3000), 1}}
		}, 1, 0, []string{"f"}, nil},
		{"lost, a majority down", func(r *netRun, at func(int) time.Time) {
			r.struck = []fleetSpan{{at(1000), at(3000), 2}}
		}, 0, 1, nil, nil},
		{"lost, a majority down until just before", func(r *netRun, at func(int) time.Time) {
			r.struck = []fleetSpan{{at(1000), at(4500), 2}}
		}, 0, 1, nil, nil},
		{"lost, a majority down long before", func(r *netRun, at func(int) time.Time) {
			r.struck = []fleetSpan{{at(100), at(2900), 2}}
		}, 1, 0, []string{"f"}, nil},
		{"handed over", func(r *netRun, at func(int) time.Time) {
			r.handovers[0] = []time.Time{at(4950)}
		}, 0, 0, nil, nil},
		{"handed over long before", func(r *netRun, at func(int) time.Time) {
			r.handovers[0] = []time.Time{at(2500)}
		}, 1, 0, []string{"f"}, nil},
		{"lost, the process starved", func(r *netRun, at func(int) time.Time) {
			r.gaps = []netGap{{at(4000), at(4400)}}
		}, 0, 0, nil, []string{"f"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, stable := range []bool{false, true} {
				r, at := fakeNet(t)
				r.ncfg.Servers, r.ncfg.StableLeadership = 3, stable
				// a leads every 100ms until 5s, then b; the loss is at 5s.
				for k, ms := 0, 0; ms <= 8000; k, ms = k+1, ms+100 {
					c := 0
					if ms >= 5000 {
						c = 1
					}
					r.samples = append(r.samples, netSample{at: at(ms), claimers: []int{c}})
					r.claims = append(r.claims, netClaim{cand: c, sample: k, isLeader: true, before: at(ms), after: at(ms)})
				}
				if tc.name == "stays" {
					for k := range r.samples {
						r.samples[k].claimers = []int{0}
					}
				}
				tc.setup(r, at)
				r.judgeStability()
				if r.rep.UnforcedLosses != tc.unforced || r.rep.ForcedLosses != tc.forced {
					t.Errorf("stable=%v: unforced %d, forced %d; want %d, %d", stable, r.rep.UnforcedLosses, r.rep.ForcedLosses, tc.unforced, tc.forced)
				}
				want := tc.violated
				if !stable {
					want = nil
				}
				if got := checks(r.rep.Violations); !slices.Equal(got, want) {
					t.Errorf("stable=%v: violations %v, want %v", stable, got, want)
				}
				if got := checks(r.rep.Excused); !slices.Equal(got, tc.excused) {
					t.Errorf("stable=%v: excused %v, want %v", stable, got, tc.excused)
				}
			}
		})
	}
}
