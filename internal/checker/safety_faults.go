package checker

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// Salts separate the random streams one seed drives, so that drawing more
// from one (a longer run samples more often) never shifts another.
const (
	saltPlan     = 0x706c616e // the schedule
	saltSamples  = 0x73616d70 // sample instants
	saltCampaign = 0x63616d70 // + candidate index: start stagger and retry jitter
	saltCall     = 0x63616c6c // the fault function
	saltStub     = 0x73747562 // response delays
	saltBehave   = 0x62687673 // how candidates campaign, and edge responses
	saltActions  = 0x61637473 // + candidate index: its releases, closes, holds and lives
)

// plan is a schedule drawn from a seed: the candidates and how each
// campaigns, the per-call fault profile and the timed faults of the fault
// phase.
type plan struct {
	candidates int
	behaviours []behaviour
	calls      callProfile
	events     []event
}

// callProfile gives the probability of each per-call fault, for every call
// of the fault phase. edgeResponse is the share of the delayed answers
// held until the instant before their caller's deadline: the longest a
// client can wait for an answer it still takes, and so the one that most
// punishes a client measuring its lease from the answer.
type callProfile struct {
	delay, err, dropRequest, dropResponse, responseDelay, edgeResponse float64
	maxDelay, maxResponseDelay                                         time.Duration
}

func newPlan(seed uint64, cfg SafetyConfig) plan {
	rng := rand.New(rand.NewPCG(seed, saltPlan))
	between := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	ttls := func(lo, hi float64) time.Duration { return time.Duration(between(lo, hi) * float64(cfg.TTL)) }
	on := func(p float64) bool { return rng.Float64() < p }
	fault := cfg.FaultPhase

	p := plan{candidates: cfg.MinCandidates + rng.IntN(cfg.MaxCandidates-cfg.MinCandidates+1)}

	// Per-call faults: each kind is on in some schedules, at a rate of its own.
	if on(0.6) {
		p.calls.delay = between(0, 0.3)
		// Up to a little beyond the timeout, so some calls time out waiting.
		p.calls.maxDelay = time.Duration(between(0.1, 1.2) * float64(cfg.RequestTimeout))
	}
	if on(0.6) {
		p.calls.err = between(0, 0.2)
	}
	if on(0.6) {
		p.calls.dropRequest = between(0, 0.1)
	}
	if on(0.6) {
		p.calls.dropResponse = between(0, 0.1)
	}
	if on(0.6) {
		p.calls.responseDelay = between(0, 0.3)
		p.calls.maxResponseDelay = time.Duration(between(0.1, 1) * float64(cfg.RequestTimeout))
	}

	// Partitions of single candidates, possibly overlapping.
	if on(0.7) {
		for i := range p.candidates {
			for range rng.IntN(3) {
				at := time.Duration(rng.Int64N(int64(fault)))
				until := min(at+ttls(0.1, 2.5), fault)
				p.events = append(p.events,
					event{at: at, what: "partition", do: func(r *run) { r.partition(i) }},
					event{at: until, what: "heal", do: func(r *run) { r.heal(i) }})
			}
		}
	}

	// Partitions of whoever holds the lock at the time: the faults that
	// force a handover.
	if on(0.7) {
		for range 1 + rng.IntN(4) {
			at := time.Duration(rng.Int64N(int64(fault)))
			d := ttls(0.3, 2)
			p.events = append(p.events, event{at: at, what: "partition holder", do: func(r *run) { r.partitionHolder(at, d) }})
		}
	}

	// Server-wide episodes, one at a time: pauses and restarts. A restart
	// gets a slot long enough for its longest hold (a lease) and the calls
	// waiting on its pause (RequestTimeout), and ends within the fault phase.
	if on(0.7) {
		t := ttls(0.2, 1)
	episodes:
		for {
			t += ttls(0.3, 2)
			switch kind := rng.IntN(4); kind {
			case 0:
				d := ttls(0.05, 1.5)
				if t+d >= fault {
					break episodes
				}
				p.events = append(p.events,
					event{at: t, what: "pause", do: (*run).pause},
					event{at: t + d, what: "resume", do: (*run).resume})
				t += d
			case 1, 2:
				isolated := kind == 2
				slot := cfg.serverTTL() + cfg.RequestTimeout + 10*time.Millisecond
				if t+slot >= fault {
					break episodes
				}
				p.events = append(p.events, event{at: t, what: "restart", slot: slot, do: func(r *run) { r.restart(isolated) }})
				t += slot
			default: // a quiet stretch
				if t >= fault {
					break episodes
				}
			}
		}
	}
	p.behaviours = newBehaviours(seed, p.candidates)
	if p.calls.responseDelay > 0 {
		edge := rand.New(rand.NewPCG(seed, saltBehave+1))
		if edge.Float64() < 0.5 {
			p.calls.edgeResponse = 0.1 + 0.4*edge.Float64()
		}
	}
	return p.withJumps(rng, cfg, ttls, on)
}

// withJumps adds forward jumps of the server clock, each at most
// MaxClockJump and more than a lease after the last, so that no lease
// sees more than one: a server clock running up to MaxClockJump/TTL fast.
// Half of them are exactly MaxClockJump, all that a lease can lose and
// stay safe: a client that gives up even a nanosecond less is caught
// whenever such a lease is checked.
func (p plan) withJumps(rng *rand.Rand, cfg SafetyConfig, ttls func(lo, hi float64) time.Duration, on func(float64) bool) plan {
	if cfg.MaxClockJump <= 0 || !on(0.6) {
		return p
	}
	for t := ttls(0.2, 1.5); t < cfg.FaultPhase; t += cfg.serverTTL() + ttls(0.01, 1.5) {
		j := cfg.MaxClockJump
		if !on(0.5) {
			j = 1 + time.Duration(rng.Int64N(int64(cfg.MaxClockJump)))
		}
		p.events = append(p.events, event{at: t, what: "jump", slot: j, do: func(r *run) { r.jump(j) }})
	}
	return p
}

// callFault is the server's fault function during the fault phase. Its
// decision is a function of the seed, the caller, the method and how many
// calls of that method the caller made before, never of the order in which
// goroutines happen to run at one virtual instant.
func (r *run) callFault(c qqtest.Call) qqtest.Fault {
	key := callKey{c.ClientID, string(c.Method)}
	r.mu.Lock()
	n := r.calls[key]
	r.calls[key] = n + 1
	r.mu.Unlock()

	d := newDraw(r.seed, saltCall, hashString(c.ClientID), hashString(string(c.Method)), n)
	uDelay, uDelayLen, uFate, uCode, uResponse := d.float(), d.float(), d.float(), d.float(), d.float()
	prof := r.plan.calls
	var f qqtest.Fault
	if uDelay < prof.delay {
		f.Delay = time.Duration(uDelayLen * float64(prof.maxDelay))
	}
	switch {
	case uFate < prof.dropRequest:
		f.DropRequest = true
	case uFate < prof.dropRequest+prof.err:
		f.Code = codes.Unavailable
		if uCode < 0.5 {
			f.Code = codes.DeadlineExceeded
		}
	case uResponse < prof.dropResponse:
		f.DropResponse = true
	}
	if f != (qqtest.Fault{}) {
		r.logf("%s %s #%d: %+v", c.ClientID, c.Method, n, f)
	}
	r.count(func(c *FaultCounts) {
		if f.Delay > 0 {
			c.Delays++
		}
		switch {
		case f.DropRequest:
			c.DroppedRequests++
		case f.Code != codes.OK:
			c.Errors++
		case f.DropResponse:
			c.DroppedResponses++
		}
	})
	return f
}

// checkedStub is the stub a candidate gets: the server's in-process stub,
// plus a delay on the way back for some answers (the fault function can
// only delay requests), plus a check that the candidate asks for the
// configured lock under its own ID, plus a look at the candidate's
// leadership from inside each of its releases.
type checkedStub struct {
	r      *run
	cand   int
	id     string
	idHash uint64
	inner  pb.LeaderElectionServiceClient
	inc    *incarnation
	n      [3]atomic.Uint64 // answers so far, per method
}

const (
	stubTryAcquire = iota
	stubKeepAlive
	stubRelease
)

func (s *checkedStub) TryAcquireLock(ctx context.Context, in *pb.TryAcquireLockRequest, opts ...grpc.CallOption) (*pb.TryAcquireLockResponse, error) {
	s.check(in.GetService(), in.GetDomain(), in.GetClientId())
	resp, err := s.inner.TryAcquireLock(ctx, in, opts...)
	return answer(ctx, s, stubTryAcquire, resp, err)
}

func (s *checkedStub) KeepAlive(ctx context.Context, in *pb.KeepAliveRequest, opts ...grpc.CallOption) (*pb.KeepAliveResponse, error) {
	s.check(in.GetService(), in.GetDomain(), in.GetClientId())
	resp, err := s.inner.KeepAlive(ctx, in, opts...)
	return answer(ctx, s, stubKeepAlive, resp, err)
}

func (s *checkedStub) ReleaseLock(ctx context.Context, in *pb.ReleaseLockRequest, opts ...grpc.CallOption) (*pb.ReleaseLockResponse, error) {
	s.check(in.GetService(), in.GetDomain(), in.GetClientId())
	// In this order, which read counts on: a release counted as started
	// is already counted in flight.
	s.r.releasesInFlight.Add(1)
	s.r.releasesStarted.Add(1)
	resp, err := s.inner.ReleaseLock(ctx, in, opts...)
	// The server has had the release, or never will: either way a
	// candidate that still reports leadership must still hold the lock.
	s.r.releaseSample(s.inc)
	s.r.releasesInFlight.Add(-1)
	return answer(ctx, s, stubRelease, resp, err)
}

func (s *checkedStub) check(service, domain, id string) {
	r := s.r
	if service == r.cfg.Service && domain == r.cfg.Domain && id == s.id {
		return
	}
	r.mu.Lock()
	first := !r.seenID[s.cand]
	r.seenID[s.cand] = true
	r.mu.Unlock()
	if first {
		r.violate("setup", "candidate %s called for lock %q/%q as %q; it must use %q/%q as %q",
			s.id, service, domain, id, r.cfg.Service, r.cfg.Domain, s.id)
	}
}

// answer returns a successful answer after the response delay drawn for
// it, or the context's status if the caller gives up first: the server
// applied the call, but its answer is lost.
func answer[T any](ctx context.Context, s *checkedStub, method int, resp T, err error) (T, error) {
	if err != nil {
		return resp, err
	}
	n := s.n[method].Add(1) - 1
	prof := s.r.plan.calls
	if !s.r.faulty.Load() || prof.responseDelay == 0 {
		return resp, nil
	}
	d := newDraw(s.r.seed, saltStub, s.idHash, uint64(method), n)
	if d.float() >= prof.responseDelay {
		return resp, nil
	}
	delay := time.Duration(d.float() * float64(prof.maxResponseDelay))
	edge := false
	if deadline, ok := ctx.Deadline(); ok && d.float() < prof.edgeResponse {
		// Answered at the last instant the caller still takes it.
		delay, edge = max(time.Until(deadline)-time.Nanosecond, 0), true
	}
	s.r.count(func(c *FaultCounts) {
		c.ResponseDelays++
		if edge {
			c.EdgeResponses++
		}
	})
	s.r.logf("%s answer of call #%d (method %d) delayed %v", s.id, n, method, delay)
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return resp, nil
	case <-ctx.Done():
		var zero T
		return zero, contextStatus(ctx)
	}
}

// draw is a small counter-based generator: the same inputs give the same
// numbers, whatever else ran before.
type draw struct{ state uint64 }

const golden = 0x9e3779b97f4a7c15

func newDraw(parts ...uint64) draw {
	var s uint64
	for _, p := range parts {
		s = mix64(s^p) + golden
	}
	return draw{s}
}

// float returns a number in [0, 1).
func (d *draw) float() float64 {
	d.state += golden
	return float64(mix64(d.state)>>11) / (1 << 53)
}

// mix64 is the SplitMix64 finaliser: a bijection that spreads every input
// bit over the output.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
