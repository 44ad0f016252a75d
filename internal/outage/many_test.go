package outage

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
)

// The rates come from the differences between samples: the mean over the
// span, the peak over one bucket, per server or all of them.
func TestSeries(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	s := series{
		{at: at(0), answered: []int64{0, 0}},
		{at: at(100), answered: []int64{10, 0}, calls: 10},
		{at: at(200), answered: []int64{10, 30}, calls: 40, hedged: 5, replaced: 0},
		{at: at(300), answered: []int64{20, 30}, calls: 50, hedged: 7, replaced: 1},
		{at: at(400), answered: []int64{20, 40}, calls: 60, hedged: 7, replaced: 2},
	}
	if mean, peak := s.rate(at(0), at(400), -1); mean != 150 || peak != 300 {
		t.Fatalf("all servers: mean %v, peak %v; want 150, 300", mean, peak)
	}
	if mean, peak := s.rate(at(150), at(400), 0); mean != 10/0.3 || peak != 100 {
		t.Fatalf("server 0 from 150 ms (its bucket starts at 100): mean %v, peak %v; want %v, 100", mean, peak, 10/0.3)
	}
	if calls, hedged := s.sent(at(100), at(300)); calls != 40 || hedged != 7 {
		t.Fatalf("sent %d, hedged %d; want 40, 7", calls, hedged)
	}
	if p := s.hedgePeak(at(0), at(400)); p != 50 {
		t.Fatalf("hedge peak %v; want 50", p)
	}
	if r, ok := s.replacedAt(at(100)); !ok || !r.Equal(at(300)) {
		t.Fatalf("replaced at %v, %v; want %v", r, ok, at(300))
	}
	if n := s.replacements(at(200), at(400)); n != 2 {
		t.Fatalf("%d replacements; want 2", n)
	}
	if g := s.longestGap(at(0), at(400)); g != 100*time.Millisecond {
		t.Fatalf("longest gap %v; want 100ms", g)
	}
	if h := s.hedgesPer(at(0), at(400), 200*time.Millisecond); len(h) != 2 || h[0] != 5 || h[1] != 2 {
		t.Fatalf("hedges per 200 ms %v; want [5 2]", h)
	}
	if _, ok := (series{}).replacedAt(t0); ok {
		t.Fatal("an empty series shows a replacement")
	}
	if mean, peak := s.rate(at(500), at(900), -1); mean != 0 || peak != 0 {
		t.Fatalf("after the samples: %v, %v; want 0, 0", mean, peak)
	}
}

func TestLapsedAndStrikeTarget(t *testing.T) {
	h := []qqtest.Tenure{
		{Service: "m", Domain: "a"}, {Service: "m", Domain: "b"},
		{Service: "m", Domain: "a"}, {Service: "m", Domain: "a"}, {Service: "n", Domain: "b"},
	}
	if n := lapsed(h); n != 1 {
		t.Fatalf("lapsed %d; want 1 (m/a, granted three times)", n)
	}
	a, b := []int{0, 0, 0}, []int{4, 9, 1}
	if got := strikeTarget([]int{0, 1}, a, b, false); got != 1 {
		t.Fatalf("primary %d; want 1", got)
	}
	if got := strikeTarget([]int{0, 1}, a, b, true); got != 0 {
		t.Fatalf("secondary %d; want 0", got)
	}
	if got := strikeTarget(nil, a, b, true); got != -1 {
		t.Fatalf("secondary of none %d; want -1", got)
	}
}

// A short trial of many elections on one connection finds the
// connection's two links on two servers, silences one, sees the silent
// link replaced and the calls on it hedged, at most one copy per call.
// Whether every election keeps leading is the figure make fleet-many
// prints, not asserted here on a loaded machine at a short TTL.
func TestRunMany(t *testing.T) {
	t.Parallel()
	cfg := ManyConfig{
		Elections: 50, Servers: 3, TTL: 2 * time.Second, Rotation: 2 * time.Second,
		Steady: 2 * time.Second, Settle: 2 * time.Second, Limit: 30 * time.Second, Bucket: 100 * time.Millisecond,
	}
	res, err := RunMany(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if len(res.Servers) != 2 || !slices.Contains(res.Servers, res.Server) {
		t.Errorf("links on servers %v, struck %d; want two servers, one struck", res.Servers, res.Server)
	}
	if res.Replaced <= 0 || res.Replacements < 1 {
		t.Errorf("the silent link was not replaced (%v, %d)", res.Replaced, res.Replacements)
	}
	if res.Hedged < 1 || res.Hedged > res.Calls {
		t.Errorf("%d hedged copies of %d calls; want some, at most one per call", res.Hedged, res.Calls)
	}
	if res.SteadyMean <= 0 || res.Renewals == 0 {
		t.Errorf("steady rate %v, %d renewals in the window; want some", res.SteadyMean, res.Renewals)
	}
	cfg.Bucket = 0
	if _, err := RunMany(context.Background(), cfg); !errors.Is(err, ErrConfig) {
		t.Errorf("no bucket: %v; want ErrConfig", err)
	}
}
