// Command fleet measures what the loss of a server of the fleet does to
// leadership (issue 18): three servers over one store behind one
// round-robin L4 balancer address, three candidates on Run with default
// options, each its own client dialling the balancer. Per trial, once a
// candidate leads, the server carrying the leader's connection vanishes
// (silent, kept in rotation 10 s), restarts gracefully (down 1 s) or is
// killed (back after 1 s); or the whole fleet is restarted, one server
// after another. It prints, per fault and TTL, the leadership changes,
// the time with no leader, the instants a leader reported not leading,
// the longest renewal the leader saw, the calls per renewal the servers
// answered and the leader sent, hedged copies included (during the fault:
// over the trials whose leader kept leading), how often the leader had
// connections to two servers, and the safety findings. `make fleet` runs
// it.
//
//	go run ./internal/cmd/fleet -n 3 -ttl 2s,5s -fault vanish,rolling -parallel 3
//
// With -servers addr1,addr2,addr3 the balancer goes in front of servers
// already running (real ones: ../shared/peer/fleet.sh 3 starts three over
// one Redis) instead of in-process ones; the faults are then vanish and
// kill (the balancer resets every connection to the server for -down),
// each trial with a lock of its own. Never needed by make test or CI.
//
// With -elections N it measures instead many elections on one connection
// (`make fleet-many`): N elections on Run sharing one client.DialConn to
// three in-process servers; the server carrying one of its two links
// vanishes (-strike primary: the link most calls went to; secondary: the
// other). Per trial it prints the elections that lost leadership, the
// call rates the servers saw in the steady state and during the fault
// (mean and peak 100 ms bucket), the hedged copies, how soon the silent
// link was replaced and the longest renewal.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quorum-quest/client-go/internal/outage"
)

func main() {
	n := flag.Int("n", 20, "trials per setting")
	ttls := flag.String("ttl", "2s,5s,15s", "comma-separated TTLs")
	faults := flag.String("fault", "vanish,graceful,kill,rolling", "comma-separated fleet faults")
	parallel := flag.Int("parallel", 3, "trials played at once (each has its own fleet and candidates)")
	rotation := flag.Duration("rotation", 10*time.Second, "how long the balancer keeps a faulty server in rotation (and a vanished one stays silent)")
	down := flag.Duration("down", time.Second, "how long a restarted or killed server is down")
	verbose := flag.Bool("v", false, "log what moved leadership in each trial")
	elections := flag.Int("elections", 0, "instead of the fleet faults: this many elections sharing one connection (-n trials of each -ttl and -strike, one at a time)")
	strikes := flag.String("strike", "primary", "with -elections: which of the connection's servers vanishes, comma-separated: primary (the one most calls went to), secondary")
	servers := flag.String("servers", "", "comma-separated addresses of external servers (real ones, over one store) to put the balancer in front of, instead of in-process servers; faults vanish and kill (a reset) only")
	flag.Parse()
	var external []string
	if *servers != "" {
		external = strings.Split(*servers, ",")
		if *elections > 0 {
			log.Fatal("fleet: -servers is for the fleet faults, not -elections")
		}
	}
	if *elections > 0 {
		list, err := parseTTLs(*ttls)
		if err != nil {
			log.Fatalf("fleet: -ttl: %v", err)
		}
		for _, s := range strings.Split(*strikes, ",") {
			if s != "primary" && s != "secondary" {
				log.Fatalf("fleet: -strike %q: want primary or secondary", s)
			}
		}
		if *n < 1 || *rotation < 0 {
			log.Fatal("fleet: -n must be positive, -rotation not negative")
		}
		if !many(*elections, *n, list, strings.Split(*strikes, ","), *rotation) {
			os.Exit(1)
		}
		return
	}
	if *n < 1 || *parallel < 1 || *rotation < 0 || *down <= 0 {
		log.Fatal("fleet: -n, -parallel and -down must be positive, -rotation not negative")
	}
	where := "3 in-process servers"
	if external != nil {
		where = fmt.Sprintf("%d external servers (%s)", len(external), *servers)
	}
	fmt.Printf("%s behind one round-robin balancer, 3 candidates on Run (default options), faulty server kept in rotation %v, down %v; %d trials per setting, %d at once\n\n", where, *rotation, *down, *n, *parallel)
	fmt.Println("| fault | TTL | n | trials with a change | changes (max) | leaderless total (max) | not-leading reports | lead ctx ended | longest renewal | answered/renewal steady | answered/renewal fault | sent/renewal steady | sent/renewal fault | leader on 2 servers | safety violations |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	failed := false
	for _, ts := range strings.Split(*ttls, ",") {
		ttl, err := time.ParseDuration(strings.TrimSpace(ts))
		if err != nil {
			log.Fatalf("fleet: -ttl: %v", err)
		}
		for _, fs := range strings.Split(*faults, ",") {
			cfg := outage.FleetConfig{
				Fault: outage.FleetFault(strings.TrimSpace(fs)), TTL: ttl,
				Servers: 3, Candidates: 3, Rotation: *rotation, Down: *down, RollEvery: 4 * time.Second,
				Steady: max(3*time.Second, ttl), Settle: 2*ttl + 5*time.Second, Limit: 2 * time.Minute,
				External: external,
			}
			if external != nil {
				cfg.Servers = len(external)
			}
			row, ok := measure(cfg, *n, *parallel, *verbose)
			failed = failed || !ok
			fmt.Println(row)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// trial numbers the trials, for their locks' names.
var trial atomic.Int64

// measure plays n trials of cfg, parallel at a time, and renders a row.
func measure(cfg outage.FleetConfig, n, parallel int, verbose bool) (string, bool) {
	res, errs := outage.Trials(n, parallel, func() (outage.FleetResult, error) {
		c := cfg
		// A lock of its own per trial: external servers share one store.
		c.Domain = fmt.Sprintf("trial-%d-%d", os.Getpid(), trial.Add(1))
		return outage.RunFleet(context.Background(), c)
	})
	for _, e := range errs {
		log.Printf("%s at TTL %v: trial failed: %s", cfg.Fault, cfg.TTL, e)
	}
	var (
		moved, changes, maxChanges, notLeading, leadEnded, two, violations int
		leaderless, maxLeaderless, renewal                                 time.Duration
		steadyCalls, steadyRenewals, calls, renewals, steadySent, sent     int
	)
	for _, r := range res {
		if r.Changes > 0 {
			moved++
		}
		changes += r.Changes
		maxChanges = max(maxChanges, r.Changes)
		leaderless += r.Leaderless
		maxLeaderless = max(maxLeaderless, r.Leaderless)
		notLeading += r.NotLeading
		leadEnded += r.LeadEnded
		renewal = max(renewal, r.LongestRenewal)
		steadyCalls += r.SteadyCalls
		steadyRenewals += r.SteadyRenewals
		steadySent += r.SteadySent
		if r.Changes == 0 && r.NotLeading == 0 {
			// A leader that lost leadership tried to win it back: those
			// are not renewals' calls.
			calls += r.Calls
			sent += r.Sent
			renewals += r.Renewals
		}
		if len(r.LeaderServers) > 1 {
			two++
		}
		violations += len(r.Violations)
		for _, v := range r.Violations {
			log.Printf("%s at TTL %v: SAFETY: %s", cfg.Fault, cfg.TTL, v)
		}
		if verbose && len(r.Moved) > 0 {
			log.Printf("%s at TTL %v: leader %s on servers %v, server %d faulted (longest pause of the process %v): %s",
				cfg.Fault, cfg.TTL, r.Leader, r.LeaderServers, r.Server, r.Starved, strings.Join(r.Moved, "; "))
		}
	}
	row := fmt.Sprintf("| %s | %v | %d | %d | %d (%d) | %s (%s) | %d | %d | %s | %s | %s | %s | %s | %d | %d |",
		cfg.Fault, cfg.TTL, len(res), moved, changes, maxChanges, secs(leaderless), secs(maxLeaderless),
		notLeading, leadEnded, fmt.Sprintf("%.3f s", renewal.Seconds()), answeredRatio(cfg, steadyCalls, steadyRenewals), answeredRatio(cfg, calls, renewals),
		ratio(steadySent, steadyRenewals), ratio(sent, renewals), two, violations)
	if len(errs) > 0 {
		row += fmt.Sprintf(" (%d trials failed)", len(errs))
	}
	return row, len(errs) == 0 && violations == 0
}

// answeredRatio is ratio, or "n/a" for external servers, whose calls the
// fleet does not count.
func answeredRatio(cfg outage.FleetConfig, a, b int) string {
	if cfg.External != nil {
		return "n/a"
	}
	return ratio(a, b)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func ratio(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f (%d/%d)", float64(a)/float64(b), a, b)
}
