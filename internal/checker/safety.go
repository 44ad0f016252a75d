package checker

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
)

// Candidate is what the safety checker drives: the part of a
// leader-election client that campaigns for one lock.
// *client.QuorumQuestClient implements it.
type Candidate interface {
	TryAcquireLock(ctx context.Context) (bool, error)
	StartKeepAlive(ctx context.Context) error
	IsLeader() bool
	Close() error
}

// NewCandidate builds the candidate called id, which must campaign for the
// lock SafetyConfig.Service/Domain with lease SafetyConfig.TTL, under client
// ID id, through stub and nothing else, and bound every call by
// SafetyConfig.RequestTimeout.
type NewCandidate func(id string, stub pb.LeaderElectionServiceClient) (Candidate, error)

// SafetyConfig shapes the schedules RunSchedule plays. The zero value of a
// field means its default.
type SafetyConfig struct {
	// Service and Domain name the lock every candidate campaigns for
	// (defaults "safety" and "checker").
	Service, Domain string
	// TTL is the lease the candidates ask for (default 2s, at least 1s).
	TTL time.Duration
	// RequestTimeout is an upper bound on every call a candidate makes
	// (default 500ms). The checker relies on it: a restart that isolates
	// the old holder waits this long for calls already at the server to
	// end, and the liveness bound includes it.
	RequestTimeout time.Duration
	// RetryInterval is how often a candidate that does not lead calls
	// TryAcquireLock (default 500ms); each wait is jittered to between
	// 0.8 and 1.2 times it.
	RetryInterval time.Duration
	// FaultPhase is how long faults are injected, from the start (default
	// 6 TTLs). QuietPhase follows it without faults (default the liveness
	// bound plus a TTL, so that the leader found must also keep the lock).
	FaultPhase, QuietPhase time.Duration
	// SamplePeriod is the mean time between two samples of every
	// candidate's IsLeader on a grid (default 50ms); each gap is jittered
	// to between 0.5 and 1.5 times it. More samples are taken at the
	// instant every lease the server holds would expire, by its clock.
	SamplePeriod time.Duration
	// MinCandidates and MaxCandidates bound how many candidates a schedule
	// runs (defaults 3 and 7).
	MinCandidates, MaxCandidates int
	// MaxClockJump is the largest forward jump of the server clock (default
	// 20ms). Jumps are at least a TTL apart, so a lease sees at most one:
	// the client must give up at least this much of every lease (its drift
	// allowance and safety margin) or it is not safe. 0 disables jumps.
	MaxClockJump time.Duration
	// Log, if not nil, receives the schedule's timeline as it is played:
	// every fault, every leadership interval seen, every violation. For
	// replaying one seed; it may be called from several goroutines.
	Log func(at time.Duration, msg string)
}

// Default values of SafetyConfig.
const (
	DefaultSafetyTTL            = 2 * time.Second
	DefaultSafetyRequestTimeout = 500 * time.Millisecond
	DefaultSafetyRetryInterval  = 500 * time.Millisecond
	DefaultSafetySamplePeriod   = 50 * time.Millisecond
	DefaultSafetyMaxClockJump   = 20 * time.Millisecond
)

// WithDefaults returns c with every zero field set to its default.
func (c SafetyConfig) WithDefaults() SafetyConfig {
	if c.Service == "" {
		c.Service = "safety"
	}
	if c.Domain == "" {
		c.Domain = "checker"
	}
	if c.TTL == 0 {
		c.TTL = DefaultSafetyTTL
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultSafetyRequestTimeout
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = DefaultSafetyRetryInterval
	}
	if c.FaultPhase == 0 {
		c.FaultPhase = 6 * c.TTL
	}
	if c.QuietPhase == 0 {
		c.QuietPhase = c.LivenessBound() + c.TTL
	}
	if c.SamplePeriod == 0 {
		c.SamplePeriod = DefaultSafetySamplePeriod
	}
	if c.MinCandidates == 0 {
		c.MinCandidates = 3
	}
	if c.MaxCandidates == 0 {
		c.MaxCandidates = max(7, c.MinCandidates)
	}
	if c.MaxClockJump == 0 {
		c.MaxClockJump = DefaultSafetyMaxClockJump
	}
	return c
}

// LivenessBound is how long after the faults stop some candidate must lead
// again for good: a lease the server granted before then runs out within a
// TTL; every candidate's call in flight ends within RequestTimeout, however
// the faults left it (a dropped request hangs until its deadline); and the
// next TryAcquireLock follows within the longest jittered retry interval.
// Call it on a config with defaults applied.
func (c SafetyConfig) LivenessBound() time.Duration {
	return c.serverTTL() + c.maxRetry() + c.RequestTimeout
}

// serverTTL is the longest lease the server grants for TTL: the wire
// carries whole seconds, so a client rounds a fraction up.
func (c SafetyConfig) serverTTL() time.Duration {
	return (c.TTL + time.Second - 1) / time.Second * time.Second
}

func (c SafetyConfig) maxRetry() time.Duration { return c.RetryInterval * 6 / 5 }

func (c SafetyConfig) validate() error {
	switch {
	case c.TTL < time.Second:
		return fmt.Errorf("TTL %v is below the wire's 1s", c.TTL)
	case c.RequestTimeout <= 0 || c.RequestTimeout >= c.TTL:
		return fmt.Errorf("RequestTimeout %v is not in (0, TTL)", c.RequestTimeout)
	case c.RetryInterval <= 0:
		return fmt.Errorf("RetryInterval %v is not positive", c.RetryInterval)
	case c.FaultPhase < 0:
		return fmt.Errorf("FaultPhase %v is negative", c.FaultPhase)
	case c.QuietPhase <= c.LivenessBound():
		return fmt.Errorf("QuietPhase %v must exceed the liveness bound %v", c.QuietPhase, c.LivenessBound())
	case c.SamplePeriod <= 0:
		return fmt.Errorf("SamplePeriod %v is not positive", c.SamplePeriod)
	case c.MinCandidates < 1 || c.MaxCandidates < c.MinCandidates:
		return fmt.Errorf("candidates [%d, %d] is not a range of at least 1", c.MinCandidates, c.MaxCandidates)
	case c.MaxClockJump < 0 || c.MaxClockJump >= c.TTL:
		return fmt.Errorf("MaxClockJump %v is not in [0, TTL)", c.MaxClockJump)
	}
	return nil
}

// Report is what one schedule did and found. Times are virtual and
// measured from the start of the schedule.
type Report struct {
	Seed       uint64
	Candidates int
	// Samples is the number of instants at which every candidate's
	// IsLeader was read; LeaderSamples those at which one led, and
	// TargetedSamples those taken at the instant a lease would expire.
	Samples, LeaderSamples, TargetedSamples int
	// LeadershipChanges counts handovers: a sample led by a candidate other
	// than the one that led the previous led sample. Intervals counts runs
	// of consecutive samples led by one candidate.
	LeadershipChanges, Intervals int
	// FaultsEnd is when the faults stopped; Recovery how long after that
	// the candidates went without a leader before one led for good, and
	// RecoveryBound the most the checker allows (SafetyConfig.LivenessBound).
	FaultsEnd, Recovery, RecoveryBound time.Duration
	Faults                             FaultCounts
	// Violations found, in the order found: the first 20, and the first
	// of each check after those. ViolationCount counts them all.
	Violations     []Violation
	ViolationCount int
}

// FaultCounts counts the faults a schedule injected.
type FaultCounts struct {
	Partitions, Pauses, DelayedRestarts, IsolatedRestarts, ClockJumps int
	// Per-call faults, decided by the fault function and the stub wrapper.
	Delays, Errors, DroppedRequests, DroppedResponses, ResponseDelays int
}

// Add returns the sum of c and d.
func (c FaultCounts) Add(d FaultCounts) FaultCounts {
	return FaultCounts{
		Partitions: c.Partitions + d.Partitions, Pauses: c.Pauses + d.Pauses,
		DelayedRestarts: c.DelayedRestarts + d.DelayedRestarts, IsolatedRestarts: c.IsolatedRestarts + d.IsolatedRestarts,
		ClockJumps: c.ClockJumps + d.ClockJumps, Delays: c.Delays + d.Delays, Errors: c.Errors + d.Errors,
		DroppedRequests: c.DroppedRequests + d.DroppedRequests, DroppedResponses: c.DroppedResponses + d.DroppedResponses,
		ResponseDelays: c.ResponseDelays + d.ResponseDelays,
	}
}

// Violation is one broken property.
type Violation struct {
	At time.Duration // virtual time since the start of the schedule
	// Check is "a" (leadership without a lease), "b" (two leaders), "c"
	// (liveness), "d" (panic, hang or leadership after Close) or "setup".
	Check string
	What  string
}

func (v Violation) String() string { return fmt.Sprintf("(%s) at %v: %s", v.Check, v.At, v.What) }

const maxViolations = 20

// RunSchedule plays the schedule of seed against candidates built by
// newCandidate and checks it; see docs/safety.md. It must be called inside
// a testing/synctest bubble: schedules last tens of seconds of virtual time,
// and their timing is only reproducible there.
//
// From the seed it picks 3 to 7 candidates and a fault phase mixing
// partitions of single candidates, server pauses, server restarts that lose
// state, forward jumps of the server clock and per-call faults (delays,
// status codes, lost requests, lost and delayed responses); then the faults
// stop and a quiet phase follows. Every candidate campaigns throughout, and
// every candidate's IsLeader is sampled at the same virtual instants. The
// checks:
//
//	(a) a candidate reporting leadership holds the lock by the server's
//	    clock at that instant (Server.Holder), and, by the server's final
//	    record (Server.History), inside a tenure granted to it;
//	(b) no two candidates report leadership at the same instant;
//	(c) after the faults stop, some candidate leads for good within
//	    LivenessBound;
//	(d) no candidate panics or hangs, and none leads after Close.
//
// The error, if any, names the seed and the first violations; the Report
// has them all.
func RunSchedule(seed uint64, cfg SafetyConfig, newCandidate NewCandidate) (Report, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return Report{Seed: seed}, fmt.Errorf("safety: seed %d: invalid config: %w", seed, err)
	}
	if newCandidate == nil {
		return Report{Seed: seed}, fmt.Errorf("safety: seed %d: nil NewCandidate", seed)
	}
	// A bubble's clock starts at midnight UTC, 1 January 2000; real time
	// never reads that year. Running outside a bubble would take real
	// minutes and make the schedule's timing irreproducible.
	if time.Now().Year() != 2000 {
		return Report{Seed: seed}, fmt.Errorf("safety: seed %d: RunSchedule must run inside a testing/synctest bubble", seed)
	}
	var rep Report
	// Every goroutine started from here (the client's own included)
	// carries the seed as a label, shown in crash tracebacks with
	// GODEBUG=tracebacklabels=1.
	pprof.Do(context.Background(), pprof.Labels("safety.seed", strconv.FormatUint(seed, 10)), func(context.Context) {
		rep = newRun(seed, cfg).play(newCandidate)
	})
	if rep.ViolationCount == 0 {
		return rep, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "safety: seed %d: %d violation(s) with %d candidates", seed, rep.ViolationCount, rep.Candidates)
	for i, v := range rep.Violations {
		if i == 5 {
			fmt.Fprintf(&b, "\n  ...")
			break
		}
		fmt.Fprintf(&b, "\n  %s", v)
	}
	return rep, errors.New(b.String())
}

// run is one schedule in progress. Fields below driver-only are touched
// only by the goroutine that called RunSchedule.
type run struct {
	seed  uint64
	cfg   SafetyConfig
	srv   *qqtest.Server
	start time.Time
	plan  plan

	ids    []string
	cands  []Candidate
	faulty atomic.Bool // per-call faults are on (the fault phase)

	mu     sync.Mutex // guards rep.Violations/ViolationCount and rep.Faults
	rep    Report
	calls  map[callKey]uint64 // per candidate and method, as the fault function saw them
	seenID map[int]bool       // candidates already reported for a bad request

	// driver-only
	events   eventQueue
	offset   time.Duration // the server clock's current offset
	cut      []int         // scheduled partitions in force, per candidate
	isolated []bool        // cut off by an isolated restart
	paused   bool
	wiped    map[int]time.Time // tenure index -> expiry it had when a restart wiped it
	leading  []bool            // per candidate, whether it led at the last sample
	leadBuf  []int             // scratch: who leads at this sample
	expiry   time.Duration     // when the server's current lease expires, 0 if none
	led      []ledSample       // every sample of a leading candidate
	lastLead int               // candidate that led the last led sample, -1 at first
	recovery struct {
		sawGap  bool          // a sample after the faults had no leader
		endedAt time.Duration // the first led sample after the last such gap, -1 if none yet
	}
	brokenIsLeader []bool // candidates whose IsLeader panicked, reported once
}

type callKey struct {
	id     string
	method string
}

// ledSample is a sample at which a candidate led, in virtual time since the
// start and by the server's clock.
type ledSample struct {
	cand int
	at   time.Duration
	srv  time.Time
}

func newRun(seed uint64, cfg SafetyConfig) *run {
	r := &run{
		seed: seed, cfg: cfg,
		srv:      qqtest.NewUnstartedServer(),
		start:    time.Now(),
		calls:    map[callKey]uint64{},
		seenID:   map[int]bool{},
		wiped:    map[int]time.Time{},
		lastLead: -1,
	}
	r.plan = newPlan(seed, cfg)
	r.rep = Report{Seed: seed, Candidates: r.plan.candidates, FaultsEnd: cfg.FaultPhase, RecoveryBound: cfg.LivenessBound()}
	return r
}

func (r *run) since() time.Duration { return time.Since(r.start) }

func (r *run) logf(format string, args ...any) {
	if r.cfg.Log != nil {
		r.cfg.Log(r.since(), fmt.Sprintf(format, args...))
	}
}

// violate records a violation; safe from any goroutine.
func (r *run) violate(check, format string, args ...any) {
	at := r.since()
	r.logf("VIOLATION (%s): "+format, append([]any{check}, args...)...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.ViolationCount++
	keep := len(r.rep.Violations) < maxViolations
	if !keep { // still keep the first of each check
		keep = !slices.ContainsFunc(r.rep.Violations, func(v Violation) bool { return v.Check == check })
	}
	if keep {
		r.rep.Violations = append(r.rep.Violations, Violation{At: at, Check: check, What: fmt.Sprintf(format, args...)})
	}
}

func (r *run) count(f func(*FaultCounts)) {
	r.mu.Lock()
	f(&r.rep.Faults)
	r.mu.Unlock()
}

func (r *run) play(newCandidate NewCandidate) Report {
	n := r.plan.candidates
	r.cut, r.isolated, r.leading, r.brokenIsLeader = make([]int, n), make([]bool, n), make([]bool, n), make([]bool, n)
	for i := range n {
		id := fmt.Sprintf("s%d-c%d", r.seed, i)
		c, err := r.build(newCandidate, id, &checkedStub{r: r, cand: i, id: id, idHash: hashString(id), inner: r.srv.Stub()})
		if err != nil {
			r.violate("setup", "building candidate %s: %v", id, err)
			r.closeAll()
			return r.report()
		}
		r.ids, r.cands = append(r.ids, id), append(r.cands, c)
	}

	r.faulty.Store(true)
	r.srv.SetFaultFunc(r.callFault)
	for _, e := range r.plan.events {
		r.events.push(e)
	}
	r.events.push(event{at: r.cfg.FaultPhase, do: (*run).endFaults})

	ctx, cancel := context.WithCancel(context.Background())
	var campaigns sync.WaitGroup
	for i := range r.cands {
		campaigns.Add(1)
		go r.campaign(ctx, i, &campaigns)
	}

	// The driver: faults at their times, samples on a jittered grid and at
	// every instant the server's current lease would expire.
	end := r.cfg.FaultPhase + r.cfg.QuietPhase
	samples := rand.New(rand.NewPCG(r.seed, saltSamples))
	grid := r.jitteredSample(samples)
	r.sample()
	for {
		at, next := grid, r.sample
		if r.expiry > 0 && r.expiry < at {
			at, next = r.expiry, r.targetedSample
		}
		if r.events.Len() > 0 && r.events.peek().at <= at {
			e := r.events.pop()
			at, next = e.at, func() {
				e.do(r)
				r.retarget()
			}
		}
		if at > end {
			break
		}
		r.sleepUntil(at)
		next()
		if at == grid {
			grid += r.jitteredSample(samples)
		}
	}
	r.finishSamples()
	// Virtual: so that a release by Close ends its tenure strictly after the
	// last sample.
	time.Sleep(time.Microsecond)

	cancel()
	if !r.wait(&campaigns, r.grace()) {
		r.violate("d", "campaign goroutines still running %v after their context ended: TryAcquireLock or StartKeepAlive ignores its context", r.grace())
	}
	r.closeAll()
	r.checkIntervals()
	return r.report()
}

func (r *run) report() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rep
}

func (r *run) build(newCandidate NewCandidate, id string, stub pb.LeaderElectionServiceClient) (c Candidate, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	c, err = newCandidate(id, stub)
	if err == nil && c == nil {
		err = errors.New("nil candidate")
	}
	return c, err
}

func (r *run) grace() time.Duration { return max(time.Minute, 10*(r.cfg.TTL+r.cfg.RequestTimeout)) }

func (r *run) sleepUntil(at time.Duration) {
	if d := at - r.since(); d > 0 {
		time.Sleep(d) // virtual: advances the schedule
	}
}

func (r *run) jitteredSample(rng *rand.Rand) time.Duration {
	return r.cfg.SamplePeriod/2 + time.Duration(rng.Int64N(int64(r.cfg.SamplePeriod)+1))
}

// wait waits for wg, at most d of virtual time.
func (r *run) wait(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// campaign is candidate i's loop: lead, or try to, every retry interval.
func (r *run) campaign(ctx context.Context, i int, wg *sync.WaitGroup) {
	defer wg.Done()
	defer func() {
		if p := recover(); p != nil {
			r.violate("d", "candidate %s panicked: %v\n%s", r.ids[i], p, debug.Stack())
		}
	}()
	c := r.cands[i]
	rng := rand.New(rand.NewPCG(r.seed, saltCampaign+uint64(i)))
	wait := time.Duration(rng.Int64N(int64(r.cfg.RetryInterval))) // stagger the start
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if c.IsLeader() {
			_ = c.StartKeepAlive(ctx) // usually "already running"
		} else if ok, _ := c.TryAcquireLock(ctx); ok {
			_ = c.StartKeepAlive(ctx)
		}
		wait = r.cfg.RetryInterval*4/5 + time.Duration(rng.Int64N(int64(r.cfg.RetryInterval*2/5)+1))
	}
}

// isLeader reads candidate i's IsLeader; a panic counts as not leading
// and is reported once.
func (r *run) isLeader(i int) (leads bool) {
	defer func() {
		if p := recover(); p != nil {
			leads = false
			if !r.brokenIsLeader[i] {
				r.brokenIsLeader[i] = true
				r.violate("d", "IsLeader of %s panicked: %v\n%s", r.ids[i], p, debug.Stack())
			}
		}
	}()
	return r.cands[i].IsLeader()
}

// targetedSample is a sample at the instant the lease the server last
// showed would expire, unless renewed: where a client that overruns its
// lease is first wrong.
func (r *run) targetedSample() {
	r.rep.TargetedSamples++
	r.sample()
}

// retarget aims the next targeted sample at the expiry of the server's
// current lease, in virtual time.
func (r *run) retarget() {
	_, expires, held := r.srv.Lease(r.cfg.Service, r.cfg.Domain)
	r.aim(held, expires, time.Now().Add(r.offset))
}

func (r *run) aim(held bool, expires, srvNow time.Time) {
	r.expiry = 0
	if held {
		r.expiry = r.since() + expires.Sub(srvNow)
	}
}

// sample reads every candidate's IsLeader at one virtual instant, then the
// server's holder, and checks (a) and (b) on the spot. The holder is read
// last: a lease a candidate trusts cannot end at the instant it is trusted,
// while a grant made at this instant may already show in IsLeader.
func (r *run) sample() {
	at := r.since()
	srvNow := time.Now().Add(r.offset)
	leading := r.leadBuf[:0]
	for i := range r.cands {
		if r.isLeader(i) {
			leading = append(leading, i)
		}
	}
	r.leadBuf = leading
	holder, expires, held := r.srv.Lease(r.cfg.Service, r.cfg.Domain)
	r.aim(held, expires, srvNow)
	r.rep.Samples++
	for _, i := range leading {
		if held && holder == r.ids[i] || r.wipedLeaseCovers(r.ids[i], srvNow) {
			continue
		}
		who := "nobody"
		if held {
			who = holder
		}
		r.violate("a", "%s reports leadership but the server's holder is %s (server clock %v)", r.ids[i], who, srvNow.Sub(r.start))
	}
	if len(leading) > 1 {
		names := make([]string, len(leading))
		for k, i := range leading {
			names[k] = r.ids[i]
		}
		r.violate("b", "%d candidates report leadership at once: %s", len(leading), strings.Join(names, ", "))
	}
	if len(leading) > 0 {
		r.rep.LeaderSamples++
		if l := leading[0]; l != r.lastLead {
			if r.lastLead >= 0 {
				r.rep.LeadershipChanges++
			}
			r.lastLead = l
		}
	}

	// Leadership intervals, checked against the server's history at the end.
	for _, i := range leading {
		r.led = append(r.led, ledSample{cand: i, at: at, srv: srvNow})
	}
	for i, was := range r.leading {
		now := false
		for _, l := range leading {
			now = now || l == i
		}
		switch {
		case now && !was:
			r.rep.Intervals++
			r.logf("%s leads (server clock %v)", r.ids[i], srvNow.Sub(r.start))
		case was && !now:
			r.logf("%s no longer leads", r.ids[i])
		}
		r.leading[i] = now
	}

	// Liveness: the last leaderless sample after the faults.
	if at >= r.cfg.FaultPhase {
		switch {
		case len(leading) == 0:
			r.recovery.sawGap, r.recovery.endedAt = true, -1
		case r.recovery.sawGap && r.recovery.endedAt < 0:
			r.recovery.endedAt = at
		}
	}
}

// finishSamples closes the open intervals and judges liveness (c).
func (r *run) finishSamples() {
	bound := r.cfg.LivenessBound()
	switch {
	case !r.recovery.sawGap:
		r.rep.Recovery = 0
	case r.recovery.endedAt < 0:
		r.rep.Recovery = -1
		r.violate("c", "no candidate leads at the end, %v after the faults stopped (bound %v)", r.since()-r.cfg.FaultPhase, bound)
	default:
		r.rep.Recovery = r.recovery.endedAt - r.cfg.FaultPhase
		if r.rep.Recovery > bound {
			r.violate("c", "leadership resumed for good only %v after the faults stopped (bound %v)", r.rep.Recovery, bound)
		}
	}
}

// wipedLeaseCovers reports whether a restart wiped a lease of id that would
// still run at srvNow: the server had granted it, so trusting it is no
// violation (see restart).
func (r *run) wipedLeaseCovers(id string, srvNow time.Time) bool {
	if len(r.wiped) == 0 {
		return false
	}
	hist := r.srv.History()
	for k, exp := range r.wiped {
		if hist[k].ClientID == id && srvNow.Before(exp) {
			return true
		}
	}
	return false
}

// checkIntervals checks every sample of leadership against the server's
// own record: it must lie inside a tenure the server granted to that
// candidate (a lease wiped by a restart counting until its expiry).
//
// A run of consecutive leading samples may span two tenures of the same
// candidate: a client told at once that its lease is gone (KeepAlive
// answering -1s after a restart) can lose and win the lock again between
// two samples. What the samples can show is that each of them lies in a
// tenure, and that is what is checked.
func (r *run) checkIntervals() {
	hist := r.srv.History()
	byCand := make([][]qqtest.Tenure, len(r.ids))
	for k, t := range hist {
		if w, ok := r.wiped[k]; ok && w.After(t.End) {
			t.End = w
		}
		if t.Service != r.cfg.Service || t.Domain != r.cfg.Domain {
			continue
		}
		for i, id := range r.ids {
			if t.ClientID == id {
				byCand[i] = append(byCand[i], t)
			}
		}
	}
	reported := make([]bool, len(r.ids))
	for _, s := range r.led {
		if reported[s.cand] {
			continue
		}
		inside := false
		for _, t := range byCand[s.cand] {
			if !s.srv.Before(t.Start) && s.srv.Before(t.End) {
				inside = true
				break
			}
		}
		if !inside {
			reported[s.cand] = true // once per candidate: the rest is the same story
			r.violate("a", "%s led at %v (server clock %v), inside no tenure the server granted it: %s",
				r.ids[s.cand], s.at, s.srv.Sub(r.start), r.tenuresOf(byCand[s.cand]))
		}
	}
}

func (r *run) tenuresOf(ts []qqtest.Tenure) string {
	var parts []string
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("[%v, %v)", t.Start.Sub(r.start), t.End.Sub(r.start)))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// closeAll closes every candidate, each bounded by the grace period, and
// checks that none leads afterwards.
func (r *run) closeAll() {
	for i, c := range r.cands {
		done := make(chan error, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- fmt.Errorf("panic: %v\n%s", p, debug.Stack())
				}
			}()
			done <- c.Close()
		}()
		t := time.NewTimer(r.grace())
		select {
		case err := <-done:
			if err != nil {
				r.violate("d", "Close of %s: %v", r.ids[i], err)
			}
		case <-t.C:
			r.violate("d", "Close of %s did not return within %v", r.ids[i], r.grace())
		}
		t.Stop()
		if r.isLeader(i) {
			r.violate("d", "%s reports leadership after Close", r.ids[i])
		}
	}
}

// The driver's actions on the server.

func (r *run) setPartition(i int) {
	if r.cut[i] > 0 || r.isolated[i] {
		r.srv.Partition(r.ids[i])
	} else {
		r.srv.Heal(r.ids[i])
	}
}

func (r *run) partition(i int) {
	r.logf("partition %s", r.ids[i])
	r.cut[i]++
	r.setPartition(i)
	r.count(func(c *FaultCounts) { c.Partitions++ })
}

// partitionHolder partitions the candidate that holds the lock now, by the
// server, until d from now (at most the end of the fault phase).
func (r *run) partitionHolder(at, d time.Duration) {
	holder, _, held := r.srv.Lease(r.cfg.Service, r.cfg.Domain)
	if !held {
		return
	}
	for i, id := range r.ids {
		if id == holder {
			r.partition(i)
			r.events.push(event{at: min(at+d, r.cfg.FaultPhase), do: func(r *run) { r.heal(i) }})
		}
	}
}

func (r *run) heal(i int) {
	r.logf("heal %s", r.ids[i])
	if r.cut[i] > 0 {
		r.cut[i]--
	}
	r.setPartition(i)
}

func (r *run) pause() {
	r.logf("pause the server")
	r.paused = true
	r.srv.Pause()
	r.count(func(c *FaultCounts) { c.Pauses++ })
}

func (r *run) resume() {
	r.logf("resume the server")
	r.paused = false
	r.srv.Resume()
}

func (r *run) jump(d time.Duration) {
	r.offset += d
	r.logf("server clock jumps %v forward (offset now %v)", d, r.offset)
	r.srv.SetClockOffset(r.offset)
	r.count(func(c *FaultCounts) { c.ClockJumps++ })
}

// restart wipes the server's state without breaking the assumption every
// lease rests on: no other client can obtain the lock while a lease the
// server granted still runs.
//
// The server is paused and, once every call that had passed the pause has
// finished at this instant, the lease in force (if any) is noted with its
// expiry before the wipe. A delayed restart then keeps the server paused
// until that expiry, as a store that lost its data must stay down for a
// TTL. An isolated restart instead partitions every other candidate until
// that expiry and resumes the server once any call of theirs still waiting
// on the pause has timed out, so that the old holder alone hears that its
// lease is gone (KeepAlive answers -1s) and acquires afresh. Until its
// expiry the wiped lease counts, for check (a), as what it was: granted.
func (r *run) restart(isolated bool) {
	r.paused = true
	r.srv.Pause()
	time.Sleep(time.Microsecond) // virtual: let calls past the pause finish
	srvNow := time.Now().Add(r.offset)
	holder, expires := "", time.Time{}
	for k, t := range r.srv.History() {
		if !t.Ended {
			holder, expires = t.ClientID, t.End
			r.wiped[k] = t.End
		}
	}
	r.srv.Restart()
	r.logf("restart the server (isolated %v): wiped the lease of %q, which ran until server clock %v", isolated, holder, expires.Sub(r.start))
	if isolated {
		r.count(func(c *FaultCounts) { c.IsolatedRestarts++ })
	} else {
		r.count(func(c *FaultCounts) { c.DelayedRestarts++ })
	}
	if holder == "" { // nothing to protect
		r.resume()
		return
	}
	// Real time at which the wiped lease ends by the server clock; a later
	// forward jump only makes the wait longer than needed.
	until := r.since() + expires.Sub(srvNow) + time.Microsecond
	r.events.push(event{at: until - time.Microsecond, do: (*run).targetedSample})
	if !isolated {
		r.events.push(event{at: until, do: (*run).resume})
		return
	}
	for i, id := range r.ids {
		if id != holder {
			r.isolated[i] = true
			r.setPartition(i)
		}
	}
	r.events.push(event{at: r.since() + r.cfg.RequestTimeout + time.Microsecond, do: (*run).resume})
	r.events.push(event{at: max(until, r.since()+r.cfg.RequestTimeout+2*time.Microsecond), do: (*run).endIsolation})
}

func (r *run) endIsolation() {
	r.logf("end the isolation of the restart")
	for i := range r.ids {
		if r.isolated[i] {
			r.isolated[i] = false
			r.setPartition(i)
		}
	}
}

// endFaults stops every fault at the end of the fault phase. The plan ends
// every restart before then.
func (r *run) endFaults() {
	r.logf("faults stop")
	r.faulty.Store(false)
	r.srv.SetFaultFunc(nil)
	for i := range r.ids {
		r.cut[i] = 0
		r.isolated[i] = false
		r.srv.Heal(r.ids[i])
	}
	if r.paused {
		r.resume()
	}
	// Drop any event the plan left after the fault phase.
	r.events.items = r.events.items[:0]
}

// event is one action of the driver at a virtual time.
type event struct {
	at   time.Duration
	seq  uint64 // order of pushing, to break ties
	do   func(*run)
	what string        // for tests of the plan
	slot time.Duration // for tests: a restart's slot, a jump's size
}

// eventQueue orders the driver's pending actions by time.
type eventQueue struct {
	items []event
	seq   uint64
}

func (q *eventQueue) Len() int { return len(q.items) }
func (q *eventQueue) Less(i, j int) bool {
	if q.items[i].at != q.items[j].at {
		return q.items[i].at < q.items[j].at
	}
	return q.items[i].seq < q.items[j].seq
}
func (q *eventQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *eventQueue) Push(x any)    { q.items = append(q.items, x.(event)) }
func (q *eventQueue) Pop() any {
	e := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return e
}
func (q *eventQueue) push(e event) {
	q.seq++
	e.seq = q.seq
	heap.Push(q, e)
}
func (q *eventQueue) pop() event   { return heap.Pop(q).(event) }
func (q *eventQueue) peek() *event { return &q.items[0] }

func hashString(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}
