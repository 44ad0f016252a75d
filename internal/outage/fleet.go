package outage

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
)

// FleetFault is a fault of a fleet's servers (issue 18).
type FleetFault string

// The fleet faults. All but Rolling strike the server carrying the
// leader's connection (see RunFleet for which, when it has several).
const (
	// Vanish silences the server: its connections, old and new, forward
	// nothing and are never reset; the balancer keeps it in rotation for
	// FleetConfig.Rotation, after which it heals.
	Vanish FleetFault = "vanish"
	// Graceful stops the server gracefully (GOAWAY, as on SIGTERM), down
	// for FleetConfig.Down, then starts it again.
	Graceful FleetFault = "graceful"
	// Kill kills the server (connections reset, listener gone), back after
	// FleetConfig.Down.
	Kill FleetFault = "kill"
	// Rolling restarts every server in turn, gracefully, each down for
	// FleetConfig.Down, one starting FleetConfig.RollEvery after another.
	Rolling FleetFault = "rolling"
)

// FleetFaults lists every fleet fault, in the order the figures show them.
func FleetFaults() []FleetFault { return []FleetFault{Vanish, Graceful, Kill, Rolling} }

// FleetConfig is one fleet trial.
type FleetConfig struct {
	Fault FleetFault
	TTL   time.Duration
	// Servers and Candidates: 3 and 3 in the scenario.
	Servers, Candidates int
	// Rotation is how long the balancer keeps a faulty server in rotation
	// (10 s in the issue), and how long a vanished server stays silent.
	Rotation time.Duration
	// Down is how long a restarted or killed server is down (1 s), and
	// RollEvery the time between two servers' stops in a rolling restart
	// (4 s).
	Down, RollEvery time.Duration
	// Steady is how long to watch the leader before the fault, for the
	// steady state's calls per renewal; Settle how long to keep watching
	// once the fault healed.
	Steady, Settle time.Duration
	// Limit bounds the wait for the first leader.
	Limit time.Duration
	// Options are added to every candidate's (default: none).
	Options []client.Option
	// External, when set, are the addresses of servers the trial did not
	// start (real ones, over one store): the balancer goes in front of
	// them. Only the faults the balancer makes alone are possible then:
	// Vanish, and Kill as a reset of every connection to the server for
	// Down. Domain names the lock (default "trial"); give each trial on
	// the same external servers its own.
	External []string
	Domain   string
}

// FleetResult is what one fleet trial found, from the fault's start
// until Settle after it healed (the window), unless said otherwise.
type FleetResult struct {
	// Leader is the candidate leading when the fault struck, Server the
	// server faulted (-1 for Rolling), and LeaderServers every server its
	// live connections reached then.
	Leader        string
	Server        int
	LeaderServers []int
	// Changes counts changes of leadership: a candidate other than the
	// last leader starting to lead.
	Changes int
	// Leaderless is the total time no candidate reported leadership.
	Leaderless time.Duration
	// NotLeading counts the instants a leading candidate stopped
	// reporting leadership (IsLeader turned false) and the lead contexts
	// Run ended.
	NotLeading, LeadEnded int
	// LongestRenewal is the longest a renewal of the leader took as it saw
	// it, from its first attempt (leader -> refreshing) to the renewal
	// granted, retries included, or to the loss of leadership;
	// SteadyRenewal the same before the fault.
	LongestRenewal, SteadyRenewal time.Duration
	// Renewals and Calls are the renewals granted to the leader (the one
	// the fault struck) as it saw them and its calls the servers answered
	// (TryAcquireLock and KeepAlive), in the steady state before the fault
	// and in the window; a leader that lost leadership has its attempts to
	// win it back counted as calls. Sent counts the calls the leader sent,
	// every copy of a hedged call included, as a unary interceptor on its
	// connections saw them: a copy sent to a vanished server is sent but
	// never answered.
	SteadyRenewals, SteadyCalls, Renewals, Calls int
	SteadySent, Sent                             int
	// Moved says what moved leadership, for the log.
	Moved []string
	// Starved is the longest the monitor went without running in the
	// window: a process starved past its lease loses leadership, rightly.
	Starved time.Duration
	// Violations lists every safety violation, as Run's.
	Violations []string
}

// RunFleet plays one fleet trial: Servers servers over one store behind a
// round-robin balancer (internal/testutil.Fleet), Candidates candidates on
// Run, each its own client dialling the balancer with its options and a
// dialer that records the local address of every connection. Once a
// candidate leads and Steady passed, the fault strikes the server carrying
// the leader's connection: the server its live connections reached; when
// they reached several (a client keeping two connections), the one that
// answered most of its calls in the steady state, its primary (ties: the
// lowest index). Should the dialer have recorded no live connection, the
// servers that answered its calls in the steady state stand in for them.
func RunFleet(ctx context.Context, cfg FleetConfig) (FleetResult, error) {
	if cfg.Servers < 1 || cfg.Candidates < 1 || cfg.TTL <= 0 || cfg.Rotation < 0 || cfg.Down <= 0 ||
		cfg.RollEvery <= 0 || cfg.Steady <= 0 || cfg.Settle < 0 || cfg.Limit <= 0 {
		return FleetResult{}, fmt.Errorf("%w: %+v", ErrConfig, cfg)
	}
	if !slices.Contains(FleetFaults(), cfg.Fault) {
		return FleetResult{}, fmt.Errorf("%w: unknown fleet fault %q", ErrConfig, cfg.Fault)
	}
	var store *qqtest.Server
	var fleet *testutil.Fleet
	var err error
	if cfg.External != nil {
		if cfg.Fault != Vanish && cfg.Fault != Kill {
			return FleetResult{}, fmt.Errorf("%w: fault %q needs in-process servers; external servers allow %q and %q (a reset)", ErrConfig, cfg.Fault, Vanish, Kill)
		}
		fleet, err = testutil.NewFleetOf(cfg.External, cfg.Rotation)
	} else {
		store = qqtest.NewUnstartedServer()
		fleet, err = testutil.NewFleet(store, cfg.Servers, cfg.Rotation)
	}
	if err != nil {
		return FleetResult{}, err
	}
	defer fleet.Close()

	ctx, cancel := context.WithCancel(ctx)
	var running sync.WaitGroup
	var fcs []*fleetCandidate
	defer func() {
		cancel()
		running.Wait()
		for _, c := range fcs {
			c.close()
		}
	}()
	cands := make([]*candidate, 0, cfg.Candidates)
	for i := range cfg.Candidates {
		c, err := newFleetCandidate(fmt.Sprintf("c%d", i), fleet.Addr(), cfg)
		if err != nil {
			return FleetResult{}, err
		}
		fcs = append(fcs, c)
		cands = append(cands, c.candidate)
		running.Add(1)
		go func() {
			defer running.Done()
			_ = c.q.Run(ctx, func(lead context.Context) {
				<-lead.Done()
				c.mu.Lock()
				c.leadEnds = append(c.leadEnds, time.Now())
				c.mu.Unlock()
			})
		}()
	}
	mon := startMonitor(cands)
	defer mon.stop()

	leaderID, _, err := mon.waitLeader(ctx, time.Now(), cfg.Limit)
	if err != nil {
		return FleetResult{}, fmt.Errorf("before the fault: %w", err)
	}
	steadyFrom := time.Now()
	before := callsBy(fleet, leaderID)
	if !sleepCtx(ctx, cfg.Steady) {
		return FleetResult{}, ctx.Err()
	}
	// The leader now: a monitor sample of 1 ms ago at most.
	leader := fcs[slices.IndexFunc(fcs, func(c *fleetCandidate) bool { return c.id == leaderID })]
	if !leader.q.IsLeader() {
		if id, _, err := mon.waitLeader(ctx, steadyFrom, time.Millisecond); err == nil {
			leader = fcs[slices.IndexFunc(fcs, func(c *fleetCandidate) bool { return c.id == id })]
		}
	}
	res := FleetResult{Leader: leader.id, Server: -1}
	atFault := callsBy(fleet, leader.id)
	struck := time.Now()
	res.SteadyRenewals, res.SteadyRenewal = leader.renewals(steadyFrom, struck)
	res.SteadySent = leader.sentIn(steadyFrom, struck)
	res.SteadyCalls = sum(atFault) - sum(before)
	if leader.id != leaderID {
		res.SteadyCalls = 0 // the calls of another leader; too short a steady state to judge
	}
	res.LeaderServers = leader.servers(fleet)
	if len(res.LeaderServers) == 0 {
		// No connection through the recording dialer (a client that
		// dials its own way): the servers that answered its calls.
		for i := range atFault {
			if atFault[i] > before[i] {
				res.LeaderServers = append(res.LeaderServers, i)
			}
		}
	}
	if cfg.Fault != Rolling {
		res.Server = primary(res.LeaderServers, before, atFault)
		if res.Server < 0 {
			return FleetResult{}, fmt.Errorf("the leader %s has no live connection the balancer knows", leader.id)
		}
	}

	healed, err := strike(ctx, fleet, cfg, res.Server)
	if err != nil {
		return FleetResult{}, err
	}
	end := healed.Add(cfg.Settle)
	if !sleepCtx(ctx, time.Until(end)) {
		return FleetResult{}, ctx.Err()
	}
	mon.stop()
	res.Calls = sum(callsBy(fleet, leader.id)) - sum(atFault)
	res.Renewals, res.LongestRenewal = leader.renewals(struck, end)
	res.Sent = leader.sentIn(struck, end)
	runs := mon.runs()
	res.Changes, res.NotLeading, res.Leaderless = judgeWindow(runs, leader.id, struck, end)
	for _, c := range fcs {
		res.LeadEnded += c.leadEndsIn(struck, end)
		if res.Changes > 0 || res.NotLeading > 0 {
			res.Moved = append(res.Moved, c.endings(struck, end)...)
		}
	}
	res.Starved = mon.longestGap(struck, end)
	if store != nil {
		res.Violations = check(store.History(), runs)
	} else {
		res.Violations = overlaps(runs) // no history of an external store
	}
	return res, nil
}

// strike plays cfg's fault on server s and returns when it healed.
func strike(ctx context.Context, fleet *testutil.Fleet, cfg FleetConfig, s int) (time.Time, error) {
	var err error
	switch cfg.Fault {
	case Vanish:
		if err = fleet.Silence(s); err == nil && !sleepCtx(ctx, cfg.Rotation) {
			err = ctx.Err()
		}
	case Graceful, Kill:
		switch {
		case cfg.Fault == Graceful:
			err = fleet.Stop(s)
		case cfg.External != nil:
			err = fleet.Reset(s) // as the balancer sees a killed server
		default:
			err = fleet.Kill(s)
		}
		if err == nil && !sleepCtx(ctx, cfg.Down) {
			err = ctx.Err()
		}
	case Rolling:
		for i := range fleet.Size() {
			start := time.Now()
			if err = fleet.Stop(i); err != nil {
				break
			}
			if !sleepCtx(ctx, cfg.Down) {
				return time.Time{}, ctx.Err()
			}
			if err = fleet.Start(i); err != nil {
				break
			}
			if i < fleet.Size()-1 && !sleepCtx(ctx, time.Until(start.Add(cfg.RollEvery))) {
				return time.Time{}, ctx.Err()
			}
		}
		return time.Now(), err
	}
	if err == nil {
		err = fleet.Heal(s)
	}
	return time.Now(), err
}

// judgeWindow counts, over the runs of leadership in [from, to], the
// changes of leader (the first run's candidate is leader), the runs that
// ended inside the window (a leading candidate stopped reporting
// leadership), and the time no run covered.
func judgeWindow(runs []run, leader string, from, to time.Time) (changes, ended int, leaderless time.Duration) {
	last := leader
	window := to.Sub(from)
	covered := time.Duration(0) // the window is covered by runs up to here, since from
	for _, r := range runs {
		start, stop := r.from.Sub(from), r.to.Sub(from)
		if stop <= 0 || start > window {
			continue
		}
		if start > 0 && r.id != last {
			changes++
		}
		last = r.id
		if !r.ongoing && stop < window {
			ended++
		}
		if start > covered {
			leaderless += min(start, window) - covered
		}
		covered = max(covered, stop)
	}
	if covered < window {
		leaderless += window - covered
	}
	return changes, ended, leaderless
}

// primary is the server of servers that answered most of the calls
// between the snapshots a and b, the lowest index on ties; -1 if servers
// is empty.
func primary(servers []int, a, b []int) int {
	best := -1
	for _, s := range servers {
		if best < 0 || b[s]-a[s] > b[best]-a[best] {
			best = s
		}
	}
	return best
}

// callsBy returns, per server, the TryAcquireLock and KeepAlive calls it
// answered for id.
func callsBy(f *testutil.Fleet, id string) []int {
	out := make([]int, f.Size())
	for i := range out {
		c := f.Calls(i, id)
		out[i] = c.TryAcquireLock + c.KeepAlive
	}
	return out
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// sleepCtx sleeps for d, or reports false if ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// fleetCandidate is a candidate dialling the fleet, which records its
// connections and its renewals.
type fleetCandidate struct {
	*candidate

	mu        sync.Mutex
	conns     map[net.Conn]string // live connections -> local address
	renewFrom time.Time           // the first attempt of the renewal in progress
	granted   []renewal           // renewals granted, and those lost
	sent      []time.Time         // TryAcquireLock and KeepAlive calls sent
	leadEnds  []time.Time
}

// renewal is one renewal as the client saw it: granted at at, or lost.
type renewal struct {
	from, at time.Time
	lost     bool
}

func newFleetCandidate(id, addr string, cfg FleetConfig) (*fleetCandidate, error) {
	fc := &fleetCandidate{candidate: &candidate{id: id}, conns: map[net.Conn]string{}}
	opts := append([]client.Option{
		client.WithClientID(id),
		client.WithDialOptions(grpc.WithContextDialer(fc.dial), grpc.WithChainUnaryInterceptor(fc.intercept)),
		client.WithTransitionHook(fc.observe),
	}, cfg.Options...)
	domain := cfg.Domain
	if domain == "" {
		domain = "trial"
	}
	q, err := client.NewQuorumQuestClient("fleet", domain, cfg.TTL, addr, opts...)
	if err != nil {
		return nil, err
	}
	fc.q = q
	return fc, nil
}

// dial connects over TCP and records the connection until it is closed.
func (fc *fleetCandidate) dial(ctx context.Context, addr string) (net.Conn, error) {
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	fc.mu.Lock()
	fc.conns[c] = c.LocalAddr().String()
	fc.mu.Unlock()
	return &trackedConn{Conn: c, fc: fc}, nil
}

// intercept notes when each TryAcquireLock and KeepAlive is sent, every
// copy of a hedged call included.
func (fc *fleetCandidate) intercept(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if strings.HasSuffix(method, "/TryAcquireLock") || strings.HasSuffix(method, "/KeepAlive") {
		fc.mu.Lock()
		fc.sent = append(fc.sent, time.Now())
		fc.mu.Unlock()
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

// sentIn counts the calls sent in [from, to].
func (fc *fleetCandidate) sentIn(from, to time.Time) int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return countIn(fc.sent, from, to)
}

// countIn counts the instants of ts in [from, to].
func countIn(ts []time.Time, from, to time.Time) int {
	n := 0
	for _, at := range ts {
		if !at.Before(from) && !at.After(to) {
			n++
		}
	}
	return n
}

// trackedConn forgets its connection when closed.
type trackedConn struct {
	net.Conn
	fc *fleetCandidate
}

func (t *trackedConn) Close() error {
	t.fc.mu.Lock()
	delete(t.fc.conns, t.Conn)
	t.fc.mu.Unlock()
	return t.Conn.Close()
}

// servers returns the servers the live connections reached, in order.
func (fc *fleetCandidate) servers(f *testutil.Fleet) []int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	var out []int
	for _, addr := range fc.conns {
		if i, ok := f.ServerOf(addr); ok && !slices.Contains(out, i) {
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// observe notes renewals and the transitions out of leadership.
func (fc *fleetCandidate) observe(t client.Transition) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	switch {
	case t.From == client.StateLeader && t.To == client.StateRefreshing && fc.renewFrom.IsZero():
		fc.renewFrom = t.At
	case t.From == client.StateRefreshing && t.To == client.StateLeader && t.Event == client.EventGranted:
		fc.granted = append(fc.granted, renewal{from: fc.renewFrom, at: t.At})
		fc.renewFrom = time.Time{}
	case !t.To.Leading() && !fc.renewFrom.IsZero():
		// A renewal that ended in the loss of leadership lasted until then.
		fc.granted = append(fc.granted, renewal{from: fc.renewFrom, at: t.At, lost: true})
		fc.renewFrom = time.Time{}
	}
	if t.From.Leading() && !t.To.Leading() {
		fc.candidate.mu.Lock()
		fc.ended = append(fc.ended, t)
		fc.candidate.mu.Unlock()
	}
}

// renewals counts the renewals granted in [from, to] and returns the
// longest renewal that ended there, granted or lost.
func (fc *fleetCandidate) renewals(from, to time.Time) (n int, longest time.Duration) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for _, r := range fc.granted {
		if !r.at.Before(from) && !r.at.After(to) {
			if !r.lost {
				n++
			}
			longest = max(longest, r.at.Sub(r.from))
		}
	}
	return n, longest
}

func (fc *fleetCandidate) leadEndsIn(from, to time.Time) int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return countIn(fc.leadEnds, from, to)
}

// overlaps lists the runs of two candidates whose samples of leadership
// overlap: two leaders reported at once.
func overlaps(runs []run) []string {
	var out []string
	for i, a := range runs {
		for _, b := range runs[i+1:] {
			if a.id != b.id && a.firstAfter.Before(b.lastBefore) && b.firstAfter.Before(a.lastBefore) {
				out = append(out, fmt.Sprintf("%s and %s both reported leadership from %v", a.id, b.id, later(a.firstAfter, b.firstAfter).Format(time.StampMicro)))
			}
		}
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
