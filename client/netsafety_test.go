package client_test

import (
	"context"
	"flag"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/checker"
	"google.golang.org/grpc"
)

var (
	netSchedules = flag.Int("netsafety.schedules", 3, "number of real-network schedules TestSafetyNetSchedules plays")
	netSeed      = flag.Uint64("netsafety.seed", 1, "seed of the first schedule TestSafetyNetSchedules plays")
	netParallel  = flag.Int("netsafety.parallel", 3, "real-network schedules TestSafetyNetSchedules plays at once")
)

// netConfig describes the client with default options at TTL 2 s: calls
// bounded by the usable lease (the 5 s request timeout clamped), releases
// by the full 5 s, retries and the reconnect backoff cap at TTL/10.
func netConfig() checker.NetConfig {
	cfg, err := checker.ClientNetConfig(2 * time.Second)
	if err != nil {
		panic(err) // a valid TTL: only a broken invariant gets here
	}
	return cfg.WithDefaults()
}

// netCandidate is the client as a user gets it: default options, dialling
// its own connection.
func netCandidate(id, addr string) (checker.Candidate, error) {
	cfg := netConfig()
	return client.NewQuorumQuestClient(cfg.Service, cfg.Domain, cfg.TTL, addr, client.WithClientID(id))
}

// runNetSchedules plays n schedules from seed, parallel at a time, and
// returns the reports; stop, called with each report in turn (never two
// at once), ends the run early when it returns true.
func runNetSchedules(t *testing.T, seed uint64, n, parallel int, cfg checker.NetConfig, newCandidate checker.NewNetCandidate, stop func(checker.Report, error) bool) []checker.Report {
	var (
		mu      sync.Mutex
		reps    []checker.Report
		next    atomic.Int64
		stopped atomic.Bool
		wg      sync.WaitGroup
	)
	for range max(1, min(parallel, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopped.Load() {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				rep, err := checker.RunNetSchedule(seed+uint64(i), cfg, newCandidate)
				mu.Lock()
				reps = append(reps, rep)
				if stop(rep, err) {
					stopped.Store(true)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return reps
}

// TestSafetyNetSchedules plays -netsafety.schedules real-network schedules
// (docs/safety.md): 3 to 5 clients with default options on Run, each
// through its own fault proxy to one gRPC server over loopback, under
// resets, silences, stalls and server restarts, then healing. It fails on
// any violation; verdicts the process's starvation excuses are logged.
func TestSafetyNetSchedules(t *testing.T) {
	t.Parallel()
	start := time.Now()
	cfg := netConfig()
	if *netSchedules == 1 {
		cfg.Log = func(at time.Duration, msg string) { t.Logf("%v: %s", at.Round(time.Microsecond), msg) }
	}
	reps := runNetSchedules(t, *netSeed, *netSchedules, *netParallel, cfg, netCandidate, func(rep checker.Report, err error) bool {
		if err != nil {
			t.Errorf("%v\nreplay with:\n  go test -race ./client -run '^TestSafetyNetSchedules$' -netsafety.seed=%d -netsafety.schedules=1 -v", err, rep.Seed)
		}
		for _, e := range rep.Excused {
			t.Logf("seed %d: excused %s", rep.Seed, e)
		}
		if *netSchedules == 1 {
			t.Logf("seed %d: %+v", rep.Seed, rep)
		}
		return err != nil
	})
	var (
		tot                                            checker.FaultCounts
		samples, led, multi, changes, excused, violate int
		worst, worstBound, starved, longest            time.Duration
		worstSeed                                      uint64
	)
	var recoveries []time.Duration
	for _, r := range reps {
		recoveries = append(recoveries, r.Recovery)
		tot = tot.Add(r.Faults)
		samples += r.Samples
		led += r.LeaderSamples
		multi += r.MultiClaimSamples
		changes += r.LeadershipChanges
		excused += r.ExcusedCount
		violate += r.ViolationCount
		starved += r.Starved
		longest = max(longest, r.LongestGap)
		if r.Recovery > worst {
			worst, worstBound, worstSeed = r.Recovery, r.RecoveryBound, r.Seed
		}
	}
	if t.Failed() {
		return
	}
	if led == 0 || tot.ConnResets+tot.ConnSilences+tot.ConnStalls+tot.ServerRestarts == 0 {
		t.Fatalf("no candidate ever led, or no fault was played: %d samples with a leader, faults %+v", led, tot)
	}
	t.Logf("%d network schedules (seeds %d..%d) in %v, %d at once: %d samples (%d with two claims), %d leadership changes, %d violations, %d excused; worst recovery %v (seed %d, its bound %v); the process starved %v in all, longest pause %v",
		len(reps), *netSeed, *netSeed+uint64(len(reps))-1, time.Since(start).Round(time.Millisecond), *netParallel,
		samples, multi, changes, violate, excused, worst, worstSeed, worstBound, starved, longest)
	slices.Sort(recoveries)
	rank := func(q float64) time.Duration { return recoveries[max(0, int(math.Ceil(q*float64(len(recoveries))))-1)] }
	t.Logf("recovery after healing: p50 %v, p99 %v, max %v", rank(0.5), rank(0.99), rank(1))
	t.Logf("faults: %d resets, %d silences, %d stalls, %d server restarts, %d handovers", tot.ConnResets, tot.ConnSilences, tot.ConnStalls, tot.ServerRestarts, tot.Handovers)
}

// sharedConnCandidate is a broken client for the network mode: it shares a
// plain gRPC connection dialled with the client's DialOptions, which bound
// connects and reconnects but never replace a connection that went silent
// (docs/connections.md, "Shared connections").
type sharedConnCandidate struct {
	*client.QuorumQuestClient
	cc *grpc.ClientConn
}

func (s sharedConnCandidate) Close() error {
	err := s.QuorumQuestClient.Close()
	if cerr := s.cc.Close(); err == nil {
		err = cerr
	}
	return err
}

// lateLeadCandidate is a broken client for the network mode: the context
// its Run hands the lead function ends lateBy after leadership does, as a
// client whose expiry does not reach the lead context would.
type lateLeadCandidate struct {
	*client.QuorumQuestClient
	lateBy time.Duration
}

func (c lateLeadCandidate) Run(ctx context.Context, lead func(context.Context)) error {
	return c.QuorumQuestClient.Run(ctx, func(lctx context.Context) {
		late, cancel := context.WithCancel(context.WithoutCancel(lctx))
		defer cancel()
		stop := context.AfterFunc(lctx, func() { time.AfterFunc(c.lateBy, cancel) })
		defer stop()
		lead(late)
	})
}

// TestSafetyNetCatchesLateLeadContexts proves the network mode's safety
// checks can fail a client in real time: a lead context that outlives
// leadership by 300 ms, well beyond the 120 ms between a correct client's
// deadline and the server's expiry, is caught by check (a) within three
// seeds.
func TestSafetyNetCatchesLateLeadContexts(t *testing.T) {
	t.Parallel()
	cfg := netConfig()
	late := func(id, addr string) (checker.Candidate, error) {
		q, err := client.NewQuorumQuestClient(cfg.Service, cfg.Domain, cfg.TTL, addr, client.WithClientID(id))
		if err != nil {
			return nil, err
		}
		return lateLeadCandidate{q, 300 * time.Millisecond}, nil
	}
	var caught []string
	runNetSchedules(t, 1, 3, 3, cfg, late, func(rep checker.Report, err error) bool {
		for _, v := range rep.Violations {
			if v.Check == "a" {
				caught = append(caught, fmt.Sprintf("seed %d: %s", rep.Seed, v))
				return true
			}
		}
		return false
	})
	if len(caught) == 0 {
		t.Fatal("the network mode passed a client whose lead context outlives leadership by 300ms, on 3 seeds")
	}
	t.Logf("caught: %s", caught[0])
}

// TestSafetyNetCatchesUnreplacedConnections proves the network mode can
// fail a client: without the replacement of silent connections, silent
// faults leave no leader after healing, and the liveness check (c) says
// so within three seeds.
func TestSafetyNetCatchesUnreplacedConnections(t *testing.T) {
	t.Parallel()
	cfg := netConfig()
	cfg.Faults = []checker.NetFault{checker.NetSilent}
	broken := func(id, addr string) (checker.Candidate, error) {
		opts, err := client.DialOptions(cfg.TTL)
		if err != nil {
			return nil, err
		}
		cc, err := grpc.NewClient(addr, opts...)
		if err != nil {
			return nil, err
		}
		q, err := client.NewQuorumQuestClient(cfg.Service, cfg.Domain, cfg.TTL, "", client.WithClientID(id), client.WithConn(cc))
		if err != nil {
			cc.Close()
			return nil, err
		}
		return sharedConnCandidate{q, cc}, nil
	}
	var caught []string
	runNetSchedules(t, 1, 3, 3, cfg, broken, func(rep checker.Report, err error) bool {
		for _, v := range rep.Violations {
			if v.Check == "c" {
				caught = append(caught, fmt.Sprintf("seed %d: %s", rep.Seed, v))
				return true
			}
		}
		return false
	})
	if len(caught) == 0 {
		t.Fatal("the network mode passed a client that never replaces a silent connection, on 3 seeds")
	}
	t.Logf("caught: %s", caught[0])
}
