package outage

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
)

// ManyConfig is one trial of many elections on one connection (issue 18):
// Elections elections, each its own client on Run, all sharing one
// client.DialConn to Servers servers behind the fleet's balancer.
type ManyConfig struct {
	Elections, Servers int
	TTL                time.Duration
	// Rotation is how long the vanished server stays silent and in the
	// balancer's rotation (10 s in the issue).
	Rotation time.Duration
	// Secondary strikes the server carrying the link that fewer calls
	// went to in the steady state, instead of the one most went to.
	Secondary bool
	// Steady is how long to watch once every election leads, before the
	// fault; Settle how long to keep watching after it healed.
	Steady, Settle time.Duration
	// Limit bounds the wait for every election to lead.
	Limit time.Duration
	// Bucket is the width of the buckets the call rates are counted in.
	Bucket time.Duration
}

// ManyResult is what one trial of many elections found.
type ManyResult struct {
	// Servers are the servers the connection's live links reached when
	// the fault struck, and Server the one struck.
	Servers []int
	Server  int
	// Lost counts the elections that stopped leading (a transition out of
	// leadership) from the fault until Settle after it healed, LeadEnded
	// the lead contexts Run ended then; Moved renders a few of them.
	Lost, LeadEnded int
	Moved           []string
	// Steady and Fault are the calls every server answered, per second, in
	// the steady state and from the fault's start until it healed: the
	// mean and the peak bucket. StruckPeak and HealthyPeak are the peak
	// bucket of one server during the fault: the struck one before it
	// went silent (its relay still passing calls answered in that bucket)
	// and the busiest other.
	SteadyMean, SteadyPeak, FaultMean, FaultPeak float64
	HealthyPeak, HealthySteadyPeak               float64
	// Calls are the calls the connection sent (first copies) and Hedged
	// the copies it sent again, in the steady state and in the window;
	// HedgePeak is the peak rate of hedges per second (one bucket).
	SteadyCalls, SteadyHedged, Calls, Hedged int64
	HedgePeak                                float64
	// HedgedToReplace is the hedges from the fault's start until the
	// silent link was replaced, CallsToReplace the calls sent then: the
	// bound says HedgedToReplace is at most about half of them.
	HedgedToReplace, CallsToReplace int64
	// HedgeDelay is the connection's hedge delay when the fault struck.
	HedgeDelay time.Duration
	// Replaced is how long after the fault the silent link was first
	// replaced (0: it was not), and Replacements the replacements in the
	// window.
	Replaced     time.Duration
	Replacements int64
	// LongestRenewal and SteadyRenewal are the longest renewal of any
	// election as it saw it (see FleetResult), in the window and before;
	// Renewals the renewals granted in the window.
	LongestRenewal, SteadyRenewal time.Duration
	Renewals                      int
	// Setup is how long the elections took to all lead.
	Setup time.Duration
	// SteadyGap and FaultGap are the longest time between two of the
	// recorder's samples (taken every bucket) in the steady state and
	// from the fault until Settle after it healed: how long the process
	// was starved of CPU, to a bucket. SteadyHedges are the hedges in
	// each second of the steady state.
	SteadyGap, FaultGap time.Duration
	SteadyHedges        []int64
	// Lapsed counts the elections whose lock the store saw lapse and
	// granted again: the store's own count of lost leadership.
	Lapsed int
}

// RunMany plays one trial of many elections on one connection: the
// connection is dialled to the balancer with a dialer recording its
// links' local addresses; once every election leads and Steady passed,
// the server carrying the link most calls went to in the steady state
// (or the other, cfg.Secondary) vanishes: silent, kept in rotation
// cfg.Rotation, then healed.
func RunMany(ctx context.Context, cfg ManyConfig) (ManyResult, error) {
	if cfg.Elections < 1 || cfg.Servers < 2 || cfg.TTL <= 0 || cfg.Rotation < 0 || cfg.Steady <= 0 ||
		cfg.Settle < 0 || cfg.Limit <= 0 || cfg.Bucket <= 0 {
		return ManyResult{}, fmt.Errorf("%w: %+v", ErrConfig, cfg)
	}
	store := qqtest.NewUnstartedServer()
	fleet, err := testutil.NewFleet(store, cfg.Servers, cfg.Rotation)
	if err != nil {
		return ManyResult{}, err
	}
	defer fleet.Close()
	// The connection's dialer: a fleetCandidate records the links.
	links := &fleetCandidate{candidate: &candidate{id: "conn"}, conns: map[net.Conn]string{}}
	conn, err := client.DialConn(fleet.Addr(), cfg.TTL, client.WithDialOptions(grpc.WithContextDialer(links.dial)))
	if err != nil {
		return ManyResult{}, err
	}
	defer conn.Close()

	ctx, cancel := context.WithCancel(ctx)
	var running sync.WaitGroup
	els := make([]*fleetCandidate, cfg.Elections)
	defer func() {
		cancel()
		running.Wait()
		for _, e := range els {
			if e != nil && e.q != nil {
				_ = e.q.Close()
			}
		}
	}()
	for i := range els {
		e := &fleetCandidate{candidate: &candidate{id: fmt.Sprintf("e%05d", i)}}
		q, err := client.NewQuorumQuestClient("many", e.id, cfg.TTL, "",
			client.WithServerStub(conn), client.WithClientID(e.id), client.WithTransitionHook(e.observe))
		if err != nil {
			return ManyResult{}, err
		}
		e.q, els[i] = q, e
		running.Add(1)
		go func() {
			defer running.Done()
			_ = q.Run(ctx, func(lead context.Context) {
				<-lead.Done()
				e.mu.Lock()
				e.leadEnds = append(e.leadEnds, time.Now())
				e.mu.Unlock()
			})
		}()
	}
	start := time.Now()
	if err := allLead(ctx, els, cfg.Limit); err != nil {
		return ManyResult{}, err
	}
	res := ManyResult{Setup: time.Since(start), Server: -1}

	rec := startRecorder(fleet, conn, cfg.Bucket)
	defer rec.stop()
	steadyFrom := time.Now()
	before := answeredBy(fleet)
	if !sleepCtx(ctx, cfg.Steady) {
		return ManyResult{}, ctx.Err()
	}
	atFault := answeredBy(fleet)
	res.Servers = links.servers(fleet)
	res.Server = strikeTarget(res.Servers, before, atFault, cfg.Secondary)
	if res.Server < 0 {
		return ManyResult{}, fmt.Errorf("the connection has no live link the balancer knows (servers %v)", res.Servers)
	}
	res.HedgeDelay = conn.HedgeDelay()
	struck := time.Now()
	if err := fleet.Silence(res.Server); err != nil {
		return ManyResult{}, err
	}
	if !sleepCtx(ctx, cfg.Rotation) {
		return ManyResult{}, ctx.Err()
	}
	healed := time.Now()
	if err := fleet.Heal(res.Server); err != nil {
		return ManyResult{}, err
	}
	end := healed.Add(cfg.Settle)
	if !sleepCtx(ctx, time.Until(end)) {
		return ManyResult{}, ctx.Err()
	}
	rec.stop()

	s := rec.series()
	res.SteadyMean, res.SteadyPeak = s.rate(steadyFrom, struck, -1)
	res.FaultMean, res.FaultPeak = s.rate(struck, healed, -1)
	for i := range cfg.Servers {
		if i == res.Server {
			continue
		}
		_, p := s.rate(struck, healed, i)
		res.HealthyPeak = max(res.HealthyPeak, p)
		_, p = s.rate(steadyFrom, struck, i)
		res.HealthySteadyPeak = max(res.HealthySteadyPeak, p)
	}
	res.SteadyCalls, res.SteadyHedged = s.sent(steadyFrom, struck)
	res.Calls, res.Hedged = s.sent(struck, end)
	res.HedgePeak = s.hedgePeak(struck, end)
	if at, ok := s.replacedAt(struck); ok {
		res.Replaced = at.Sub(struck)
		res.CallsToReplace, res.HedgedToReplace = s.sent(struck, at)
	}
	res.Replacements = s.replacements(struck, end)
	res.SteadyGap, res.FaultGap = s.longestGap(steadyFrom, struck), s.longestGap(struck, end)
	res.SteadyHedges = s.hedgesPer(steadyFrom, struck, time.Second)
	for _, e := range els {
		n, longest := e.renewals(struck, end)
		res.Renewals += n
		res.LongestRenewal = max(res.LongestRenewal, longest)
		_, steady := e.renewals(steadyFrom, struck)
		res.SteadyRenewal = max(res.SteadyRenewal, steady)
		res.LeadEnded += e.leadEndsIn(struck, end)
		if ends := e.endings(struck, end); len(ends) > 0 {
			res.Lost++
			if len(res.Moved) < 5 {
				res.Moved = append(res.Moved, ends...)
			}
		}
	}
	res.Lapsed = lapsed(store.History())
	return res, nil
}

// allLead waits until every election leads, or fails after limit.
func allLead(ctx context.Context, els []*fleetCandidate, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		leading := 0
		for _, e := range els {
			if e.q.IsLeader() {
				leading++
			}
		}
		if leading == len(els) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d elections lead after %v", leading, len(els), limit)
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// strikeTarget is the server of servers that answered most calls between
// the snapshots a and b, or, secondary, the one that answered fewest.
func strikeTarget(servers []int, a, b []int, secondary bool) int {
	if !secondary {
		return primary(servers, a, b)
	}
	best := -1
	for _, s := range servers {
		if best < 0 || b[s]-a[s] < b[best]-a[best] {
			best = s
		}
	}
	return best
}

// answeredBy returns, per server, every call it answered.
func answeredBy(f *testutil.Fleet) []int {
	out := make([]int, f.Size())
	for i := range out {
		out[i] = int(f.Answered(i))
	}
	return out
}

// lapsed counts the locks granted more than once in history: each lock
// is one election's, so a second tenure means the first lapsed.
func lapsed(history []qqtest.Tenure) int {
	tenures := map[string]int{}
	n := 0
	for _, t := range history {
		k := t.Service + "/" + t.Domain
		if tenures[k]++; tenures[k] == 2 {
			n++
		}
	}
	return n
}
