package transport

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// warmUp waits for both links to be READY (on a loaded machine one may
// still be connecting, and would get no call), then makes n acquisitions
// (enough answered round trips for the hedge delay to be derived from
// them) and returns what a test allows a round trip on top of the hedge
// delay: twice the slowest seen, and at least 150 ms, for the scheduling
// of a loaded, race-instrumented test binary.
func warmUp(t testing.TB, c *Conn, id string, n int) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatalf("links not READY: %v", err)
	}
	slowest := time.Duration(0)
	for range n {
		start := time.Now()
		acquire(t, c, id)
		slowest = max(slowest, time.Since(start))
	}
	return max(150*time.Millisecond, 2*slowest)
}

func tryReq(id string) *pb.TryAcquireLockRequest {
	return &pb.TryAcquireLockRequest{Service: "svc", Domain: "dom", ClientId: id, Ttl: 10}
}

func keepReq(id string) *pb.KeepAliveRequest {
	return &pb.KeepAliveRequest{Service: "svc", Domain: "dom", ClientId: id, Ttl: 10}
}

func relReq(id string) *pb.ReleaseLockRequest {
	return &pb.ReleaseLockRequest{Service: "svc", Domain: "dom", ClientId: id}
}

func acquire(t testing.TB, c *Conn, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.TryAcquireLock(ctx, tryReq(id))
	if err != nil || !resp.GetIsLeader() {
		t.Fatalf("TryAcquireLock(%s): %v, %v", id, resp, err)
	}
}

// When the server behind one link vanishes (silent, READY), a KeepAlive is
// late by at most the hedge delay plus a round trip, never a call
// timeout, and the silent link is replaced without a call having to time
// out on it.
func TestHedgeOutrunsSilentServer(t *testing.T) {
	f := newPair(t)
	const silence = 2 * time.Second
	c := openPair(t, f.addr(), silence)
	roundTrip := warmUp(t, c, "holder", 64)
	if f.calls[0].Load() == 0 || f.calls[1].Load() == 0 {
		t.Fatalf("calls per server %d, %d: both links should carry calls", f.calls[0].Load(), f.calls[1].Load())
	}
	replaced := replacedSignal(c)
	hedgedBefore := c.Hedged()
	if err := f.proxy.SetMode(testutil.ProxySilent); err != nil {
		t.Fatal(err)
	}
	var slowest time.Duration
	for range 20 {
		delay := c.HedgeDelay()
		ctx, cancel := context.WithTimeout(context.Background(), silence)
		start := time.Now()
		resp, err := c.KeepAlive(ctx, keepReq("holder"))
		took := time.Since(start)
		cancel()
		if err != nil || resp.GetLeaseLength().AsDuration() <= 0 {
			t.Fatalf("KeepAlive with one server silent: %v, %v", resp, err)
		}
		if took > delay+roundTrip {
			t.Fatalf("KeepAlive took %v; want at most the hedge delay %v plus a round trip (%v)", took, delay, roundTrip)
		}
		slowest = max(slowest, took)
	}
	if c.Hedged() == hedgedBefore {
		t.Fatal("no KeepAlive was hedged, yet half went first to the silent server")
	}
	within(t, replaced, 3*silence, "the silent link replaced")
	// Its replacement went through the proxy again, where the handshake
	// goes unanswered: a link not READY is not tried first.
	for range 4 {
		l, err := c.takeLink(nil, renewal, lockID{})
		if err != nil {
			t.Fatal(err)
		}
		c.mu.Lock()
		l.inflight--
		c.mu.Unlock()
		if s := l.cc.GetState(); s != connectivity.Ready {
			t.Fatalf("a call would go first to a link in state %v", s)
		}
	}
	t.Logf("slowest KeepAlive %v, hedge delay %v, hedged %d of %d calls", slowest, c.HedgeDelay(), c.Hedged(), c.Calls())
}

// In steady state hedges add under 1% to the calls the servers see, and
// both links carry calls.
func TestSteadyStateHedgesUnderOnePercent(t *testing.T) {
	f := newPair(t)
	c := openPair(t, f.addr(), 5*time.Second) // the call timeout at TTL 15 s
	acquire(t, c, "holder")
	const n = 2000
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.KeepAlive(ctx, keepReq("holder"))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	calls := c.Calls()
	extra := f.total() - calls
	if extra != c.Hedged() {
		t.Fatalf("servers saw %d calls beyond the %d made; the Conn counted %d hedges", extra, calls, c.Hedged())
	}
	if extra*100 >= calls {
		t.Fatalf("hedges added %d calls to %d: 1%% or more", extra, calls)
	}
	for i := range f.calls {
		if got := f.calls[i].Load(); got*10 < calls*4 {
			t.Fatalf("server %d saw %d of %d calls; the links should alternate", i, got, calls)
		}
	}
	t.Logf("%d calls, %d hedges (%.3f%%), hedge delay %v", calls, extra, 100*float64(extra)/float64(calls), c.HedgeDelay())
}

// A losing TryAcquireLock copy is cancelled: the server it went to sees
// its caller gone.
func TestLosingAcquisitionCopyIsCancelled(t *testing.T) {
	f := newPair(t)
	c := openPair(t, f.servers[0].Addr()+","+f.servers[1].Addr(), time.Second)
	roundTrip := warmUp(t, c, "slow", 2)
	var first atomic.Bool
	f.store.SetFaultFunc(func(call qqtest.Call) qqtest.Fault {
		if call.ClientID == "slow" && first.CompareAndSwap(false, true) {
			return qqtest.Fault{Delay: 10 * time.Second}
		}
		return qqtest.Fault{}
	})
	cancelled := make(chan struct{})
	var once sync.Once
	f.onServed(func(_ int, method string, err error) {
		if status.Code(err) == codes.Canceled {
			once.Do(func() { close(cancelled) })
		}
	})
	start := time.Now()
	acquire(t, c, "slow")
	if took := time.Since(start); took > c.HedgeDelay()+roundTrip {
		t.Fatalf("acquisition took %v with one copy held 10 s", took)
	}
	within(t, cancelled, 5*time.Second, "the losing copy cancelled at the server")
}

// A call slow on a link that answers other calls meanwhile is not hedged:
// its server is alive, and when the whole fleet is slow, copies would only
// add to its load.
func TestNoHedgeWhileTheLinkAnswers(t *testing.T) {
	f := newPair(t)
	c := openPair(t, f.servers[0].Addr()+","+f.servers[1].Addr(), 5*time.Second)
	for range 32 {
		acquire(t, c, "busy")
	}
	f.store.SetFaultFunc(func(call qqtest.Call) qqtest.Fault {
		if call.ClientID == "slow" {
			return qqtest.Fault{Delay: time.Second}
		}
		return qqtest.Fault{}
	})
	stop := make(chan struct{})
	busy := make(chan error, 1)
	go func() { // other calls, answered on both links all along
		for {
			select {
			case <-stop:
				busy <- nil
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := c.KeepAlive(ctx, keepReq("busy"))
			cancel()
			if err != nil {
				busy <- err
				return
			}
		}
	}()
	before := c.Hedged()
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req := &pb.KeepAliveRequest{Service: "svc", Domain: fmt.Sprint("slow-", i), ClientId: "slow", Ttl: 10}
			if _, err := c.KeepAlive(ctx, req); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(stop)
	if err := <-busy; err != nil {
		t.Fatal(err)
	}
	// One is allowed for a pause of the whole test binary longer than the
	// hedge delay (at least 100 ms here).
	if n := c.Hedged() - before; n > 1 {
		t.Fatalf("%d of 5 slow calls hedged while their links answered other calls", n)
	}
}
