package shard_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"github.com/quorum-quest/client-go/shard"
)

// interval is one replica's ownership of one shard, as its lead saw it.
type interval struct {
	replica    string
	start, end time.Time
}

type recorder struct {
	mu   sync.Mutex
	runs map[int][]*interval
}

func (r *recorder) lead(replica string) func(context.Context, int) {
	return func(ctx context.Context, i int) {
		iv := &interval{replica: replica, start: time.Now()}
		r.mu.Lock()
		r.runs[i] = append(r.runs[i], iv)
		r.mu.Unlock()
		<-ctx.Done()
		r.mu.Lock()
		iv.end = time.Now()
		r.mu.Unlock()
	}
}

// maxGap is, over the moves of a shard from one replica to another whose
// earlier lead ended after since, the longest time the shard went without
// an owner, and the longest it went without one after heldUntil(next) (a
// time before which next's replica could not ask; zero for none), with
// how many such moves.
func (r *recorder) maxGap(since time.Time, heldUntil func(next *interval) time.Time) (gap, beyond time.Duration, moves int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ivs := range r.runs {
		for a := 1; a < len(ivs); a++ {
			prev, next := ivs[a-1], ivs[a]
			if prev.end.IsZero() || prev.end.Before(since) || prev.replica == next.replica {
				continue
			}
			moves++
			gap = max(gap, next.start.Sub(prev.end))
			from := prev.end
			if h := heldUntil(next); h.After(from) {
				from = h
			}
			beyond = max(beyond, next.start.Sub(from))
		}
	}
	return gap, beyond, moves
}

// overlaps reports two replicas leading one shard at once.
func (r *recorder) overlaps(now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, ivs := range r.runs {
		for a := range ivs {
			for b := a + 1; b < len(ivs); b++ {
				x, y := ivs[a], ivs[b]
				xe, ye := x.end, y.end
				if xe.IsZero() {
					xe = now
				}
				if ye.IsZero() {
					ye = now
				}
				if x.start.Before(ye) && y.start.Before(xe) {
					return fmt.Errorf("shard %d: %s and %s lead at once", i, x.replica, y.replica)
				}
			}
		}
	}
	return nil
}

// sample is one reading of a replica's Owned, taken between from and to.
type sample struct {
	replica  string
	owned    []int
	from, to time.Time
}

// sampleOwned reads every replica's Owned.
func sampleOwned(rs []*replica) []sample {
	out := make([]sample, 0, len(rs))
	for _, r := range rs {
		from := time.Now()
		owned := r.set.Owned()
		out = append(out, sample{r.id, owned, from, time.Now()})
	}
	return out
}

// outsideTenures judges the samples on the server's history, as the
// checker judges one election: a replica that reads as owning a shard at
// some instant of a sample holds a tenure the server granted its ID on
// that shard's lock at that instant. Since the server's tenures of one
// lock never overlap, no two replicas then owned one shard at once.
// (Owned reads each lease against the clock; a lead's context ends by a
// timer, which a loaded machine may fire late, so the leads' own ends are
// not judged against the server's.)
func outsideTenures(samples []sample, hist []qqtest.Tenure) error {
	type key struct{ domain, id string }
	tenures := map[key][]qqtest.Tenure{}
	for _, tn := range hist {
		k := key{tn.Domain, tn.ClientID}
		tenures[k] = append(tenures[k], tn)
	}
	for _, sm := range samples {
		for _, i := range sm.owned {
			ts := tenures[key{"dom/" + strconv.Itoa(i), sm.replica}]
			if !slices.ContainsFunc(ts, func(tn qqtest.Tenure) bool {
				return !tn.Start.After(sm.to) && sm.from.Before(tn.End)
			}) {
				return fmt.Errorf("shard %d: %s owned it between %v and %v, in no tenure the server granted it: %+v", i, sm.replica, sm.from, sm.to, ts)
			}
		}
	}
	return nil
}

func counts(sets []*shard.Set) []int {
	out := make([]int, len(sets))
	for i, s := range sets {
		out[i] = len(s.Owned())
	}
	return out
}

// waitBalanced advances virtual time in steps until every live set owns
// want shards and every shard is owned, or limit passes.
func waitBalanced(t *testing.T, sets []*shard.Set, want int, limit time.Duration, step func()) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok := true
		for _, s := range sets {
			if len(s.Owned()) != want {
				ok = false
			}
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("not balanced at %d within %v: %v", want, limit, counts(sets))
		}
		step()
	}
}

// virtualStep lets virtual time pass until every goroutine is blocked.
func virtualStep() {
	time.Sleep(10 * time.Millisecond)
	synctest.Wait()
}

// The real-time scenarios are timed by the scheduler of a shared machine:
// under make test, with other packages' tests on the same two cores, a
// replica's timer or answer can come a few hundred milliseconds late.
// grpcSlack is added to their failover and handover bounds there; the
// figures of docs/shards.md are taken with -shard.grpc-slack=0, on a quiet
// machine. The cut-off variant runs only when asked for (-shard.cutoff-grpc).
var (
	grpcSlack  = flag.Duration("shard.grpc-slack", 500*time.Millisecond, "added to the real-gRPC scenarios' failover and handover bounds, for a loaded machine")
	cutoffGRPC = flag.Bool("shard.cutoff-grpc", false, "run TestThreeReplicasCutOffOverGRPC (load-sensitive: see docs/shards.md)")
)

// realStep polls: the real-gRPC test's loops are bounded by their limits.
func realStep() { time.Sleep(10 * time.Millisecond) }

// In virtual time on the in-memory stub: one replica killed and another
// started in its place, with every bound of issue 20 and the steady
// state's calls.
func TestThreeReplicasBalanceFailOverAndRejoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		threeReplicas(t, srv, scenario{dial: stubDialer(srv), step: virtualStep, steady: true, kill: true})
	})
}

// The same with the replica cut off from the server and healed, its
// process alive: its campaigns' calls sent while cut off hang until their
// deadline, and the Set must not make the shards handed back to it wait
// for them (renewCampaigns). The stub has no release guard: R + 2 RTT.
func TestThreeReplicasCutOffAndHealed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		threeReplicas(t, srv, scenario{dial: stubDialer(srv), step: virtualStep})
	})
}

// Over real gRPC on loopback, each replica with its own connection: one
// replica killed (its connection closed under it, its Set gone without
// releasing) and a new process started in its place, with the same bounds
// in real time, a round trip allowed 100 ms. The new process has a new
// client ID, as New draws one unless WithClientID pins it: it renews no
// lease of its predecessor's and waits for no release of theirs.
func TestThreeReplicasOverGRPC(t *testing.T) {
	srv := qqtest.NewServer(t)
	threeReplicas(t, srv, scenario{dial: grpcDialer(srv), step: realStep, rtt: 100 * time.Millisecond, kill: true, slack: *grpcSlack})
}

// Over real gRPC, the replica cut off and healed. What it sent while cut
// off holds its rejoin back until that call's deadline, at most the
// request timeout after the heal: its connection's release guard
// (docs/safety.md, "Hedged calls") holds an acquisition back while a
// release of the same lock sent unanswered may still land, since it would
// delete the lock just taken, and a shard's release is sent only once a
// campaign call of it in flight has answered or timed out, since that
// call landing after the release would take the lock for nobody. So a
// shard handed back to it is without an owner for at most R + 2 RTT after
// the later of its previous owner's release and heal + request timeout,
// and the set is balanced within 3 x TTL + request timeout.
func TestThreeReplicasCutOffOverGRPC(t *testing.T) {
	if !*cutoffGRPC {
		t.Skip("load-sensitive (docs/shards.md): run with -shard.cutoff-grpc")
	}
	srv := qqtest.NewServer(t)
	threeReplicas(t, srv, scenario{dial: grpcDialer(srv), step: realStep, rtt: 100 * time.Millisecond,
		hold: client.DefaultRequestTimeout, slack: *grpcSlack})
}

// scenario is how threeReplicas runs: dial gives a replica the connection
// it would dial as a process; kill says whether the third replica is
// killed and replaced (otherwise cut off and healed); hold is how long
// after the heal what the cut-off replica sent may hold its acquisitions
// back (the request timeout over a transport.Conn); rtt the round trip
// allowed.
type scenario struct {
	dial   func(t *testing.T, id string) conn
	step   func()
	steady bool
	kill   bool
	hold   time.Duration
	rtt    time.Duration
	slack  time.Duration // allowance for a loaded machine, real time only
}

// conn is a replica's connection to the server.
type conn interface {
	pb.LeaderElectionServiceClient
	io.Closer
}

// grpcDialer dials a connection of its own for each replica, as a replica
// process would.
func grpcDialer(srv *qqtest.Server) func(t *testing.T, id string) conn {
	return func(t *testing.T, id string) conn {
		c, err := client.DialConn(srv.Addr(), 2*time.Second, client.WithClientID(id))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

// stubDialer gives each replica srv's stub behind a connection that can
// be closed: its calls from then on fail at once, as a closed
// transport.Conn's do.
func stubDialer(srv *qqtest.Server) func(t *testing.T, id string) conn {
	return func(*testing.T, string) conn { return &closableStub{LeaderElectionServiceClient: srv.Stub()} }
}

type closableStub struct {
	pb.LeaderElectionServiceClient
	closed atomic.Bool
}

var errConnClosed = status.Error(codes.Canceled, "connection closed")

func (c *closableStub) Close() error { c.closed.Store(true); return nil }

func (c *closableStub) TryAcquireLock(ctx context.Context, in *pb.TryAcquireLockRequest, opts ...grpc.CallOption) (*pb.TryAcquireLockResponse, error) {
	if c.closed.Load() {
		return nil, errConnClosed
	}
	return c.LeaderElectionServiceClient.TryAcquireLock(ctx, in, opts...)
}

func (c *closableStub) KeepAlive(ctx context.Context, in *pb.KeepAliveRequest, opts ...grpc.CallOption) (*pb.KeepAliveResponse, error) {
	if c.closed.Load() {
		return nil, errConnClosed
	}
	return c.LeaderElectionServiceClient.KeepAlive(ctx, in, opts...)
}

func (c *closableStub) ReleaseLock(ctx context.Context, in *pb.ReleaseLockRequest, opts ...grpc.CallOption) (*pb.ReleaseLockResponse, error) {
	if c.closed.Load() {
		return nil, errConnClosed
	}
	return c.LeaderElectionServiceClient.ReleaseLock(ctx, in, opts...)
}

// replica is one replica process: its connection, its Set and its Run.
type replica struct {
	id     string
	conn   conn
	set    *shard.Set
	cancel context.CancelFunc
	done   chan struct{}
}

func startReplica(t *testing.T, sc scenario, rec *recorder, id string, shards int, ttl time.Duration) *replica {
	t.Helper()
	c := sc.dial(t, id)
	s, err := shard.New("svc", "dom", shards, ttl, "", shard.WithClientOptions(client.WithServerStub(c), client.WithClientID(id)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r := &replica{id: id, conn: c, set: s, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := s.Run(ctx, rec.lead(id)); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: Run: %v", id, err)
		}
	}()
	return r
}

// kill ends r as a process dies: its connection closes first, so that
// nothing more of it reaches the server, then its leads end with Run, its
// releases failing on the closed connection.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	if err := r.conn.Close(); err != nil {
		t.Errorf("%s: closing its connection: %v", r.id, err)
	}
	r.stop(t)
}

// stop ends r's Run, then closes its Set and its connection.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	<-r.done
	if err := r.set.Close(); err != nil {
		t.Errorf("%s: Close: %v", r.id, err)
	}
	_ = r.conn.Close()
}

func setsOf(rs []*replica) []*shard.Set {
	out := make([]*shard.Set, len(rs))
	for i, r := range rs {
		out[i] = r.set
	}
	return out
}

// threeReplicas runs issue 20's scenario: 3 replicas, 120 shards, TTL 2s;
// balanced; one killed (or cut off), every shard owned again, balanced;
// it comes back (a new process, or healed), balanced, each moved shard
// handed over; never two owners, judged on the server's history.
func threeReplicas(t *testing.T, srv *qqtest.Server, sc scenario) {
	const shards, ttl = 120, 2 * time.Second
	rec := &recorder{runs: map[int][]*interval{}}
	var rs []*replica
	for r := range 3 {
		rs = append(rs, startReplica(t, sc, rec, fmt.Sprintf("r%d", r), shards, ttl))
	}
	var samples []sample
	step := func() {
		sc.step()
		samples = append(samples, sampleOwned(rs)...)
	}
	d := waitBalanced(t, setsOf(rs), 40, 3*ttl, step)
	t.Logf("balanced 40/40/40 after %v", d)

	// Steady state: the server's calls against the renewals' own.
	if sc.steady {
		before := srv.Calls()
		time.Sleep(10 * ttl)
		synctest.Wait()
		after := srv.Calls()
		total := after.Total() - before.Total()
		renewals := after.KeepAlive - before.KeepAlive
		t.Logf("steady state over %v: %d calls, %d of them renewals (%.2fx); before %+v after %+v", 10*ttl, total, renewals, float64(total)/float64(renewals), before, after)
		if total > 2*renewals {
			t.Errorf("steady state: %d calls > 2 x %d renewals", total, renewals)
		}
	}

	gone := rs[2]
	what := "killed"
	if sc.kill {
		gone.kill(t)
	} else {
		what = "cut off"
		srv.Partition(gone.id)
		srv.Partition(gone.id + "/probe")
	}
	left := time.Now()
	live := setsOf(rs[:2])
	retry := ttl / 10
	for len(live[0].Owned())+len(live[1].Owned()) != shards {
		if time.Since(left) > ttl+2*retry+sc.slack {
			t.Fatalf("not every shard owned again within TTL + 2R (+ slack %v) of r2 %s: %v", sc.slack, what, counts(live))
		}
		step()
	}
	t.Logf("every shard owned again %v after r2 was %s", time.Since(left), what)
	d = waitBalanced(t, live, 60, 3*ttl, step)
	t.Logf("balanced 60/60 %v after", d)

	if sc.kill {
		rs[2] = startReplica(t, sc, rec, "r3", shards, ttl)
	} else {
		srv.Heal(gone.id)
		srv.Heal(gone.id + "/probe")
	}
	back := time.Now()
	d = waitBalanced(t, setsOf(rs), 40, 3*ttl+sc.hold, step)
	t.Logf("balanced 40/40/40 %v after %s came back", d, rs[2].id)
	for end := time.Now().Add(ttl); time.Now().Before(end); {
		step()
	}

	// Each shard moved to the returning replica is a handover: without an
	// owner for at most R plus two round trips, counted from the end of
	// what held the new owner back (sc.hold after the heal), if anything did.
	held := func(next *interval) time.Time {
		if sc.hold == 0 || next.replica != gone.id {
			return time.Time{}
		}
		return back.Add(sc.hold)
	}
	gap, beyond, moved := rec.maxGap(back, held)
	bound := retry + 2*sc.rtt + sc.slack
	t.Logf("after the rejoin %d shards moved, the longest without an owner for %v, %v after what held its new owner back (bound R + 2 RTT + slack = %v)", moved, gap, beyond, bound)
	if moved == 0 || beyond > bound {
		t.Errorf("after the rejoin %d shards moved, the longest without an owner %v after what held its new owner back; bound %v", moved, beyond, bound)
	}
	if err := rec.overlaps(time.Now()); err != nil {
		t.Error(err)
	}
	if err := outsideTenures(samples, srv.History()); err != nil {
		t.Error(err)
	}
	for _, r := range rs {
		r.stop(t)
	}
}
