package checker

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/qqtest"
)

// NetFault is a kind of connection fault the real-network mode plays.
type NetFault string

// The connection faults of RunNetSchedule, those of internal/testutil's
// Proxy and TCPServer.
const (
	// NetReset resets the connections of one proxy or every proxy, and
	// each new one, until the episode ends.
	NetReset NetFault = "reset"
	// NetSilent turns one proxy's or every proxy's connections, existing
	// and new, into black holes; the connections silenced stay silent
	// after the episode, only new ones work again.
	NetSilent NetFault = "silent"
	// NetStall holds bytes both ways on one proxy or every proxy, and
	// delivers them when the episode ends.
	NetStall NetFault = "stall"
	// NetRestart stops the gRPC server (graceful, then hard after a few
	// seconds) and starts a new one on the same address when the episode
	// ends; the lock state survives, as behind a restarted server process.
	// In the fleet mode it stops one or more servers gracefully (GOAWAY)
	// and starts them again when the episode ends.
	NetRestart NetFault = "restart"
	// NetKill, in the fleet mode only, kills one or more servers (their
	// connections reset at once) and starts them again when the episode
	// ends.
	NetKill NetFault = "kill"
)

// NetFaults lists every kind of connection fault of the proxy mode.
func NetFaults() []NetFault { return []NetFault{NetReset, NetSilent, NetStall, NetRestart} }

// FleetNetFaults lists every kind of server fault of the fleet mode: a
// server's connections reset, a server vanished (silent), stopped
// gracefully, killed.
func FleetNetFaults() []NetFault { return []NetFault{NetReset, NetSilent, NetRestart, NetKill} }

// NewNetCandidate builds the candidate called id for the real-network
// mode: a client with client ID id that campaigns for the lock
// NetConfig.Service/Domain with lease NetConfig.TTL through a connection
// it dials to addr (host:port on loopback), and that is a [Runner].
type NewNetCandidate func(id, addr string) (Candidate, error)

// NetConfig shapes the schedules RunNetSchedule plays. The zero value of a
// field means its default; the timing fields must describe the candidates
// (the defaults describe the client's own defaults at TTL 2 s), since the
// liveness bound is derived from them.
type NetConfig struct {
	// Service and Domain name the lock (defaults "safety" and "network").
	Service, Domain string
	// TTL is the lease the candidates ask for (default 2s, at least 1s).
	TTL time.Duration
	// CallTimeout is the longest a candidate's acquisition or renewal
	// waits, and the silence after which it replaces its connection and
	// abandons a connect attempt (default the usable lease, TTL − Slack:
	// the client's default request timeout of 5 s clamped to it).
	CallTimeout time.Duration
	// ReleaseTimeout is the longest a release by Run, after its lead
	// function returned, waits on a dead connection (default 5s, the
	// client's request timeout).
	ReleaseTimeout time.Duration
	// RetryInterval is how often a candidate that does not lead tries
	// again, and the cap of its reconnect backoff (default TTL/10); each
	// wait is up to 1.2 times it.
	RetryInterval time.Duration
	// Slack is what a candidate gives up of every lease, drift and margin
	// (default TTL/100 + 100ms, the client's defaults): the time between a
	// correct candidate's deadline and the server's expiry, over which a
	// lead context cancelled by a timer may be seen live.
	Slack time.Duration
	// RoundTrip is the allowance per call on loopback in the liveness
	// bound (default 50ms).
	RoundTrip time.Duration
	// FaultPhase is how long faults are played, from the start (default 5
	// TTLs); QuietPhase follows without faults (default the longest
	// liveness bound a schedule can have plus a TTL).
	FaultPhase, QuietPhase time.Duration
	// MaxEpisode bounds one fault episode (default 2.5 TTLs).
	MaxEpisode time.Duration
	// SamplePeriod is how often a sampler reads every candidate's word
	// (default 5ms).
	SamplePeriod time.Duration
	// MinCandidates and MaxCandidates bound how many candidates a schedule
	// runs (defaults 3 and 5).
	MinCandidates, MaxCandidates int
	// Faults lists the kinds of fault drawn (default all of NetFaults, or
	// of FleetNetFaults in the fleet mode).
	Faults []NetFault
	// Servers, at 2 or more, plays the fleet mode: that many gRPC servers
	// over the store behind one round-robin balancer address
	// (internal/testutil.Fleet), which every candidate dials directly, and
	// episodes of server faults (each strikes one server, or a majority
	// of the fleet at once) instead of one proxy per candidate. The
	// default, 0, is the proxy mode.
	Servers int
	// Rotation is how long the fleet's balancer keeps a faulty server in
	// rotation (default one TTL).
	Rotation time.Duration
	// StableLeadership makes check (f) of the fleet mode a violation
	// rather than a figure (Report.UnforcedLosses): no candidate stops
	// leading, save by a handover, while a majority of the fleet has been
	// up for a TTL and the process was not starved. Issue 18's hedged
	// renewals are what make a client pass it; without them a leader
	// whose server vanishes loses its lease.
	StableLeadership bool
	// Log, if not nil, receives the schedule's timeline (real time since
	// its start); it may be called from several goroutines.
	Log func(at time.Duration, msg string)
}

// Default values of NetConfig.
const (
	DefaultNetTTL            = 2 * time.Second
	DefaultNetReleaseTimeout = 5 * time.Second
	DefaultNetRoundTrip      = 50 * time.Millisecond
	DefaultNetSamplePeriod   = 5 * time.Millisecond
)

// StarvationExcuse is the shortest pause of the whole process that
// excuses a leader losing its lease (and a lead context seen live past the
// server's expiry): a sampler that asks to run every few milliseconds and
// is not run for this long shows the process was starved of CPU, and a
// leader that gets no CPU past its renewals loses its lease, as it must.
// The outage harness (internal/outage) uses the same figure.
const StarvationExcuse = 250 * time.Millisecond

// WithDefaults returns c with every zero field set to its default.
func (c NetConfig) WithDefaults() NetConfig {
	if c.Service == "" {
		c.Service = "safety"
	}
	if c.Domain == "" {
		c.Domain = "network"
	}
	if c.TTL == 0 {
		c.TTL = DefaultNetTTL
	}
	if c.Slack == 0 {
		c.Slack = c.TTL/100 + DefaultSafetyMargin
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = c.TTL - c.Slack
	}
	if c.ReleaseTimeout == 0 {
		c.ReleaseTimeout = DefaultNetReleaseTimeout
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = c.TTL / 10
	}
	if c.RoundTrip == 0 {
		c.RoundTrip = DefaultNetRoundTrip
	}
	if c.FaultPhase == 0 {
		c.FaultPhase = 5 * c.TTL
	}
	if c.QuietPhase == 0 {
		c.QuietPhase = c.worstBound() + c.TTL
	}
	if c.MaxEpisode == 0 {
		c.MaxEpisode = c.TTL * 5 / 2
	}
	if c.SamplePeriod == 0 {
		c.SamplePeriod = DefaultNetSamplePeriod
	}
	if c.MinCandidates == 0 {
		c.MinCandidates = 3
	}
	if c.MaxCandidates == 0 {
		c.MaxCandidates = max(5, c.MinCandidates)
	}
	if len(c.Faults) == 0 {
		c.Faults = NetFaults()
		if c.fleet() {
			c.Faults = FleetNetFaults()
		}
	}
	if c.fleet() && c.Rotation == 0 {
		c.Rotation = c.TTL
	}
	return c
}

func (c NetConfig) validate() error {
	switch {
	case c.TTL < time.Second:
		return fmt.Errorf("TTL %v is below the wire's 1s", c.TTL)
	case c.Slack <= 0 || c.Slack >= c.TTL:
		return fmt.Errorf("slack %v is not in (0, TTL)", c.Slack)
	case c.CallTimeout <= 0 || c.ReleaseTimeout <= 0 || c.RetryInterval <= 0 || c.RoundTrip < 0:
		return errors.New("the call timeout, release timeout and retry interval must be positive, the round trip not negative")
	case c.FaultPhase <= 0 || c.MaxEpisode <= 0:
		return errors.New("FaultPhase and MaxEpisode must be positive")
	case c.QuietPhase < c.worstBound()+c.TTL:
		return fmt.Errorf("QuietPhase %v is below the longest liveness bound plus a TTL, %v", c.QuietPhase, c.worstBound()+c.TTL)
	case c.SamplePeriod <= 0:
		return fmt.Errorf("SamplePeriod %v is not positive", c.SamplePeriod)
	case c.MinCandidates < 1 || c.MaxCandidates < c.MinCandidates:
		return fmt.Errorf("candidates [%d, %d] is not a range of at least 1", c.MinCandidates, c.MaxCandidates)
	}
	kinds := NetFaults()
	if c.fleet() {
		kinds = FleetNetFaults()
	}
	for _, f := range c.Faults {
		if !slices.Contains(kinds, f) {
			return fmt.Errorf("fault %q is not one of the mode's %v", f, kinds)
		}
	}
	switch {
	case c.Servers < 0 || c.Servers == 1:
		return fmt.Errorf("%d servers: 0 for the proxy mode, at least 2 for the fleet mode", c.Servers)
	case c.Rotation < 0:
		return fmt.Errorf("rotation %v is negative", c.Rotation)
	case c.StableLeadership && !c.fleet():
		return errors.New("StableLeadership needs the fleet mode")
	}
	return nil
}

// fleet reports whether c plays the fleet mode.
func (c NetConfig) fleet() bool { return c.Servers >= 2 }

func (c NetConfig) serverTTL() time.Duration {
	return (c.TTL + time.Second - 1) / time.Second * time.Second
}

func (c NetConfig) maxRetry() time.Duration { return c.RetryInterval * 6 / 5 }

// worstBound is the longest liveness bound any schedule can get (see
// netRun.bound): every candidate's release blocked for ReleaseTimeout
// from the instant the faults stop.
func (c NetConfig) worstBound() time.Duration {
	return max(c.serverTTL(), c.CallTimeout+c.maxRetry(), c.ReleaseTimeout+c.maxRetry()) + c.maxRetry() + 2*c.RoundTrip
}

// netPlan is a real-network schedule drawn from a seed.
type netPlan struct {
	candidates int
	// holds[i] > 0: in the fault phase candidate i's lead function returns
	// on its own after that long, so that Run releases (a handover).
	holds    []time.Duration
	episodes []netEpisode
}

// netEpisode is one fault, from at until until (since the start). Episodes
// never overlap.
type netEpisode struct {
	at, until time.Duration
	kind      NetFault
	target    int // the candidate whose proxy; -1 for every proxy and for restarts
	// servers is how many servers the fleet mode's episode strikes, from
	// the server target on, round the fleet; 0 in the proxy mode.
	servers int
}

func (e netEpisode) String() string {
	if e.servers > 0 {
		return fmt.Sprintf("%s %d server(s) from server %d for %v", e.kind, e.servers, e.target, e.until-e.at)
	}
	who := "every proxy"
	switch {
	case e.kind == NetRestart:
		who = "the server"
	case e.target >= 0:
		who = fmt.Sprintf("proxy %d", e.target)
	}
	return fmt.Sprintf("%s %s for %v", e.kind, who, e.until-e.at)
}

// Salts of the network mode's streams, apart from the virtual mode's.
const (
	saltNetPlan = 0x6e657470 // the network schedule
)

func newNetPlan(seed uint64, cfg NetConfig) netPlan {
	rng := rand.New(rand.NewPCG(seed, saltNetPlan))
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rng.Int64N(int64(hi-lo)+1)) }
	ttls := func(lo, hi float64) time.Duration {
		return between(time.Duration(lo*float64(cfg.TTL)), time.Duration(hi*float64(cfg.TTL)))
	}
	p := netPlan{candidates: cfg.MinCandidates + rng.IntN(cfg.MaxCandidates-cfg.MinCandidates+1)}
	p.holds = make([]time.Duration, p.candidates)
	for i := range p.holds {
		if rng.Float64() < 0.4 {
			p.holds[i] = ttls(0.3, 3)
		}
	}
	// Episodes one after another, the first once a leader had time to
	// emerge; in half the schedules the last one lasts until the faults
	// stop, so that it heals exactly there.
	t := ttls(0.5, 1.5)
	for t < cfg.FaultPhase-cfg.TTL/10 {
		e := netEpisode{at: t, kind: cfg.Faults[rng.IntN(len(cfg.Faults))], target: -1}
		switch {
		case cfg.fleet():
			// One server mostly; a majority of the fleet at once in a
			// quarter of the episodes, so that leadership may move.
			e.target, e.servers = rng.IntN(cfg.Servers), 1
			if rng.Float64() < 0.25 {
				e.servers = cfg.Servers/2 + 1
			}
		case e.kind != NetRestart && rng.Float64() < 0.5:
			e.target = rng.IntN(p.candidates)
		}
		e.until = min(t+between(cfg.TTL/10, cfg.MaxEpisode), cfg.FaultPhase)
		p.episodes = append(p.episodes, e)
		t = e.until + ttls(0.1, 1.5)
	}
	if n := len(p.episodes); n > 0 && rng.Float64() < 0.5 {
		p.episodes[n-1].until = cfg.FaultPhase
	}
	return p
}

// RunNetSchedule plays the real-network schedule of seed and checks it; see
// docs/safety.md. It runs in real time, outside any synctest bubble, for
// about FaultPhase + QuietPhase, over loopback TCP: one gRPC server
// (internal/testutil.TCPServer) in front of an in-memory store, and one
// fault proxy (testutil.Proxy) per candidate, which dials its own.
//
// From the seed it picks 3 to 5 candidates, which all campaign through
// Run (some handing the lock over in the fault phase: lead returns, Run
// releases), and a sequence of fault episodes of bounded length, one at a
// time: one proxy's or every proxy's connections reset, silent or
// stalled, or the server restarted on its address. Then every fault heals
// and a quiet phase follows. A sampler reads every candidate's word on its
// leadership (IsLeader, remaining lease, a live lead context) every
// SamplePeriod, each reading bracketed by the clock before and after it,
// and then the server's lease. The checks, against the server's record
// (qqtest's History, on the same clock as the candidates):
//
//	(a) every report of leadership lies in a tenure the server granted to
//	    that candidate: one that started before the reading ended and
//	    ended after it began;
//	(b) no two tenures overlap, and two candidates reporting leadership in
//	    one sample are covered by tenures that do not overlap;
//	(c) after the faults stop at F, some candidate leads from no later
//	    than F + the schedule's liveness bound until the end, and it stays
//	    the same candidate;
//	(d) no candidate panics or hangs, Run returns only when its context
//	    ends, and none leads after Close;
//	(e) a remaining lease never outlasts the server's lease.
//
// A reading of IsLeader or of the remaining lease is judged exactly: the
// bracket makes a pause of the checker widen it, never move it. A live
// lead context, cancelled by a timer of the candidate, and the liveness
// verdicts depend on the process getting CPU: they are excused (Report.
// Excused) when the sampler shows the process was starved enough to
// explain them, as docs/safety.md details.
func RunNetSchedule(seed uint64, cfg NetConfig, newCandidate NewNetCandidate) (Report, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return Report{Seed: seed}, fmt.Errorf("safety: seed %d: invalid network config: %w", seed, err)
	}
	if newCandidate == nil {
		return Report{Seed: seed}, fmt.Errorf("safety: seed %d: nil NewNetCandidate", seed)
	}
	r := newNetRun(seed, cfg)
	rep := r.play(newCandidate)
	return rep, rep.err()
}

// netRun is one real-network schedule in progress. It borrows the virtual
// mode's run for what does not depend on time being virtual: recording
// violations, reading a candidate's word and closing it.
type netRun struct {
	*run
	ncfg  NetConfig
	plan  netPlan
	store *qqtest.Server
	srv   *testutil.TCPServer

	proxies []*testutil.Proxy
	fleet   *testutil.Fleet // the fleet mode's, instead of srv and proxies
	incs    []*incarnation
	faulty  atomic.Bool
	handing []atomic.Bool // candidate i's lead returned on its own; a release may follow

	lmu      sync.Mutex
	leadEnds [][]time.Time // per candidate, when its lead function returned
	// handovers: per candidate, when its lead function chose to return
	handovers [][]time.Time
	healed    time.Time   // when the faults stopped
	struck    []fleetSpan // the fleet mode's episodes as played

	// sampler-only until it stops
	claims  []netClaim
	samples []netSample
	gaps    []netGap
}

// netClaim is one candidate's report of leadership at one sample: its
// word, read between before and after, and the server's lease read after
// every candidate of the sample.
type netClaim struct {
	cand          int
	before, after time.Time
	isLeader      bool
	remaining     time.Duration
	lead          bool
	handing       bool
	holder        string
	expires       time.Time
	held          bool
	sample        int
}

type netSample struct {
	at       time.Time
	claimers []int
}

// netGap is a stretch in which the sampler did not run for more than two
// periods.
type netGap struct{ from, to time.Time }

func newNetRun(seed uint64, cfg NetConfig) *netRun {
	r := &netRun{
		run: &run{
			seed: seed,
			// What close and grace read.
			cfg:   SafetyConfig{TTL: cfg.TTL, RequestTimeout: cfg.ReleaseTimeout, Log: cfg.Log},
			start: time.Now(),
		},
		ncfg: cfg,
		plan: newNetPlan(seed, cfg),
	}
	r.rep = Report{Seed: seed, Candidates: r.plan.candidates, FaultsEnd: cfg.FaultPhase}
	r.handing = make([]atomic.Bool, r.plan.candidates)
	r.leadEnds = make([][]time.Time, r.plan.candidates)
	r.handovers = make([][]time.Time, r.plan.candidates)
	return r
}

// excuse records a verdict the process's starvation explains.
func (r *netRun) excuse(check, format string, args ...any) {
	at := r.since()
	r.logf("excused (%s): "+format, append([]any{check}, args...)...)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rep.ExcusedCount++
	if len(r.rep.Excused) < maxViolations {
		r.rep.Excused = append(r.rep.Excused, Violation{At: at, Check: check, What: fmt.Sprintf(format, args...)})
	}
}

func (r *netRun) play(newCandidate NewNetCandidate) Report {
	r.store = qqtest.NewUnstartedServer()
	if r.ncfg.fleet() {
		return r.playFleet(newCandidate)
	}
	srv, err := startBelowEphemeral(r.store)
	if err != nil {
		r.violate("setup", "starting the server: %v", err)
		return r.report()
	}
	r.srv = srv
	defer srv.Stop()
	defer func() {
		for _, p := range r.proxies {
			_ = p.Close()
		}
	}()
	ok := r.buildAll(newCandidate, func(i int) (string, error) {
		p, err := testutil.NewProxy(srv.Addr())
		if err != nil {
			return "", fmt.Errorf("starting proxy %d: %w", i, err)
		}
		r.proxies = append(r.proxies, p)
		return p.Addr(), nil
	})
	if !ok {
		return r.report()
	}
	return r.playSchedule()
}

// buildAll builds every candidate, each dialling the address addr gives
// it, or reports the first failure, closes what it built and returns
// false.
func (r *netRun) buildAll(newCandidate NewNetCandidate, addr func(i int) (string, error)) bool {
	for i := range r.plan.candidates {
		a, err := addr(i)
		if err != nil {
			r.violate("setup", "%v", err)
			r.closeAll()
			return false
		}
		inc, err := r.build(i, a, newCandidate)
		if err != nil {
			r.violate("setup", "building candidate %s: %v", inc.id, err)
			r.closeAll()
			return false
		}
		r.incs = append(r.incs, inc)
	}
	return true
}

// playSchedule plays the schedule once every candidate is built: the
// campaigns, the episodes, the healing and the quiet phase, then judges.
func (r *netRun) playSchedule() Report {
	r.start = time.Now()
	r.faulty.Store(true)

	ctx, cancel := context.WithCancel(context.Background())
	var campaigns sync.WaitGroup
	for i := range r.incs {
		campaigns.Add(1)
		go r.campaign(ctx, i, &campaigns)
	}
	stopSampler, sampled := make(chan struct{}), make(chan struct{})
	go r.sampleLoop(stopSampler, sampled)

	// The faults, one episode after another, then healing and quiet.
	for _, e := range r.plan.episodes {
		r.sleepUntil(e.at)
		r.begin(e)
		r.sleepUntil(e.until)
		r.end(e)
	}
	r.sleepUntil(r.ncfg.FaultPhase)
	r.endFaults()
	r.sleepUntil(r.ncfg.FaultPhase + r.ncfg.QuietPhase)
	close(stopSampler)
	<-sampled

	cancel()
	if !r.wait(&campaigns, r.grace()) {
		r.violate("d", "Run still running %v after its context ended", r.grace())
	}
	r.closeAll()
	r.judge(r.store.History())
	r.mu.Lock()
	r.rep.Calls = r.store.Calls()
	r.mu.Unlock()
	return r.report()
}

// startBelowEphemeral serves store on a loopback port below Linux's
// ephemeral range (32768 and up by default). A restart gives the port up
// for a while; one from the ephemeral range may meanwhile become the
// source port of any outgoing loopback connection (every client here
// makes them), and the restart would then fail for no fault of the client.
func startBelowEphemeral(store *qqtest.Server) (*testutil.TCPServer, error) {
	const lo, hi = 20000, 32768
	var err error
	for range 100 {
		port := lo + rand.IntN(hi-lo) // not a seeded stream: the plan's stay untouched
		var srv *testutil.TCPServer
		if srv, err = testutil.StartTCPServer(store, fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			return srv, nil
		}
	}
	return nil, fmt.Errorf("no free loopback port in [%d, %d): %w", lo, hi, err)
}

// build makes candidate i, dialling addr.
func (r *netRun) build(i int, addr string, newCandidate NewNetCandidate) (inc *incarnation, err error) {
	inc = &incarnation{id: fmt.Sprintf("n%d-c%d", r.seed, i)}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	c, err := newCandidate(inc.id, addr)
	if err == nil && c == nil {
		err = errors.New("nil candidate")
	}
	if err != nil {
		return inc, err
	}
	inc.c = c
	inc.lease, _ = c.(LeaseReporter)
	inc.runner, _ = c.(Runner)
	if inc.runner == nil {
		_ = c.Close()
		return inc, errors.New("the network mode needs a Runner")
	}
	inc.ready.Store(true)
	r.mu.Lock()
	r.rep.Incarnations++
	r.mu.Unlock()
	return inc, nil
}

func (r *netRun) closeAll() {
	for _, inc := range r.incs {
		r.close(inc, true)
	}
}

// sleepUntil sleeps until at since the start: the schedule's own timing.
func (r *netRun) sleepUntil(at time.Duration) {
	if d := at - r.since(); d > 0 {
		time.Sleep(d)
	}
}

// campaign runs candidate i on Run until ctx ends.
func (r *netRun) campaign(ctx context.Context, i int, wg *sync.WaitGroup) {
	defer wg.Done()
	inc := r.incs[i]
	defer func() {
		if p := recover(); p != nil {
			r.violate("d", "candidate %s panicked: %v\n%s", inc.id, p, debug.Stack())
		}
	}()
	hold := r.plan.holds[i]
	err := inc.runner.Run(ctx, func(lctx context.Context) {
		r.handing[i].Store(false)
		inc.lead.Store(&lctx)
		defer func() {
			inc.lead.Store(nil)
			r.lmu.Lock()
			r.leadEnds[i] = append(r.leadEnds[i], time.Now())
			r.lmu.Unlock()
		}()
		if hold == 0 || !r.faulty.Load() {
			<-lctx.Done()
			return
		}
		t := time.NewTimer(hold)
		defer t.Stop()
		select {
		case <-lctx.Done():
		case <-t.C:
			if !r.faulty.Load() { // no handovers once the faults stop
				<-lctx.Done()
				return
			}
			r.handing[i].Store(true)
			r.lmu.Lock()
			r.handovers[i] = append(r.handovers[i], time.Now())
			r.lmu.Unlock()
			r.count(func(c *FaultCounts) { c.Handovers++ })
			r.logf("%s: lead returns, Run releases the lock", inc.id)
		}
	})
	if ctx.Err() == nil {
		r.violate("d", "Run of %s returned %v before its context ended", inc.id, err)
	}
}

func proxyMode(k NetFault) testutil.ProxyMode {
	switch k {
	case NetReset:
		return testutil.ProxyReset
	case NetSilent:
		return testutil.ProxySilent
	case NetStall:
		return testutil.ProxyStall
	}
	return testutil.ProxyPass
}

// begin starts episode e.
func (r *netRun) begin(e netEpisode) {
	r.logf("begin: %v", e)
	if r.fleet != nil {
		r.beginFleet(e)
		return
	}
	r.count(func(c *FaultCounts) {
		switch e.kind {
		case NetReset:
			c.ConnResets++
		case NetSilent:
			c.ConnSilences++
		case NetStall:
			c.ConnStalls++
		case NetRestart:
			c.ServerRestarts++
		}
	})
	if e.kind == NetRestart {
		r.srv.Stop()
		return
	}
	r.setModes(e.target, proxyMode(e.kind))
}

// end heals episode e.
func (r *netRun) end(e netEpisode) {
	r.logf("end: %v", e)
	if r.fleet != nil {
		r.endFleet(e)
		return
	}
	if e.kind == NetRestart {
		if err := r.srv.Start(); err != nil {
			r.violate("setup", "restarting the server on %s: %v", r.srv.Addr(), err)
		}
		return
	}
	r.setModes(e.target, testutil.ProxyPass)
}

func (r *netRun) setModes(target int, m testutil.ProxyMode) {
	for i, p := range r.proxies {
		if target < 0 || target == i {
			if err := p.SetMode(m); err != nil {
				r.violate("setup", "proxy %d: %v", i, err)
			}
		}
	}
}

// endFaults heals everything (the episodes already did) and notes when.
func (r *netRun) endFaults() {
	r.faulty.Store(false)
	r.setModes(-1, testutil.ProxyPass)
	if r.fleet != nil {
		r.healFleet()
	} else if !r.srv.Serving() {
		if err := r.srv.Start(); err != nil {
			r.violate("setup", "restarting the server: %v", err)
		}
	}
	r.lmu.Lock()
	r.healed = time.Now()
	r.lmu.Unlock()
	r.logf("faults stop")
}

// sampleLoop samples every period until stop is closed, and notes the
// stretches in which it did not run.
func (r *netRun) sampleLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(r.ncfg.SamplePeriod)
	defer tick.Stop()
	last := time.Now()
	for {
		if now := time.Now(); now.Sub(last) > 2*r.ncfg.SamplePeriod {
			r.gaps = append(r.gaps, netGap{last, now})
		}
		last = time.Now()
		r.sample()
		select {
		case <-tick.C:
		case <-stop:
			return
		}
	}
}

// sample reads every candidate's word, each bracketed by the clock, then
// the server's lease.
func (r *netRun) sample() {
	k := len(r.samples)
	s := netSample{at: time.Now()}
	first := len(r.claims)
	for i, inc := range r.incs {
		before := time.Now()
		leads, remaining := r.word(inc)
		lead := inc.leadLive()
		after := time.Now()
		if !leads && remaining <= 0 && !lead {
			continue
		}
		s.claimers = append(s.claimers, i)
		r.claims = append(r.claims, netClaim{
			cand: i, before: before, after: after, sample: k,
			isLeader: leads, remaining: remaining, lead: lead, handing: r.handing[i].Load(),
		})
	}
	holder, expires, held := r.store.Lease(r.ncfg.Service, r.ncfg.Domain)
	for j := first; j < len(r.claims); j++ {
		r.claims[j].holder, r.claims[j].expires, r.claims[j].held = holder, expires, held
	}
	r.samples = append(r.samples, s)
}

// starvedIn is how long the sampler went without running, beyond its
// period, in [from, to], and its longest single pause there.
func (r *netRun) starvedIn(from, to time.Time) (total, longest time.Duration) {
	for _, g := range r.gaps {
		lo, hi := later(g.from, from), earlier(g.to, to)
		if hi.After(lo) {
			d := max(0, hi.Sub(lo)-r.ncfg.SamplePeriod)
			total += d
			longest = max(longest, g.to.Sub(g.from))
		}
	}
	return total, longest
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// judge checks every claim against the server's record (a, b, e), and
// liveness (c).
func (r *netRun) judge(hist []qqtest.Tenure) {
	total, longest := r.starvedIn(r.start, time.Now())
	r.mu.Lock()
	r.rep.Starved, r.rep.LongestGap = total, longest
	r.rep.Samples = len(r.samples)
	prev, lastLead := -1, -1 // the previous sample's leader, the last leader seen
	for _, s := range r.samples {
		if len(s.claimers) == 0 {
			prev = -1
			continue
		}
		r.rep.LeaderSamples++
		c := s.claimers[0]
		if c != prev {
			r.rep.Intervals++
		}
		if lastLead >= 0 && c != lastLead {
			r.rep.LeadershipChanges++
		}
		prev, lastLead = c, c
	}
	r.mu.Unlock()
	r.judgeRecord(hist)
	r.judgeLiveness()
	if r.fleet != nil {
		r.judgeStability()
	}
}

// tenureOf returns the tenure of id in hist that covers [before, after]:
// started no later than after, ended later than before. Of two (a release
// and a new grant inside one reading), the later-ending one.
func tenureOf(hist []qqtest.Tenure, id string, before, after time.Time) (qqtest.Tenure, bool) {
	var found qqtest.Tenure
	ok := false
	for _, t := range hist {
		if t.ClientID == id && !t.Start.After(after) && t.End.After(before) && (!ok || t.End.After(found.End)) {
			found, ok = t, true
		}
	}
	return found, ok
}

func (r *netRun) judgeRecord(all []qqtest.Tenure) {
	var hist []qqtest.Tenure
	for _, t := range all {
		if t.Service == r.ncfg.Service && t.Domain == r.ncfg.Domain {
			hist = append(hist, t)
		}
	}
	for i := 1; i < len(hist); i++ {
		if prev, cur := hist[i-1], hist[i]; cur.Start.Before(prev.End) {
			r.violate("b", "tenures overlap on the server: %s until %v, %s from %v", prev.ClientID, r.at(prev.End), cur.ClientID, r.at(cur.Start))
		}
	}
	reported := map[string]bool{}
	once := func(check, id string) bool {
		k := check + " " + id
		if reported[k] {
			return false
		}
		reported[k] = true
		return true
	}
	covering := make([]qqtest.Tenure, len(r.claims))
	covered := make([]bool, len(r.claims))
	for j, c := range r.claims {
		id := r.incs[c.cand].id
		t, ok := tenureOf(hist, id, c.before, c.after)
		covering[j], covered[j] = t, ok
		switch {
		case !ok && (c.isLeader || c.remaining > 0):
			if once("a", id) {
				r.violate("a", "%s reported leadership (%s) between %v and %v, inside no tenure the server granted it: %s",
					id, words(c.isLeader, c.remaining, c.lead), r.at(c.before), r.at(c.after), r.tenuresAt(hist, id))
			}
		case !ok:
			// Only a live lead context, which a timer of the candidate
			// cancels at its deadline, Slack before the server's expiry:
			// seen live past the expiry only if that timer ran late.
			_, gap := r.starvedIn(c.before.Add(-r.ncfg.Slack-r.ncfg.TTL), c.after)
			if gap >= min(r.ncfg.Slack, StarvationExcuse) {
				r.excuse("a", "%s's lead context was live at %v, outside its tenures (%s), after the process was starved for %v",
					id, r.at(c.before), r.tenuresAt(hist, id), gap)
			} else if once("a", id) {
				r.violate("a", "%s's lead context was live between %v and %v, inside no tenure the server granted it: %s (longest pause of the process around it %v)",
					id, r.at(c.before), r.at(c.after), r.tenuresAt(hist, id), gap)
			}
		}
		// (e): the deadline it reports is at least before+remaining; the
		// server's expiry at that instant is at most the expiry read after
		// the sample while it still held the lock for id, and at most the
		// end of the covering tenure unless a release of its own (a
		// handover) cut the tenure short.
		if c.remaining > 0 {
			least := c.before.Add(c.remaining)
			switch {
			case c.held && c.holder == id:
				if least.After(c.expires) && once("e", id) {
					r.violate("e", "%s trusted its lease until at least %v, but the server's lease ended at %v", id, r.at(least), r.at(c.expires))
				}
			case ok && !c.handing:
				if least.After(t.End) && once("e", id) {
					r.violate("e", "%s trusted its lease until at least %v, but its tenure ended at %v", id, r.at(least), r.at(t.End))
				}
			}
		}
	}
	// (b): two candidates claiming in one sample must be covered by
	// tenures that do not overlap (the claims then fell at two instants).
	byS := map[int][]int{}
	for j, c := range r.claims {
		byS[c.sample] = append(byS[c.sample], j)
	}
	for _, js := range byS {
		if len(js) < 2 {
			continue
		}
		r.rep.MultiClaimSamples++
		for x := range js {
			for y := x + 1; y < len(js); y++ {
				a, b := js[x], js[y]
				if covered[a] && covered[b] && covering[a].Start.Before(covering[b].End) && covering[b].Start.Before(covering[a].End) {
					r.violate("b", "%s and %s reported leadership in one sample at %v, under overlapping tenures",
						r.incs[r.claims[a].cand].id, r.incs[r.claims[b].cand].id, r.at(r.claims[a].before))
				}
			}
		}
	}
}

// bound is the schedule's liveness bound, from the faults' end, derived
// as in docs/connections.md and extended by what a random schedule adds:
//
//   - a lease the server granted before the faults stopped runs out
//     within the server's TTL;
//   - a candidate's connection works again within the call timeout (a
//     silent connection is replaced, a connect attempt into silence
//     abandoned) plus a backoff step, when the schedule silenced or
//     stalled a connection, and within a backoff step otherwise;
//   - a candidate whose lead function returned (leadership lost or handed
//     over) is in Run's release, which waits up to ReleaseTimeout on a
//     dead connection, then reconnects within a backoff step;
//
// after which the next attempt of a free candidate comes within a retry
// interval and takes a round trip or two.
func (r *netRun) bound() time.Duration {
	c := r.ncfg
	conn := c.maxRetry()
	for _, e := range r.plan.episodes {
		// A silenced connection stays silent, in the fleet mode too.
		if e.kind == NetSilent || e.kind == NetStall {
			conn = c.CallTimeout + c.maxRetry()
		}
	}
	r.lmu.Lock()
	healed := r.healed
	free := time.Duration(-1)
	for _, ends := range r.leadEnds {
		f := conn
		if n := len(ends); n > 0 {
			f = max(f, ends[n-1].Add(c.ReleaseTimeout+c.maxRetry()).Sub(healed))
		}
		if free < 0 || f < free {
			free = f
		}
	}
	r.lmu.Unlock()
	return max(c.serverTTL(), free) + c.maxRetry() + 2*c.RoundTrip
}

// judgeLiveness checks (c): after the faults stopped, one candidate
// leads at every sample from some instant until the end (the final
// stretch), and that stretch began within the bound. A leaderless sample
// or a sample led by another candidate ends a stretch: a grant whose
// answer a stall held until the faults stopped may be worth a few
// milliseconds of lease, after which its holder releases and another
// candidate takes over without a leaderless sample, and that is only
// judged by when the last stretch began, like a gap.
func (r *netRun) judgeLiveness() {
	r.lmu.Lock()
	healed := r.healed
	r.lmu.Unlock()
	bound := r.bound()
	end := time.Now()
	if len(r.samples) > 0 {
		end = r.samples[len(r.samples)-1].at
	}
	var (
		recovery time.Duration // start of the final stretch, after healed
		leader   = -1          // its candidate; -1 while nobody leads
		broke    time.Time     // the last sample that ended a stretch
		why      string
	)
	for _, s := range r.samples {
		switch {
		case s.at.Before(healed):
			if len(s.claimers) > 0 {
				leader = s.claimers[0]
			} else {
				leader = -1
			}
		case len(s.claimers) == 0:
			if leader >= 0 || broke.IsZero() {
				broke, why = s.at, "no candidate led"
			}
			leader = -1
		case leader < 0:
			leader, recovery = s.claimers[0], s.at.Sub(healed)
		case !slices.Contains(s.claimers, leader):
			why = fmt.Sprintf("leadership moved from %s to %s", r.incs[leader].id, r.incs[s.claimers[0]].id)
			broke, leader, recovery = s.at, s.claimers[0], s.at.Sub(healed)
		}
	}
	found := leader >= 0
	r.mu.Lock()
	r.rep.RecoveryBound = bound
	r.rep.Recovery = recovery
	if !found {
		r.rep.Recovery = -1
	}
	r.mu.Unlock()
	if found && recovery <= bound {
		return
	}
	// A recovery the process was starved through is late by that much;
	// and a leader the process starved past its renewals lost its lease,
	// as it must.
	upTo := end
	what := fmt.Sprintf("no candidate leads at the end, %v after the faults stopped", end.Sub(healed))
	miss := end.Sub(healed) - bound
	if found {
		upTo = healed.Add(recovery)
		what = fmt.Sprintf("leadership resumed for good only %v after the faults stopped (%s at %v)", recovery, why, r.at(broke))
		miss = recovery - bound
	}
	starved, _ := r.starvedIn(healed, upTo)
	_, pause := r.starvedIn(broke.Add(-r.ncfg.TTL), broke)
	switch {
	case starved >= miss:
		r.excuse("c", "%s (bound %v); the process was starved for %v of it", what, bound, starved)
	case !broke.IsZero() && pause >= StarvationExcuse:
		r.excuse("c", "%s (bound %v), after a pause of the process of %v", what, bound, pause)
	default:
		r.violate("c", "%s (bound %v; the process was starved for %v of it, its longest pause before %v)", what, bound, starved, pause)
	}
}

// at renders t as time since the schedule's start.
func (r *netRun) at(t time.Time) time.Duration { return t.Sub(r.start).Round(time.Microsecond) }

func (r *netRun) tenuresAt(hist []qqtest.Tenure, id string) string {
	var parts []string
	for _, t := range hist {
		if t.ClientID == id {
			parts = append(parts, fmt.Sprintf("[%v, %v)", r.at(t.Start), r.at(t.End)))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}
