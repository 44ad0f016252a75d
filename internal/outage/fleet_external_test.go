package outage

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/qqtest"
)

// A trial against servers it did not start puts the balancer in front of
// them, strikes the leader's server with the faults the balancer makes
// alone (kill as a reset), refuses the others, and judges safety from
// the samples: here the external servers are in-process ones over one
// store, whose history then says the same.
func TestRunFleetExternal(t *testing.T) {
	t.Parallel()
	store := qqtest.NewUnstartedServer()
	var addrs []string
	for range 3 {
		srv, err := testutil.StartTCPServer(store, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Kill)
		addrs = append(addrs, srv.Addr())
	}
	cfg := shortFleet(Graceful)
	cfg.External, cfg.Domain = addrs, "external"
	if _, err := RunFleet(context.Background(), cfg); !errors.Is(err, ErrConfig) {
		t.Fatalf("graceful on external servers: %v; want ErrConfig", err)
	}
	cfg.Fault = Kill
	res, err := RunFleet(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if !slices.Contains(res.LeaderServers, res.Server) {
		t.Errorf("struck server %d; the leader's connections reached %v", res.Server, res.LeaderServers)
	}
	if res.SteadyCalls != 0 || res.SteadySent == 0 || res.Renewals == 0 {
		t.Errorf("steady calls %d (uncounted: want 0), sent %d, renewals in the window %d; want some sent and renewed",
			res.SteadyCalls, res.SteadySent, res.Renewals)
	}
	for _, v := range append(res.Violations, check(store.History(), nil)...) {
		t.Errorf("safety: %s", v)
	}
	for _, h := range store.History() {
		if h.Domain != "external" {
			t.Errorf("a tenure of lock %s/%s; want the trial's domain", h.Service, h.Domain)
		}
	}
}

// Two candidates' runs overlap when both were seen leading at once.
func TestOverlaps(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	runs := []run{
		{id: "a", firstAfter: at(0), lastBefore: at(100)},
		{id: "b", firstAfter: at(101), lastBefore: at(200)}, // after a: fine
		{id: "a", firstAfter: at(150), lastBefore: at(300)}, // overlaps b
	}
	if got := overlaps(runs); len(got) != 1 {
		t.Fatalf("overlaps %q; want one (b and a from 150 ms)", got)
	}
	if got := overlaps(runs[:2]); len(got) != 0 {
		t.Fatalf("overlaps %q of runs one after the other", got)
	}
}
