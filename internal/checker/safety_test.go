package checker_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/internal/checker"
	"github.com/quorum-quest/client-go/pb"
)

// playSchedule runs one schedule in a bubble of its own.
func playSchedule(t *testing.T, seed uint64, cfg checker.SafetyConfig, newCandidate checker.NewCandidate) (rep checker.Report, err error) {
	t.Helper()
	synctest.Test(t, func(*testing.T) {
		rep, err = checker.RunSchedule(seed, cfg, newCandidate)
	})
	return rep, err
}

// The checker passes a small client that does what docs/safety.md asks:
// its lease runs from the send time, less 1% and 100ms. It is not the real
// client, so that the checker is shown to be right independently of it.
func TestSafetyCheckerPassesCarefulClient(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cfg   checker.SafetyConfig
		seeds uint64
	}{
		{"defaults", checker.SafetyConfig{}, 200},
		{"fractional TTL, two candidates", checker.SafetyConfig{TTL: 1500 * time.Millisecond, MinCandidates: 2, MaxCandidates: 2}, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg.WithDefaults()
			var changes, led int
			for seed := uint64(1); seed <= tc.seeds; seed++ {
				rep, err := playSchedule(t, seed, cfg, func(id string, stub pb.LeaderElectionServiceClient) (checker.Candidate, error) {
					return &carefulCandidate{stub: stub, id: id, cfg: cfg}, nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Recovery < 0 || rep.Recovery > rep.RecoveryBound || rep.Samples == 0 {
					t.Fatalf("seed %d: inconsistent report %+v", seed, rep)
				}
				changes += rep.LeadershipChanges
				led += rep.LeaderSamples
			}
			if changes == 0 || led == 0 {
				t.Fatalf("no leadership changes (%d) or no leader samples (%d) in %d schedules", changes, led, tc.seeds)
			}
		})
	}
}

// The careful client with one mistake each is caught within a few seeds,
// by the check meant for that mistake: the faults reach the edge of what a
// correct client must absorb, and the checker looks where the mistake
// shows.
func TestSafetyCheckerCatchesCarefulClientMistakes(t *testing.T) {
	cfg := checker.SafetyConfig{}.WithDefaults()
	driftOnly := time.Duration(0) // gives the whole margin up to clock jumps
	for _, tc := range []struct {
		name  string
		build func(c *carefulCandidate)
		check string
		what  string
	}{
		{"no margin", func(c *carefulCandidate) { c.margin = &driftOnly }, "e", "trusts its lease for"},
		{"lead context outlives the lease", func(c *carefulCandidate) { c.lazyLead = true }, "a", "the context Run gave lead is still live"},
		{"leadership ends after the release", func(c *carefulCandidate) { c.lateRelease = true }, "a", "while its ReleaseLock is in flight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 20; seed++ {
				rep, err := playSchedule(t, seed, cfg, func(id string, stub pb.LeaderElectionServiceClient) (checker.Candidate, error) {
					c := &carefulCandidate{stub: stub, id: id, cfg: cfg}
					tc.build(c)
					return c, nil
				})
				if err == nil {
					continue
				}
				for _, v := range rep.Violations {
					if v.Check == tc.check && strings.Contains(v.What, tc.what) {
						t.Logf("caught at seed %d: %v", seed, v)
						return
					}
				}
				t.Fatalf("seed %d: no violation of (%s) about %q in %v", seed, tc.check, tc.what, rep.Violations)
			}
			t.Fatal("passed 20 seeds")
		})
	}
}

// Each kind of broken candidate trips the check meant for it.
func TestSafetyCheckerFindsViolations(t *testing.T) {
	cfg := checker.SafetyConfig{}.WithDefaults()
	for _, tc := range []struct {
		name  string
		build checker.NewCandidate
		check string // a violation of this check must be reported
		what  string // and its description contain this
	}{
		{"leader without a lease", func(string, pb.LeaderElectionServiceClient) (checker.Candidate, error) {
			return &fakeCandidate{leads: true}, nil
		}, "a", "server's holder is nobody"},
		{"two leaders", func(string, pb.LeaderElectionServiceClient) (checker.Candidate, error) {
			return &fakeCandidate{leads: true}, nil
		}, "b", "candidates report leadership at once"},
		{"never leads", func(string, pb.LeaderElectionServiceClient) (checker.Candidate, error) {
			return &fakeCandidate{}, nil
		}, "c", "no candidate leads at the end"},
		{"panics", func(string, pb.LeaderElectionServiceClient) (checker.Candidate, error) {
			return &fakeCandidate{panics: true}, nil
		}, "d", "panicked"},
		{"leads after close", func(string, pb.LeaderElectionServiceClient) (checker.Candidate, error) {
			return &fakeCandidate{leads: true}, nil
		}, "d", "after Close"},
		{"ignores its context", func(string, pb.LeaderElectionServiceClient) (checker.Candidate, error) {
			return &fakeCandidate{hangs: make(chan struct{})}, nil
		}, "d", "still running"},
		{"asks for another lock", func(id string, stub pb.LeaderElectionServiceClient) (checker.Candidate, error) {
			return &fakeCandidate{stub: stub, id: id, domain: "elsewhere"}, nil
		}, "setup", `called for lock "safety"/"elsewhere"`},
		{"cannot be built", func(string, pb.LeaderElectionServiceClient) (checker.Candidate, error) {
			return nil, errors.New("no")
		}, "setup", "building candidate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const seed = 7
			rep, err := playSchedule(t, seed, cfg, tc.build)
			if err == nil || !strings.Contains(err.Error(), "seed 7") {
				t.Fatalf("err = %v; want one naming seed 7", err)
			}
			if rep.ViolationCount < len(rep.Violations) || len(rep.Violations) == 0 {
				t.Fatalf("report %+v", rep)
			}
			for _, v := range rep.Violations {
				if v.Check == tc.check && strings.Contains(v.What, tc.what) {
					return
				}
			}
			t.Fatalf("no violation of (%s) about %q in %v", tc.check, tc.what, rep.Violations)
		})
	}
}

func TestRunScheduleRefusesBadUse(t *testing.T) {
	build := func(string, pb.LeaderElectionServiceClient) (checker.Candidate, error) { return &fakeCandidate{}, nil }
	if _, err := checker.RunSchedule(1, checker.SafetyConfig{}, build); err == nil || !strings.Contains(err.Error(), "synctest") {
		t.Errorf("outside a bubble: %v", err)
	}
	for _, cfg := range []checker.SafetyConfig{
		{TTL: 500 * time.Millisecond},
		{RequestTimeout: 3 * time.Second},
		{MinCandidates: 5, MaxCandidates: 4},
		{MaxClockJump: 3 * time.Second},
		{QuietPhase: time.Second},
	} {
		synctest.Test(t, func(t *testing.T) {
			if _, err := checker.RunSchedule(1, cfg, build); err == nil || !strings.Contains(err.Error(), "invalid config") {
				t.Errorf("RunSchedule(%+v) = %v; want an invalid config", cfg, err)
			}
		})
	}
	synctest.Test(t, func(t *testing.T) {
		if _, err := checker.RunSchedule(1, checker.SafetyConfig{}, nil); err == nil {
			t.Error("nil NewCandidate accepted")
		}
	})
}

// With Log set, the timeline of faults and leadership is reported.
func TestRunScheduleLogsTimeline(t *testing.T) {
	cfg := checker.SafetyConfig{}.WithDefaults()
	var mu sync.Mutex
	var lines []string
	cfg.Log = func(at time.Duration, msg string) {
		mu.Lock()
		lines = append(lines, msg)
		mu.Unlock()
	}
	if _, err := playSchedule(t, 3, cfg, func(id string, stub pb.LeaderElectionServiceClient) (checker.Candidate, error) {
		return &carefulCandidate{stub: stub, id: id, cfg: cfg}, nil
	}); err != nil {
		t.Fatal(err)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{"leads", "faults stop"} {
		if !strings.Contains(all, want) {
			t.Errorf("timeline lacks %q:\n%s", want, all)
		}
	}
}

// carefulCandidate is a minimal client that keeps to docs/safety.md. It
// reports its remaining lease and can Run, so that the checker's reads of
// both are shown to raise no false alarm either.
type carefulCandidate struct {
	stub pb.LeaderElectionServiceClient
	id   string
	cfg  checker.SafetyConfig
	// Mistakes, for the tests that show the checker catches them: keep
	// only this much of each lease's margin; keep a lead context live past
	// the deadline, ending it only when told the lock is gone; give
	// leadership up only once the release has been answered.
	margin      *time.Duration
	lazyLead    bool
	lateRelease bool

	mu       sync.Mutex
	deadline time.Time // leads until then
	epoch    int       // bumped whenever leadership is given up or lost
	endLead  context.CancelFunc
	stop     context.CancelFunc
	done     chan struct{}
}

func (c *carefulCandidate) wireTTL() int32 {
	return int32((c.cfg.TTL + time.Second - 1) / time.Second)
}

// now returns the epoch, for a grant of a call sent now.
func (c *carefulCandidate) now() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// grant extends the lease to what a grant of a request sent at sent
// allows: the TTL from the send time, less 1% and 100ms. Any grant is the
// server's word that it held the lock for us from some instant after sent,
// unless we gave the lock up since (the epoch moved).
func (c *carefulCandidate) grant(sent time.Time, epoch int) {
	margin := 100 * time.Millisecond
	if c.margin != nil {
		margin = *c.margin
	}
	d := sent.Add(c.cfg.TTL - c.cfg.TTL/100 - margin)
	c.mu.Lock()
	if epoch == c.epoch && d.After(c.deadline) {
		c.deadline = d
	}
	c.mu.Unlock()
}

func (c *carefulCandidate) lose() {
	c.mu.Lock()
	c.deadline = time.Time{}
	c.epoch++
	if c.endLead != nil {
		c.endLead()
	}
	c.mu.Unlock()
}

func (c *carefulCandidate) TryAcquireLock(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	sent, epoch := time.Now(), c.now()
	resp, err := c.stub.TryAcquireLock(ctx, &pb.TryAcquireLockRequest{
		Service: c.cfg.Service, Domain: c.cfg.Domain, ClientId: c.id, Ttl: c.wireTTL(),
	})
	if err != nil {
		return c.IsLeader(), err
	}
	if resp.GetIsLeader() {
		c.grant(sent, epoch)
	}
	return c.IsLeader(), nil
}

func (c *carefulCandidate) StartKeepAlive(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stop != nil {
		return errors.New("keep-alive already running")
	}
	ctx, c.stop = context.WithCancel(ctx)
	c.done = make(chan struct{})
	go c.keepAlive(ctx, c.done)
	return nil
}

func (c *carefulCandidate) stopKeepAlive() {
	c.mu.Lock()
	stop, done := c.stop, c.done
	c.stop = nil
	c.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

func (c *carefulCandidate) keepAlive(ctx context.Context, done chan struct{}) {
	defer close(done)
	wait := c.cfg.TTL / 3
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		callCtx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
		sent, epoch := time.Now(), c.now()
		resp, err := c.stub.KeepAlive(callCtx, &pb.KeepAliveRequest{
			Service: c.cfg.Service, Domain: c.cfg.Domain, ClientId: c.id, Ttl: c.wireTTL(),
		})
		cancel()
		switch {
		case err != nil:
			wait = 100 * time.Millisecond // the lease runs on; retry soon
		case resp.GetLeaseLength().AsDuration() >= c.cfg.TTL:
			c.grant(sent, epoch)
			wait = c.cfg.TTL / 3
		default:
			c.lose()
			wait = c.cfg.TTL / 3
		}
	}
}

func (c *carefulCandidate) IsLeader() bool { return c.GetRemainingLease() > 0 }

func (c *carefulCandidate) GetRemainingLease() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return max(time.Until(c.deadline), 0)
}

// ReleaseLock gives leadership up, keep-alive included, before it sends
// the release.
func (c *carefulCandidate) ReleaseLock(ctx context.Context) error {
	c.stopKeepAlive()
	if !c.lateRelease {
		c.lose()
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	_, err := c.stub.ReleaseLock(ctx, &pb.ReleaseLockRequest{Service: c.cfg.Service, Domain: c.cfg.Domain, ClientId: c.id})
	c.lose()
	return err
}

// Run campaigns every 200ms and runs lead while leading, with a context
// that ends at the lease's deadline or when leadership is lost; then it
// releases the lock and campaigns again, until ctx ends.
func (c *carefulCandidate) Run(ctx context.Context, lead func(context.Context)) error {
	for {
		for !c.IsLeader() {
			if ok, _ := c.TryAcquireLock(ctx); ok {
				break
			}
			t := time.NewTimer(200 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		_ = c.StartKeepAlive(context.WithoutCancel(ctx))
		leading, cancel := context.WithCancel(ctx)
		c.mu.Lock()
		c.endLead = cancel
		c.mu.Unlock()
		watched := make(chan struct{})
		go func() { // ends leading at the deadline, wherever it has moved
			defer close(watched)
			for {
				left := c.GetRemainingLease()
				if c.lazyLead {
					left = time.Hour // ended by lose() alone
				}
				if left <= 0 {
					cancel()
					return
				}
				t := time.NewTimer(left)
				select {
				case <-leading.Done():
					t.Stop()
					return
				case <-t.C:
				}
			}
		}()
		lead(leading)
		cancel()
		<-watched
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.RequestTimeout)
		_ = c.ReleaseLock(rctx)
		rcancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

func (c *carefulCandidate) Close() error {
	c.stopKeepAlive()
	c.lose()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RequestTimeout)
	defer cancel()
	_, err := c.stub.ReleaseLock(ctx, &pb.ReleaseLockRequest{Service: c.cfg.Service, Domain: c.cfg.Domain, ClientId: c.id})
	return err
}

// fakeCandidate breaks the rules on purpose.
type fakeCandidate struct {
	leads  bool          // IsLeader always true, even after Close
	panics bool          // TryAcquireLock panics
	hangs  chan struct{} // TryAcquireLock blocks until Close, ignoring ctx
	stub   pb.LeaderElectionServiceClient
	id     string
	domain string // with stub: asks for this domain
	once   sync.Once
}

func (f *fakeCandidate) TryAcquireLock(ctx context.Context) (bool, error) {
	switch {
	case f.panics:
		panic("fake candidate panics")
	case f.hangs != nil:
		<-f.hangs
	case f.stub != nil:
		ctx, cancel := context.WithTimeout(ctx, checker.DefaultSafetyRequestTimeout)
		defer cancel()
		resp, err := f.stub.TryAcquireLock(ctx, &pb.TryAcquireLockRequest{Service: "safety", Domain: f.domain, ClientId: f.id, Ttl: 2})
		return resp.GetIsLeader(), err
	}
	return f.leads, nil
}

func (f *fakeCandidate) StartKeepAlive(context.Context) error { return nil }
func (f *fakeCandidate) ReleaseLock(context.Context) error    { return nil }
func (f *fakeCandidate) IsLeader() bool                       { return f.leads }
func (f *fakeCandidate) Close() error {
	if f.hangs != nil {
		f.once.Do(func() { close(f.hangs) })
	}
	return nil
}
