package main

import (
	"flag"
	"fmt"
	"slices"
	"testing"
	"time"
)

var measureN = flag.Int("measure.n", 0, "runs of scenarios (a) and (b) for TestMeasureHandoverGaps; 0 skips it")

// TestMeasureHandoverGaps runs scenarios (a), SIGKILL of the leading
// runner, and (b), its network cut with a child that ignores SIGTERM, n
// times each, and reports the gap between the old child's death and the
// new child's start, and how long before the server's expiry the old
// child died. About 2.5 s a run:
//
//	go test ./cmd/quorum-quest -run TestMeasureHandoverGaps -measure.n=20 -v
//
// The bounds, with TTL T = 2 s, retry interval R = 200 ms, keep-alive
// interval I = T/3, drift 1% and margin 100 ms (usable lease
// U = 0.99 T − 100 ms = 1.88 s), reap allowance A = 250 ms:
//
// (a) The child dies with its runner (parent-death signal), at once. The
// server expires the lease T after it processed the last renewal, which
// came at most 1.1 I (plus a round trip) before the kill; the other runner
// acquires at its first attempt after that, within R. So the gap lies in
// [T − 1.1 I, T + R] plus the new child's start-up: [1.27 s, 2.2 s] + s.
//
// (b) The runner stops the child from the lease's local deadline
// D = sent + U; a child that ignores SIGTERM dies at its SIGKILL, at
// D − A. The server expires the lease at processed + T ≥ sent + T. So
// the child dies at least T − U + A = 0.01 T + 100 ms + A = 370 ms before
// the expiry (a kill that takes ε longer eats into it), and the gap is
// that plus up to R plus start-up: [370 ms, 570 ms] + s.
func TestMeasureHandoverGaps(t *testing.T) {
	if *measureN == 0 {
		t.Skip("set -measure.n to run")
	}
	for _, sc := range []struct {
		name string
		run  func(*testing.T) gaps
	}{{"a-kill-runner", scenarioKillRunner}, {"b-cut-network", scenarioCutNetwork}} {
		var handover, before []time.Duration
		for i := range *measureN {
			t.Run(fmt.Sprintf("%s/%d", sc.name, i), func(t *testing.T) {
				g := sc.run(t)
				handover = append(handover, g.handover)
				before = append(before, g.beforeExpiry)
			})
		}
		t.Logf("%s, n=%d: death to next start %s; death before the server's expiry %s",
			sc.name, len(handover), summary(handover), summary(before))
	}
}

// summary renders min, median, mean and max.
func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "no data"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return fmt.Sprintf("min %v, median %v, mean %v, max %v", r(s[0]), r(s[len(s)/2]), r(sum/time.Duration(len(s))), r(s[len(s)-1]))
}

// TestMeasureSlotTakeover runs scenarioSlotKill (four runners of `lock -n
// 2`, SIGKILL of slot 0's holder) n times and reports the time from the
// SIGKILL to the next child's start in that slot, and from the server's
// expiry of the dead runner's lease to its grant to the next holder.
// About 7 s a run:
//
//	go test ./cmd/quorum-quest -run TestMeasureSlotTakeover -measure.n=10 -v
//
// The bound is TTL + R (2.2 s) plus start-up: the lease ends on the
// server at most TTL after the kill (after the last renewal), and every
// runner waiting for a slot asks for each slot every R.
func TestMeasureSlotTakeover(t *testing.T) {
	if *measureN == 0 {
		t.Skip("set -measure.n to run")
	}
	var takeover, grant []time.Duration
	for i := range *measureN {
		t.Run(fmt.Sprintf("kill-holder/%d", i), func(t *testing.T) {
			took := scenarioSlotKill(t)
			takeover = append(takeover, took.killToStart)
			grant = append(grant, took.expiryToWin)
		})
	}
	t.Logf("n=%d: SIGKILL to the next child's start %s; server's expiry to the next grant %s",
		len(takeover), summary(takeover), summary(grant))
}
