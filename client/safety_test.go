package client_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/checker"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
)

var (
	safetySchedules = flag.Int("safety.schedules", 2000, "number of schedules TestSafetyRandomSchedules plays")
	safetySeed      = flag.Uint64("safety.seed", 1, "seed of the first schedule TestSafetyRandomSchedules plays")
	safetyWorkers   = flag.Int("safety.workers", runtime.GOMAXPROCS(0), "schedules TestSafetyRandomSchedules plays at once")
)

// safetyConfig is the checker's configuration for these tests: its defaults
// (TTL 2s, request timeout 500ms, retry every 500ms, 6 TTLs of faults).
var safetyConfig = checker.SafetyConfig{}.WithDefaults()

// realCandidate builds the client under test for the safety checker.
func realCandidate(id string, stub pb.LeaderElectionServiceClient) (checker.Candidate, error) {
	return newRealCandidate(id, stub)
}

func newRealCandidate(id string, stub pb.LeaderElectionServiceClient, opts ...client.Option) (*client.QuorumQuestClient, error) {
	base := []client.Option{
		client.WithServerStub(stub),
		client.WithClientID(id),
		client.WithRequestTimeout(safetyConfig.RequestTimeout),
		// Campaign (under Run) retries as often as the checker's candidates.
		client.WithRetryInterval(safetyConfig.RetryInterval),
		client.WithTransitionHook(recordTransitions),
	}
	return client.NewQuorumQuestClient(safetyConfig.Service, safetyConfig.Domain, safetyConfig.TTL, "in-process", append(base, opts...)...)
}

// tracedCandidate is realCandidate that also logs every transition, for
// replaying one seed with -v.
func tracedCandidate(t *testing.T, start func() time.Time) checker.NewCandidate {
	return func(id string, stub pb.LeaderElectionServiceClient) (checker.Candidate, error) {
		return newRealCandidate(id, stub, client.WithTransitionHook(func(tr client.Transition) {
			t.Logf("%v: %s: %s -> %s on %s (%v)", tr.At.Sub(start()), id, tr.From, tr.To, tr.Event, tr.Err)
		}))
	}
}

// safetyTotals sums the reports of many schedules.
type safetyTotals struct {
	schedules, candidates, samples, leaderSamples, changes, violations int
	targeted, settled, releaseSamples, incarnations                    int
	worstRecovery                                                      time.Duration
	worstSeed                                                          uint64
	faults                                                             checker.FaultCounts
	calls                                                              qqtest.CallCounts
}

func (s *safetyTotals) add(r checker.Report) {
	s.schedules++
	s.candidates += r.Candidates
	s.samples += r.Samples
	s.leaderSamples += r.LeaderSamples
	s.targeted += r.TargetedSamples
	s.settled += r.SettledSamples
	s.releaseSamples += r.ReleaseSamples
	s.incarnations += r.Incarnations
	s.changes += r.LeadershipChanges
	s.violations += r.ViolationCount
	if r.Recovery > s.worstRecovery {
		s.worstRecovery, s.worstSeed = r.Recovery, r.Seed
	}
	s.faults = s.faults.Add(r.Faults)
	s.calls.TryAcquireLock += r.Calls.TryAcquireLock
	s.calls.KeepAlive += r.Calls.KeepAlive
	s.calls.ReleaseLock += r.Calls.ReleaseLock
}

// runSafetySchedule plays one schedule in a bubble of its own. A bubble
// that ends in a deadlock (a goroutine left behind) panics out of
// synctest.Test; that is reported with the seed too.
func runSafetySchedule(t *testing.T, seed uint64, cfg checker.SafetyConfig, newCandidate checker.NewCandidate) (rep checker.Report, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("safety: seed %d: the bubble failed (d): %v (earlier result: %v)", seed, p, err)
		}
	}()
	synctest.Test(t, func(*testing.T) {
		rep, err = checker.RunSchedule(seed, cfg, newCandidate)
	})
	return rep, err
}

// TestSafetyRandomSchedules plays -safety.schedules seeded schedules of
// faults against 3 to 7 real clients campaigning for one lock, and fails on
// the first that breaks a property of docs/safety.md.
func TestSafetyRandomSchedules(t *testing.T) {
	start := time.Now()
	cfg, newCandidate := safetyConfig, checker.NewCandidate(realCandidate)
	if *safetySchedules == 1 { // a replay: show the timeline
		var bubbleStart time.Time
		cfg.Log = func(at time.Duration, msg string) { t.Logf("%v: %s", at, msg) }
		newCandidate = tracedCandidate(t, func() time.Time { return bubbleStart })
		inner := newCandidate
		newCandidate = func(id string, stub pb.LeaderElectionServiceClient) (checker.Candidate, error) {
			if bubbleStart.IsZero() {
				bubbleStart = time.Now() // the schedule's start, to the microsecond
			}
			return inner(id, stub)
		}
	}
	// Workers take seeds in turn, each schedule in a bubble of its own; the
	// first violation stops them all.
	var (
		mu      sync.Mutex
		tot     safetyTotals
		next    atomic.Int64
		stopped atomic.Bool
	)
	workers := max(1, min(*safetyWorkers, *safetySchedules))
	t.Run("schedules", func(t *testing.T) {
		for w := range workers {
			t.Run(fmt.Sprintf("worker%d", w), func(t *testing.T) {
				if workers > 1 {
					t.Parallel()
				}
				for !stopped.Load() {
					i := next.Add(1) - 1
					if i >= int64(*safetySchedules) {
						return
					}
					seed := *safetySeed + uint64(i)
					rep, err := runSafetySchedule(t, seed, cfg, newCandidate)
					if err != nil {
						stopped.Store(true)
						t.Fatalf("%v\nreplay with:\n  go test ./client -run '^TestSafetyRandomSchedules$' -safety.seed=%d -safety.schedules=1 -v\n"+
							"(add GODEBUG=tracebacklabels=1 to see the seed in a crash's goroutine dump)", err, seed)
					}
					if *safetySchedules == 1 {
						t.Logf("seed %d: %+v", seed, rep)
					}
					mu.Lock()
					tot.add(rep)
					mu.Unlock()
				}
			})
		}
	})
	if t.Failed() {
		return
	}
	if tot.changes == 0 || tot.faults.Partitions+tot.faults.Pauses == 0 {
		t.Fatalf("the schedules never changed leaders or never injected faults: %+v", tot)
	}
	t.Logf("%d schedules (seeds %d..%d) in %v on %d workers: %d candidates, %d samples (%d led), %d leadership changes, %d violations; worst recovery after faults %v (seed %d, bound %v)",
		tot.schedules, *safetySeed, *safetySeed+uint64(tot.schedules)-1, time.Since(start).Round(time.Millisecond), workers,
		tot.candidates, tot.samples, tot.leaderSamples, tot.changes, tot.violations,
		tot.worstRecovery, tot.worstSeed, safetyConfig.LivenessBound())
	t.Logf("samples: %d at a lease's expiry, %d read again once settled, %d from inside a ReleaseLock; %d clients built",
		tot.targeted, tot.settled, tot.releaseSamples, tot.incarnations)
	t.Logf("faults injected: %+v", tot.faults)
	t.Logf("calls that reached the server: %+v", tot.calls)
}

// TestSafetyCheckerCatchesNaiveClients proves the checker can fail a
// client: each mutant below repeats a mistake of the old Go client, and the
// checker must report a violation within the first 50 seeds.
func TestSafetyCheckerCatchesNaiveClients(t *testing.T) {
	for _, m := range []struct {
		name   string
		sticky bool
	}{
		// Measures the lease from the reply and gives nothing up to drift
		// or a margin, but honours that deadline.
		{"lease from reply, no drift or margin", false},
		// Also goes on reporting leadership after keep-alive fails.
		{"leadership outlives failed keep-alives", true},
	} {
		t.Run(m.name, func(t *testing.T) {
			newNaive := func(id string, stub pb.LeaderElectionServiceClient) (checker.Candidate, error) {
				return &naiveCandidate{stub: stub, id: id, sticky: m.sticky}, nil
			}
			for seed := uint64(1); seed <= 50; seed++ {
				rep, err := runSafetySchedule(t, seed, safetyConfig, newNaive)
				if err != nil {
					t.Logf("caught at seed %d with %d violation(s); first: %v", seed, rep.ViolationCount, rep.Violations[0])
					return
				}
			}
			t.Fatal("the checker passed a broken client on 50 seeds")
		})
	}
}

// naiveCandidate is a deliberately broken client: it trusts a lease from
// the moment the answer arrives, for the whole TTL, with no drift or
// margin; sticky, it also ignores its deadline once it leads.
type naiveCandidate struct {
	stub   pb.LeaderElectionServiceClient
	id     string
	sticky bool

	mu       sync.Mutex
	leader   bool
	deadline time.Time
	stop     context.CancelFunc // keep-alive running
	done     chan struct{}
}

func (n *naiveCandidate) lock() (string, string) { return safetyConfig.Service, safetyConfig.Domain }

func (n *naiveCandidate) TryAcquireLock(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, safetyConfig.RequestTimeout)
	defer cancel()
	svc, dom := n.lock()
	resp, err := n.stub.TryAcquireLock(ctx, &pb.TryAcquireLockRequest{
		Service: svc, Domain: dom, ClientId: n.id, Ttl: int32(safetyConfig.TTL / time.Second),
	})
	if err != nil {
		return n.IsLeader(), err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.leader = resp.GetIsLeader()
	if n.leader {
		n.deadline = time.Now().Add(safetyConfig.TTL) // the bug: from the reply, all of it
	}
	return n.leader, nil
}

func (n *naiveCandidate) StartKeepAlive(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stop != nil {
		return errors.New("keep-alive already running")
	}
	ctx, n.stop = context.WithCancel(ctx)
	n.done = make(chan struct{})
	go n.keepAlive(ctx, n.done)
	return nil
}

func (n *naiveCandidate) keepAlive(ctx context.Context, done chan struct{}) {
	defer close(done)
	svc, dom := n.lock()
	tick := time.NewTicker(safetyConfig.TTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		callCtx, cancel := context.WithTimeout(ctx, safetyConfig.RequestTimeout)
		resp, err := n.stub.KeepAlive(callCtx, &pb.KeepAliveRequest{
			Service: svc, Domain: dom, ClientId: n.id, Ttl: int32(safetyConfig.TTL / time.Second),
		})
		cancel()
		if err != nil {
			continue // the lease runs on to its deadline
		}
		n.mu.Lock()
		if lease := resp.GetLeaseLength().AsDuration(); lease > 0 {
			n.leader, n.deadline = true, time.Now().Add(lease)
		} else {
			n.leader = false
		}
		n.mu.Unlock()
	}
}

// ReleaseLock gives leadership up before sending the release: the
// mistakes of this candidate lie elsewhere.
func (n *naiveCandidate) ReleaseLock(ctx context.Context) error {
	n.stopKeepAlive()
	ctx, cancel := context.WithTimeout(ctx, safetyConfig.RequestTimeout)
	defer cancel()
	svc, dom := n.lock()
	_, err := n.stub.ReleaseLock(ctx, &pb.ReleaseLockRequest{Service: svc, Domain: dom, ClientId: n.id})
	return err
}

func (n *naiveCandidate) IsLeader() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.leader && (n.sticky || time.Now().Before(n.deadline))
}

func (n *naiveCandidate) Close() error {
	n.stopKeepAlive()
	return nil
}

// stopKeepAlive ends leadership and keep-alive, and waits for the latter.
func (n *naiveCandidate) stopKeepAlive() {
	n.mu.Lock()
	stop, done := n.stop, n.done
	n.stop, n.leader = nil, false
	n.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}
