package checker

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"math/rand/v2"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
)

// Candidate is what the safety checker drives: the part of a
// leader-election client that campaigns for one lock, gives it up and
// ends. *client.QuorumQuestClient implements it, and the optional
// LeaseReporter and Runner as well.
type Candidate interface {
	TryAcquireLock(ctx context.Context) (bool, error)
	StartKeepAlive(ctx context.Context) error
	ReleaseLock(ctx context.Context) error
	IsLeader() bool
	Close() error
}

// LeaseReporter is a Candidate that also says how long it trusts its
// lease. The checker counts a remaining lease above zero as a report of
// leadership, and checks that it never outlasts the lease the server holds
// for the candidate.
type LeaseReporter interface {
	GetRemainingLease() time.Duration
}

// Runner is a Candidate that can also campaign the way a long-running
// service does: Run campaigns and, while leading, runs lead with a context
// that must end when leadership does. The checker runs some candidates
// this way and counts a live lead context as a report of leadership.
type Runner interface {
	Run(ctx context.Context, lead func(ctx context.Context)) error
}

// NewCandidate builds the candidate called id, which must campaign for the
// lock SafetyConfig.Service/Domain with lease SafetyConfig.TTL, under client
// ID id, through stub and nothing else, and bound every call by
// SafetyConfig.RequestTimeout; a Runner must retry within
// SafetyConfig.RetryInterval. A candidate closed in the fault phase comes
// back through NewCandidate under a new ID, id suffixed with ".k".
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
	// 1% of the TTL plus 100ms: the client's default drift allowance and
	// safety margin together). Jumps are more than a lease apart, so a
	// lease sees at most one, and half of them are exactly MaxClockJump:
	// a candidate must give up at least this much of every lease or it is
	// caught. It must stay within what the candidates give up, or a
	// correct candidate fails too.
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
	// DefaultSafetyMargin is the part of MaxClockJump's default that is
	// not drift: the client's default safety margin.
	DefaultSafetyMargin = 100 * time.Millisecond
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
		c.MaxClockJump = c.TTL/100 + DefaultSafetyMargin
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

// Report is what one schedule did and found. Times are measured from the
// start of the schedule: virtual time for RunSchedule, real time for
// RunNetSchedule, which fills only some of the fields (samples, leader
// samples, intervals and changes, clients built, recovery and its bound,
// its own fault counts and handovers, calls) and the ones it adds.
type Report struct {
	Seed       uint64
	Candidates int
	// Samples is the number of instants at which every candidate's
	// IsLeader was read; LeaderSamples those at which one led, and
	// TargetedSamples those taken at the instant a lease would expire.
	// SettledSamples counts the samples read again once every goroutine
	// had done what that instant asked of it (see sample), and
	// ReleaseSamples the reads of a candidate's leadership from inside its
	// own ReleaseLock, once the server had had it.
	Samples, LeaderSamples, TargetedSamples, SettledSamples, ReleaseSamples int
	// Incarnations counts the clients built: the candidates, plus one
	// for every candidate closed and built anew in the fault phase.
	Incarnations int
	// LeadershipChanges counts handovers: a sample led by a candidate other
	// than the one that led the previous led sample. Intervals counts runs
	// of consecutive samples led by one candidate.
	LeadershipChanges, Intervals int
	// FaultsEnd is when the faults stopped; Recovery how long after that
	// the candidates went without a leader before one led for good, and
	// RecoveryBound the most the checker allows (SafetyConfig.LivenessBound).
	FaultsEnd, Recovery, RecoveryBound time.Duration
	Faults                             FaultCounts
	// Calls counts the calls that reached the server, per method.
	Calls qqtest.CallCounts
	// Violations found, in the order found: the first 20, and the first
	// of each check after those. ViolationCount counts them all.
	Violations     []Violation
	ViolationCount int
	// Excused lists the verdicts of the real-network mode (RunNetSchedule)
	// that the process's own starvation explains, kept like Violations;
	// ExcusedCount counts them all. Starved is the time the network mode's
	// sampler went without running beyond its period, and LongestGap its
	// longest such pause. The virtual-time mode leaves them zero.
	Excused      []Violation
	ExcusedCount int
	Starved      time.Duration
	LongestGap   time.Duration
	// MultiClaimSamples counts the network mode's samples at which more
	// than one candidate reported leadership, each judged by the server's
	// record (see RunNetSchedule).
	MultiClaimSamples int
	// UnforcedLosses counts, in the network mode's fleet mode, the
	// instants a leader stopped leading though it had not handed over,
	// its process was not starved and a majority of the fleet had been up
	// for the TTL before: check (f), a figure unless
	// NetConfig.StableLeadership makes it a violation. ForcedLosses
	// counts the losses while a majority of the fleet was down.
	UnforcedLosses, ForcedLosses int
}

// FaultCounts counts the faults a schedule injected, and what its
// candidates did besides campaigning.
type FaultCounts struct {
	Partitions, Pauses, DelayedRestarts, IsolatedRestarts, ClockJumps int
	// EdgeJumps counts the clock jumps of exactly MaxClockJump.
	EdgeJumps int
	// Per-call faults, decided by the fault function and the stub wrapper.
	Delays, Errors, DroppedRequests, DroppedResponses, ResponseDelays int
	// EdgeResponses counts the answers held back until the instant
	// before their caller's deadline.
	EdgeResponses int
	// Releases counts ReleaseLock calls of leading candidates, Handovers
	// the lead functions that returned on their own (Run then releases),
	// and Closes the candidates closed and built anew.
	Releases, Handovers, Closes int
	// Connection faults of the real-network mode: episodes of a proxy (or
	// every proxy) resetting, going silent or stalling, and server
	// restarts on the same address.
	ConnResets, ConnSilences, ConnStalls, ServerRestarts int
	// ServerKills counts the fleet mode's servers killed; its other
	// server faults count as the connection faults above (a server gone
	// silent or resetting) and ServerRestarts (a graceful stop).
	ServerKills int
}

// Add returns the sum of c and d.
func (c FaultCounts) Add(d FaultCounts) FaultCounts {
	return FaultCounts{
		Partitions: c.Partitions + d.Partitions, Pauses: c.Pauses + d.Pauses,
		DelayedRestarts: c.DelayedRestarts + d.DelayedRestarts, IsolatedRestarts: c.IsolatedRestarts + d.IsolatedRestarts,
		ClockJumps: c.ClockJumps + d.ClockJumps, EdgeJumps: c.EdgeJumps + d.EdgeJumps,
		Delays: c.Delays + d.Delays, Errors: c.Errors + d.Errors,
		DroppedRequests: c.DroppedRequests + d.DroppedRequests, DroppedResponses: c.DroppedResponses + d.DroppedResponses,
		ResponseDelays: c.ResponseDelays + d.ResponseDelays, EdgeResponses: c.EdgeResponses + d.EdgeResponses,
		Releases: c.Releases + d.Releases, Handovers: c.Handovers + d.Handovers, Closes: c.Closes + d.Closes,
		ConnResets: c.ConnResets + d.ConnResets, ConnSilences: c.ConnSilences + d.ConnSilences,
		ConnStalls: c.ConnStalls + d.ConnStalls, ServerRestarts: c.ServerRestarts + d.ServerRestarts,
		ServerKills: c.ServerKills + d.ServerKills,
	}
}

// Violation is one broken property.
type Violation struct {
	At time.Duration // time since the start of the schedule (virtual, or real in the network mode)
	// Check is "a" (leadership without a lease), "b" (two leaders), "c"
	// (liveness), "d" (panic, hang or leadership after Close), "e" (a
	// remaining lease longer than the server's), "f" (the fleet mode's
	// leadership lost while a majority of the fleet was up) or "setup".
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
// state, forward jumps of the server clock (half of them exactly
// MaxClockJump) and per-call faults (delays, status codes, lost requests,
// lost and delayed responses, answers held to the caller's deadline); then
// the faults stop and a quiet phase follows. Every candidate campaigns
// throughout; in the fault phase some also release the lock, hand it over
// from Run, or close and come back as a new client. Every candidate's word
// on its leadership (IsLeader, the remaining lease, a live lead context)
// is sampled at the same virtual instants, at the instant the server's
// lease expires, and from inside every ReleaseLock once the server has had
// it. The checks:
//
//	(a) a candidate reporting leadership holds the lock by the server's
//	    clock at that instant (Server.Lease), and, by the server's final
//	    record (Server.History), inside a tenure granted to it; a lead
//	    context ends when IsLeader turns false;
//	(b) no two candidates report leadership at the same instant;
//	(c) after the faults stop, some candidate leads for good within
//	    LivenessBound;
//	(d) no candidate panics or hangs, and none leads after Close;
//	(e) a remaining lease never outlasts the server's lease.
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
	return rep, rep.err()
}

// err is nil for a report without violations, and otherwise names the
// seed and the first violations.
func (rep Report) err() error {
	if rep.ViolationCount == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "safety: seed %d: %d violation(s) with %d candidates", rep.Seed, rep.ViolationCount, rep.Candidates)
	for i, v := range rep.Violations {
		if i == 5 {
			fmt.Fprintf(&b, "\n  ...")
			break
		}
		fmt.Fprintf(&b, "\n  %s", v)
	}
	return errors.New(b.String())
}

// run is one schedule in progress. Fields below driver-only are touched
// only by the goroutine that called RunSchedule.
type run struct {
	seed         uint64
	cfg          SafetyConfig
	srv          *qqtest.Server
	start        time.Time
	plan         plan
	newCandidate NewCandidate

	slots  []*slot
	faulty atomic.Bool  // per-call faults are on (the fault phase)
	offset atomic.Int64 // the server clock's current offset, a time.Duration
	// releasesStarted counts the ReleaseLock calls that entered a stub,
	// releasesInFlight those the server has not answered (or failed) yet:
	// while a release is in flight it may end its candidate's lock at any
	// moment.
	releasesStarted  atomic.Uint64
	releasesInFlight atomic.Int64

	mu     sync.Mutex // guards rep.Violations/ViolationCount, rep.Faults and the counts below
	rep    Report
	calls  map[callKey]uint64 // per candidate and method, as the fault function saw them
	seenID map[int]bool       // candidates already reported for a bad request
	wiped  map[int]time.Time  // tenure index -> expiry it had when a restart wiped it
	// wipedLive lists the wiped leases, with their holders, that may still
	// run; the driver drops those that have ended.
	wipedLive []wipedLease

	// driver-only
	views    [2]view // scratch: the two readings of a sample
	events   eventQueue
	paused   bool
	leading  []bool        // per candidate, whether it led at the last sample
	expiry   time.Duration // when the server's current lease expires, 0 if none
	led      []ledSample   // every sample of a leading candidate
	lastLead string        // client that led the last led sample, "" at first
	recovery struct {
		sawGap  bool          // a sample after the faults had no leader
		endedAt time.Duration // the first led sample after the last such gap, -1 if none yet
	}
}

type wipedLease struct {
	id      string
	expires time.Time // by the server clock
}

type callKey struct {
	id     string
	method string
}

// ledSample is a sample at which a client led, in virtual time since the
// start and by the server's clock.
type ledSample struct {
	id  string
	at  time.Duration
	srv time.Time
}

func newRun(seed uint64, cfg SafetyConfig) *run {
	r := &run{
		seed: seed, cfg: cfg,
		srv:    qqtest.NewUnstartedServer(),
		start:  time.Now(),
		calls:  map[callKey]uint64{},
		seenID: map[int]bool{},
		wiped:  map[int]time.Time{},
	}
	r.plan = newPlan(seed, cfg)
	r.rep = Report{Seed: seed, Candidates: r.plan.candidates, FaultsEnd: cfg.FaultPhase, RecoveryBound: cfg.LivenessBound()}
	return r
}

func (r *run) since() time.Duration { return time.Since(r.start) }

// srvNow reads the server's clock.
func (r *run) srvNow() time.Time { return time.Now().Add(time.Duration(r.offset.Load())) }

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
	r.newCandidate = newCandidate
	r.leading = make([]bool, n)
	for i := range n {
		s := &slot{index: i}
		inc, err := r.build(i, 0)
		if err != nil {
			r.violate("setup", "building candidate %s: %v", inc.id, err)
			r.closeAll()
			return r.report()
		}
		s.inc.Store(inc)
		r.slots = append(r.slots, s)
	}

	r.faulty.Store(true)
	r.srv.SetFaultFunc(r.callFault)
	for _, e := range r.plan.events {
		r.events.push(e)
	}
	r.events.push(event{at: r.cfg.FaultPhase, do: (*run).endFaults})

	ctx, cancel := context.WithCancel(context.Background())
	var campaigns sync.WaitGroup
	for i := range r.slots {
		campaigns.Add(1)
		go r.campaign(ctx, i, &campaigns)
	}

	// The driver: faults at their times, samples on a jittered grid and at
	// every instant the server's current lease would expire.
	end := r.cfg.FaultPhase + r.cfg.QuietPhase
	samples := rand.New(rand.NewPCG(r.seed, saltSamples))
	grid := r.jitteredSample(samples)
	r.sample(false)
	for {
		at, next := grid, func() { r.sample(false) }
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
		r.violate("d", "campaign goroutines still running %v after their context ended: TryAcquireLock, StartKeepAlive, ReleaseLock or Run ignores its context", r.grace())
	}
	r.closeAll()
	r.checkIntervals()
	r.mu.Lock()
	r.rep.Calls = r.srv.Calls()
	r.mu.Unlock()
	return r.report()
}

func (r *run) report() Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rep
}

// build makes incarnation k of candidate i: the candidate itself when k is
// 0, a new client under a new ID after it was closed k times. The new ID
// keeps a late request of a closed client from passing for the new one's.
func (r *run) build(i, k int) (inc *incarnation, err error) {
	id := fmt.Sprintf("s%d-c%d", r.seed, i)
	if k > 0 {
		id = fmt.Sprintf("%s.%d", id, k)
	}
	inc = &incarnation{id: id}
	inc.stub = &checkedStub{r: r, cand: i, id: id, idHash: hashString(id), inner: r.srv.Stub(), inc: inc}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	c, err := r.newCandidate(id, inc.stub)
	if err == nil && c == nil {
		err = errors.New("nil candidate")
	}
	if err != nil {
		return inc, err
	}
	inc.c = c
	inc.lease, _ = c.(LeaseReporter)
	inc.runner, _ = c.(Runner)
	inc.ready.Store(true)
	r.mu.Lock()
	r.rep.Incarnations++
	r.mu.Unlock()
	return inc, nil
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

// word reads what inc says of its leadership: IsLeader, and its remaining
// lease (-1 if it does not report one). A panic counts as not leading and
// is reported once. Safe from any goroutine.
func (r *run) word(inc *incarnation) (leads bool, remaining time.Duration) {
	remaining = -1
	if !inc.ready.Load() {
		return false, -1
	}
	defer func() {
		if p := recover(); p != nil {
			leads, remaining = false, -1
			if !inc.broken.Swap(true) {
				r.violate("d", "IsLeader or GetRemainingLease of %s panicked: %v\n%s", inc.id, p, debug.Stack())
			}
		}
	}()
	leads = inc.c.IsLeader()
	if inc.lease != nil {
		remaining = inc.lease.GetRemainingLease()
	}
	return leads, remaining
}

// targetedSample is a sample at the instant the lease the server last
// showed would expire, unless renewed: where a client that overruns its
// lease is first wrong.
func (r *run) targetedSample() {
	r.rep.TargetedSamples++
	r.sample(true)
}

// retarget aims the next targeted sample at the expiry of the server's
// current lease, in virtual time.
func (r *run) retarget() {
	_, expires, held := r.srv.Lease(r.cfg.Service, r.cfg.Domain)
	r.aim(held, expires, r.srvNow())
}

func (r *run) aim(held bool, expires, srvNow time.Time) {
	r.expiry = 0
	if held {
		r.expiry = r.since() + expires.Sub(srvNow)
	}
}

// view is what every candidate said of its leadership at one sample, and
// the server's holder read after them.
type view struct {
	settled bool
	srvNow  time.Time
	incs    []*incarnation
	// isLeader is IsLeader; remaining the remaining lease (-1 if not
	// reported); lead whether a lead context was live (settled views
	// only); claims whether any of these reports leadership.
	isLeader, lead, claims []bool
	remaining              []time.Duration
	// unsure is set when a release was in flight while the view was
	// read: the lock of a claiming candidate may have gone between its
	// word and the holder's, so that neither (a), (b) nor (e) can judge
	// it in this view. A settled view is sure: nothing else runs while the
	// driver reads it.
	unsure          bool
	holder          string
	expires         time.Time
	held            bool
	violatedAlready []bool // a candidate already reported at this instant
}

// read takes a view into r.views[k]: every candidate's word, then the
// server's holder. The holder is read last: a lease a candidate trusts
// cannot end at the instant it is trusted, except by a release of its own,
// which the release counters of its stub show; while a grant made at this
// instant may already show in IsLeader.
//
// A live lead context counts as a claim of leadership only in a settled
// view: a client may cancel it from a timer that fires at this very
// instant.
func (r *run) read(k int, settled bool, srvNow time.Time) *view {
	n := len(r.slots)
	v := &r.views[k]
	if len(v.incs) != n {
		*v = view{
			incs:     make([]*incarnation, n),
			isLeader: make([]bool, n), lead: make([]bool, n), claims: make([]bool, n),
			remaining: make([]time.Duration, n), violatedAlready: make([]bool, n),
		}
	}
	v.settled, v.srvNow = settled, srvNow
	started := r.releasesStarted.Load()
	v.unsure = !settled && r.releasesInFlight.Load() != 0
	for i, s := range r.slots {
		inc := s.current()
		v.incs[i] = inc
		v.isLeader[i], v.remaining[i] = r.word(inc)
		// Without IsLeader, a live lead context only matters if it is
		// still live once the instant settles.
		v.lead[i] = !v.isLeader[i] && inc.leadLive()
		v.claims[i] = v.isLeader[i] || v.remaining[i] > 0 || settled && v.lead[i]
		v.violatedAlready[i] = false
	}
	v.holder, v.expires, v.held = r.srv.Lease(r.cfg.Service, r.cfg.Domain)
	if !settled && r.releasesStarted.Load() != started {
		v.unsure = true
	}
	return v
}

// holds reports whether the server holds the lock for id in view v, or a
// lease of id wiped by a restart would still run, and until when.
func (r *run) holds(v *view, id string) (bool, time.Time) {
	var until time.Time
	ok := false
	if v.held && v.holder == id {
		ok, until = true, v.expires
	}
	if w, covered := r.wipedLeaseCovers(id, v.srvNow); covered {
		ok = true
		if w.After(until) {
			until = w
		}
	}
	return ok, until
}

// judge checks (a), (b) and (e) on a view.
func (r *run) judge(v *view) {
	when := ""
	if v.settled {
		when = " once the instant settled"
	}
	var leaders []string
	for i, inc := range v.incs {
		if !v.claims[i] || v.unsure {
			continue
		}
		leaders = append(leaders, inc.id)
		held, until := r.holds(v, inc.id)
		switch {
		case !held:
			who := "nobody"
			if v.held {
				who = v.holder
			}
			v.violatedAlready[i] = true
			r.violate("a", "%s reports leadership (%s)%s but the server's holder is %s (server clock %v)",
				inc.id, words(v.isLeader[i], v.remaining[i], v.lead[i]), when, who, v.srvNow.Sub(r.start))
		case v.remaining[i] > until.Sub(v.srvNow):
			v.violatedAlready[i] = true
			r.violate("e", "%s trusts its lease for %v more%s, but the server's lease ends in %v (server clock %v)",
				inc.id, v.remaining[i], when, until.Sub(v.srvNow), v.srvNow.Sub(r.start))
		}
		if v.settled && v.lead[i] && !v.isLeader[i] && !v.violatedAlready[i] {
			v.violatedAlready[i] = true
			r.violate("a", "%s: the context Run gave lead is still live once the instant settled, but IsLeader is false (server clock %v)",
				inc.id, v.srvNow.Sub(r.start))
		}
	}
	if len(leaders) > 1 {
		r.violate("b", "%d candidates report leadership at once%s: %s", len(leaders), when, strings.Join(leaders, ", "))
	}
}

// sample reads every candidate's word at one virtual instant, then the
// server's holder, and checks (a), (b) and (e) on the spot. It reads them
// twice when it matters: first as they are, while goroutines woken at this
// instant may still be running (a client must be right at every moment,
// not only once its timers have fired), then once every goroutine of the
// bubble is blocked, which is when a lead context, cancelled by a timer of
// the client at this instant, must have ended. The second reading is taken
// at targeted samples, when a release was in flight during the first, and
// when a lead context was live while IsLeader was false: everywhere else
// the first reading already judges what the second would.
func (r *run) sample(targeted bool) {
	at := r.since()
	srvNow := r.srvNow()
	v := r.read(0, false, srvNow)
	r.aim(v.held, v.expires, srvNow)
	r.rep.Samples++
	r.judge(v)
	r.pruneWiped(srvNow)

	settle := targeted || v.unsure && slices.Contains(v.claims, true)
	for i := range v.incs {
		settle = settle || v.lead[i]
	}
	if settle {
		synctest.Wait()
		r.rep.SettledSamples++
		sv := r.read(1, true, srvNow)
		for i := range sv.incs {
			sv.violatedAlready[i] = v.violatedAlready[i] && sv.incs[i] == v.incs[i]
		}
		r.judge(sv)
		r.aim(sv.held, sv.expires, srvNow)
		v = sv
	}

	var leading []int
	for i := range v.incs {
		if v.claims[i] {
			leading = append(leading, i)
		}
	}
	if len(leading) > 0 {
		r.rep.LeaderSamples++
		if id := v.incs[leading[0]].id; id != r.lastLead {
			if r.lastLead != "" {
				r.rep.LeadershipChanges++
			}
			r.lastLead = id
		}
	}

	// Leadership intervals, checked against the server's history at the
	// end. A view read while a release was in flight is left out: the
	// tenure of a claiming candidate may have ended at this very instant.
	for _, i := range leading {
		if !v.unsure {
			r.led = append(r.led, ledSample{id: v.incs[i].id, at: at, srv: srvNow})
		}
	}
	for i, was := range r.leading {
		now := slices.Contains(leading, i)
		switch {
		case now && !was:
			r.rep.Intervals++
			r.logf("%s leads (server clock %v)", v.incs[i].id, srvNow.Sub(r.start))
		case was && !now:
			r.logf("%s no longer leads", v.incs[i].id)
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

// releaseSample reads inc's word from inside its own ReleaseLock, once the
// server has had the request: whatever became of it, a candidate that
// reports leadership now must still hold the lock. A correct client has
// given leadership up before sending the release; one that gives it up
// only when the answer comes claims a lock the server may already have
// handed on. Safe from any goroutine.
func (r *run) releaseSample(inc *incarnation) {
	if !inc.ready.Load() {
		return
	}
	srvNow := r.srvNow()
	leads, remaining := r.word(inc)
	lead := inc.leadLive()
	r.mu.Lock()
	r.rep.ReleaseSamples++
	r.mu.Unlock()
	if !leads && remaining <= 0 && !lead {
		return
	}
	holder, _, held := r.srv.Lease(r.cfg.Service, r.cfg.Domain)
	if held && holder == inc.id {
		return
	}
	if _, covered := r.wipedLeaseCovers(inc.id, srvNow); covered {
		return
	}
	who := "nobody"
	if held {
		who = holder
	}
	r.violate("a", "%s reports leadership (%s) while its ReleaseLock is in flight, and the server's holder is %s (server clock %v)",
		inc.id, words(leads, remaining, lead), who, srvNow.Sub(r.start))
}

// words describes a candidate's word on its leadership, for a violation.
func words(isLeader bool, remaining time.Duration, lead bool) string {
	rem := "not reported"
	if remaining >= 0 {
		rem = remaining.String()
	}
	return fmt.Sprintf("IsLeader %v, remaining lease %s, lead context live %v", isLeader, rem, lead)
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
// still run at srvNow, and until when: the server had granted it, so
// trusting it is no violation (see restart). Safe from any goroutine.
func (r *run) wipedLeaseCovers(id string, srvNow time.Time) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var until time.Time
	for _, w := range r.wipedLive {
		if w.id == id && srvNow.Before(w.expires) && w.expires.After(until) {
			until = w.expires
		}
	}
	return until, !until.IsZero()
}

// pruneWiped forgets the wiped leases that ended by srvNow: the server's
// clock only moves forward, so they cover nothing any more.
func (r *run) pruneWiped(srvNow time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wipedLive = slices.DeleteFunc(r.wipedLive, func(w wipedLease) bool { return !srvNow.Before(w.expires) })
}

// checkIntervals checks every sample of leadership against the server's
// own record: it must lie inside a tenure the server granted to that
// client (a lease wiped by a restart counting until its expiry).
//
// A run of consecutive leading samples may span two tenures of the same
// client: a client told at once that its lease is gone (KeepAlive
// answering -1s after a restart) can lose and win the lock again between
// two samples. What the samples can show is that each of them lies in a
// tenure, and that is what is checked.
func (r *run) checkIntervals() {
	hist := r.srv.History()
	r.mu.Lock()
	wiped := maps.Clone(r.wiped)
	r.mu.Unlock()
	byID := map[string][]qqtest.Tenure{}
	for k, t := range hist {
		if w, ok := wiped[k]; ok && w.After(t.End) {
			t.End = w
		}
		if t.Service != r.cfg.Service || t.Domain != r.cfg.Domain {
			continue
		}
		byID[t.ClientID] = append(byID[t.ClientID], t)
	}
	reported := map[string]bool{}
	for _, s := range r.led {
		if reported[s.id] {
			continue
		}
		inside := false
		for _, t := range byID[s.id] {
			if !s.srv.Before(t.Start) && s.srv.Before(t.End) {
				inside = true
				break
			}
		}
		if !inside {
			reported[s.id] = true // once per client: the rest is the same story
			r.violate("a", "%s led at %v (server clock %v), inside no tenure the server granted it: %s",
				s.id, s.at, s.srv.Sub(r.start), r.tenuresOf(byID[s.id]))
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
	for _, s := range r.slots {
		r.close(s.current(), true)
	}
}

// close closes inc, bounded by the grace period, and checks that it
// reports no leadership afterwards. Its error is a violation at the end
// of a schedule, when nothing stands in its way, and not in the fault
// phase, where its release may well fail. It reports whether Close
// returned.
func (r *run) close(inc *incarnation, final bool) bool {
	if !inc.ready.Load() {
		return true
	}
	type result struct {
		err      error
		panicked bool
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{fmt.Errorf("panic: %v\n%s", p, debug.Stack()), true}
			}
		}()
		done <- result{err: inc.c.Close()}
	}()
	t := time.NewTimer(r.grace())
	defer t.Stop()
	select {
	case res := <-done:
		if res.err != nil && (final || res.panicked) {
			r.violate("d", "Close of %s: %v", inc.id, res.err)
		}
	case <-t.C:
		r.violate("d", "Close of %s did not return within %v", inc.id, r.grace())
		return false
	}
	if leads, remaining := r.word(inc); leads || remaining > 0 || inc.leadLive() {
		r.violate("d", "%s reports leadership after Close (%s)", inc.id, words(leads, remaining, inc.leadLive()))
	}
	return true
}

// The driver's actions on the server.

// setPartition applies the partitions in force against candidate i to
// its client now; f, if not nil, first changes them.
func (r *run) setPartition(i int, f func(s *slot)) {
	s := r.slots[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	if f != nil {
		f(s)
	}
	r.applyPartitionLocked(s)
}

func (r *run) partition(i int) {
	r.logf("partition %s", r.slots[i].current().id)
	r.setPartition(i, func(s *slot) { s.cut++ })
	r.count(func(c *FaultCounts) { c.Partitions++ })
}

// partitionHolder partitions the candidate that holds the lock now, by the
// server, until d from now (at most the end of the fault phase).
func (r *run) partitionHolder(at, d time.Duration) {
	holder, _, held := r.srv.Lease(r.cfg.Service, r.cfg.Domain)
	if !held {
		return
	}
	for i, s := range r.slots {
		if s.current().id == holder {
			r.partition(i)
			r.events.push(event{at: min(at+d, r.cfg.FaultPhase), do: func(r *run) { r.heal(i) }})
		}
	}
}

func (r *run) heal(i int) {
	r.logf("heal %s", r.slots[i].current().id)
	r.setPartition(i, func(s *slot) {
		if s.cut > 0 {
			s.cut--
		}
	})
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
	offset := time.Duration(r.offset.Add(int64(d)))
	r.logf("server clock jumps %v forward (offset now %v)", d, offset)
	r.srv.SetClockOffset(offset)
	r.count(func(c *FaultCounts) {
		c.ClockJumps++
		if d == r.cfg.MaxClockJump {
			c.EdgeJumps++
		}
	})
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
	srvNow := r.srvNow()
	holder, expires := "", time.Time{}
	r.mu.Lock()
	for k, t := range r.srv.History() {
		if !t.Ended {
			holder, expires = t.ClientID, t.End
			r.wiped[k] = t.End
			r.wipedLive = append(r.wipedLive, wipedLease{t.ClientID, t.End})
		}
	}
	r.mu.Unlock()
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
	// Every other client is cut off, the old holder's earlier clients and
	// its clients to come included: only a slot whose client now holds
	// the wiped lease stays connected.
	for i, s := range r.slots {
		if s.current().id != holder {
			r.setPartition(i, func(s *slot) { s.isolated = true })
		}
	}
	r.events.push(event{at: r.since() + r.cfg.RequestTimeout + time.Microsecond, do: (*run).resume})
	r.events.push(event{at: max(until, r.since()+r.cfg.RequestTimeout+2*time.Microsecond), do: (*run).endIsolation})
}

func (r *run) endIsolation() {
	r.logf("end the isolation of the restart")
	for i := range r.slots {
		r.setPartition(i, func(s *slot) { s.isolated = false })
	}
}

// endFaults stops every fault at the end of the fault phase. The plan ends
// every restart before then.
func (r *run) endFaults() {
	r.logf("faults stop")
	r.faulty.Store(false)
	r.srv.SetFaultFunc(nil)
	for i := range r.slots {
		r.setPartition(i, func(s *slot) { s.cut, s.isolated = 0, false })
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
