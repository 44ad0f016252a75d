package main

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/quorum-quest/client-go/internal/outage"
)

// many plays n trials of elections elections sharing one connection, per
// TTL and strike (primary: the server carrying the link most calls went
// to; secondary: the other), one trial at a time, and prints a row each.
// It reports false if an election lost leadership or a trial failed.
func many(elections, n int, ttls []time.Duration, strikes []string, rotation time.Duration) bool {
	fmt.Printf("%d elections on Run, each its own client, sharing one client.DialConn to 3 servers behind one round-robin balancer; the server carrying one of its links vanishes (silent, kept in rotation %v); rates in calls/s over 100 ms buckets\n\n", elections, rotation)
	fmt.Println("| TTL | strike | servers (struck) | lost | lapsed on store | lead ctx ended | calls/s steady mean (peak) | calls/s fault mean (peak) | healthy server peak steady -> fault | hedge delay | hedged steady | hedged fault (peak/s) | hedged / calls until replaced | replaced after | longest renewal steady -> fault | setup |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	ok := true
	for _, ttl := range ttls {
		for _, strike := range strikes {
			cfg := outage.ManyConfig{
				Elections: elections, Servers: 3, TTL: ttl, Rotation: rotation, Secondary: strike == "secondary",
				Steady: max(ttl, 5*time.Second), Settle: ttl + 5*time.Second, Limit: 3 * time.Minute, Bucket: 100 * time.Millisecond,
			}
			for range n {
				r, err := outage.RunMany(context.Background(), cfg)
				if err != nil {
					log.Printf("many at TTL %v, %s: trial failed: %v", ttl, strike, err)
					ok = false
					continue
				}
				ok = ok && r.Lost == 0 && r.Lapsed == 0
				log.Printf("many at TTL %v, %s: hedges per second of the steady state %v; longest gap between samples steady %v, fault %v",
					ttl, strike, r.SteadyHedges, r.SteadyGap.Round(time.Millisecond), r.FaultGap.Round(time.Millisecond))
				for _, m := range r.Moved {
					log.Printf("many at TTL %v, %s: %s", ttl, strike, m)
				}
				fmt.Printf("| %v | %s | %v (%d) | %d | %d | %d | %.0f (%.0f) | %.0f (%.0f) | %.0f -> %.0f | %v | %d of %d | %d of %d (%.0f) | %d / %d | %s | %s -> %s | %s |\n",
					ttl, strike, r.Servers, r.Server, r.Lost, r.Lapsed, r.LeadEnded,
					r.SteadyMean, r.SteadyPeak, r.FaultMean, r.FaultPeak, r.HealthySteadyPeak, r.HealthyPeak,
					r.HedgeDelay.Round(time.Millisecond), r.SteadyHedged, r.SteadyCalls, r.Hedged, r.Calls, r.HedgePeak,
					r.HedgedToReplace, r.CallsToReplace, replaced(r), secs(r.SteadyRenewal), secs(r.LongestRenewal), secs(r.Setup))
			}
		}
	}
	return ok
}

func replaced(r outage.ManyResult) string {
	if r.Replaced == 0 {
		return "not replaced"
	}
	return fmt.Sprintf("%.1f s (%d replacements)", r.Replaced.Seconds(), r.Replacements)
}

// parseTTLs parses a comma-separated list of durations.
func parseTTLs(list string) ([]time.Duration, error) {
	var out []time.Duration
	for _, ts := range strings.Split(list, ",") {
		ttl, err := time.ParseDuration(strings.TrimSpace(ts))
		if err != nil {
			return nil, err
		}
		out = append(out, ttl)
	}
	return out, nil
}
