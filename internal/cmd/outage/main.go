// Command outage measures how long after a connection-level outage heals
// some candidate leads again: five candidates on Run, each behind a fault
// proxy of its own, over loopback TCP to a real gRPC server, for every
// kind of outage (reset, silent, stall, server restart) and every TTL
// asked for. It prints p50, p99 and max per setting, and the safety
// findings (docs/connections.md). `make outage` runs it with the figures'
// settings.
//
//	go run ./internal/cmd/outage -n 20 -outage 20s -ttl 2s,15s -parallel 10
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/outage"
	"github.com/quorum-quest/client-go/transport"
)

func main() {
	n := flag.Int("n", 20, "trials per setting")
	length := flag.Duration("outage", 20*time.Second, "how long each outage lasts")
	ttls := flag.String("ttl", "2s,15s", "comma-separated TTLs")
	kinds := flag.String("kinds", "reset,silent,stall,restart", "comma-separated kinds of outage")
	parallel := flag.Int("parallel", 10, "trials played at once (each has its own server, proxies and candidates)")
	candidates := flag.Int("candidates", 5, "candidates per trial")
	flag.Parse()
	if *n < 1 || *parallel < 1 || *candidates < 1 || *length <= 0 {
		log.Fatal("outage: -n, -parallel, -candidates and -outage must be positive")
	}
	failed := false
	fmt.Printf("%d candidates on Run, outage %v, %d trials per setting, %d at once\n\n", *candidates, *length, *n, *parallel)
	fmt.Println("| outage | TTL | n | p50 | p99 | max | derived bound | issue's bound | over a bound | moved | safety violations |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	for _, ts := range strings.Split(*ttls, ",") {
		ttl, err := time.ParseDuration(strings.TrimSpace(ts))
		if err != nil {
			log.Fatalf("outage: -ttl: %v", err)
		}
		for _, ks := range strings.Split(*kinds, ",") {
			k := outage.Kind(strings.TrimSpace(ks))
			cfg := outage.Config{
				Kind: k, TTL: ttl, Candidates: *candidates, Outage: *length,
				Settle: ttl, Limit: 2 * time.Minute,
			}
			row, ok := measure(cfg, *n, *parallel)
			failed = failed || !ok
			fmt.Println(row)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// issueBound is the recovery bound issue 8 sets for kind at ttl.
func issueBound(k outage.Kind, ttl time.Duration) time.Duration {
	if k == outage.Silent || k == outage.Stall {
		return 2*ttl + time.Second
	}
	return ttl + time.Second
}

// derivedBound is the recovery bound docs/connections.md derives for kind
// at ttl with default options, without the round trips (loopback): 2.2 R
// for reset and restart, C + 2.2 R for silent and stall, where R is the
// retry interval and C the call timeout.
func derivedBound(k outage.Kind, ttl time.Duration) time.Duration {
	r := ttl / 10
	b := 2*r + r/5
	if k == outage.Silent || k == outage.Stall {
		b += transport.DefaultLeasePolicy.CallTimeout(ttl, client.DefaultRequestTimeout)
	}
	return b
}

// measure plays n trials of cfg, parallel at a time, and renders a row.
func measure(cfg outage.Config, n, parallel int) (string, bool) {
	results, errs := outage.Trials(n, parallel, func() (outage.Result, error) {
		return outage.Run(context.Background(), cfg)
	})
	var (
		recoveries []time.Duration
		moved      int
		violations []string
	)
	for _, res := range results {
		recoveries = append(recoveries, res.Recovery)
		if len(res.Moved) > 0 {
			moved++
		}
		violations = append(violations, res.Violations...)
	}
	for _, e := range errs {
		log.Printf("%s at TTL %v: trial failed: %s", cfg.Kind, cfg.TTL, e)
	}
	for _, v := range violations {
		log.Printf("%s at TTL %v: SAFETY: %s", cfg.Kind, cfg.TTL, v)
	}
	slices.Sort(recoveries)
	derived, issue := derivedBound(cfg.Kind, cfg.TTL), issueBound(cfg.Kind, cfg.TTL)
	over := 0
	for _, r := range recoveries {
		if r > min(derived, issue) {
			over++
		}
	}
	row := fmt.Sprintf("| %s | %v | %d | %s | %s | %s | %v | %v | %d | %d | %d |", cfg.Kind, cfg.TTL, len(recoveries),
		pct(recoveries, 50), pct(recoveries, 99), pct(recoveries, 100), derived, issue, over, moved, len(violations))
	if len(errs) > 0 {
		row += fmt.Sprintf(" (%d trials failed)", len(errs))
	}
	return row, len(errs) == 0 && len(violations) == 0
}

// pct is the nearest-rank percentile p of sorted, in milliseconds.
func pct(sorted []time.Duration, p int) string {
	if len(sorted) == 0 {
		return "-"
	}
	i := (p*len(sorted)+99)/100 - 1
	i = max(0, min(i, len(sorted)-1))
	return fmt.Sprintf("%.2f s", sorted[i].Seconds())
}
