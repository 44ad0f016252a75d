package client_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
)

// oneWay is the simulated network delay of every request in these tests;
// a round trip costs one of it, since the in-memory server answers at once.
const oneWay = 10 * time.Millisecond

// interval is a stretch of leadership as the machine saw it.
type interval struct {
	id         string
	start, end time.Time
}

// tenures collects leadership intervals from the transition hooks of many
// clients, and when each client was elected.
type tenures struct {
	mu      sync.Mutex
	open    map[string]time.Time
	closed  []interval
	elected chan string
}

func newTenures() *tenures {
	return &tenures{open: map[string]time.Time{}, elected: make(chan string, 16)}
}

func (ts *tenures) hook(id string) client.Option {
	return client.WithTransitionHook(func(t client.Transition) {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		switch {
		case !t.From.Leading() && t.To.Leading():
			ts.open[id] = t.At
			ts.elected <- id
		case t.From.Leading() && !t.To.Leading():
			ts.closed = append(ts.closed, interval{id, ts.open[id], t.At})
			delete(ts.open, id)
		}
	})
}

// overlaps reports two clients leading at once, open intervals included.
func (ts *tenures) overlaps(now time.Time) []string {
	ts.mu.Lock()
	all := append([]interval(nil), ts.closed...)
	for id, start := range ts.open {
		all = append(all, interval{id, start, now})
	}
	ts.mu.Unlock()
	var out []string
	for i := range all {
		for j := i + 1; j < len(all); j++ {
			a, b := all[i], all[j]
			if a.id != b.id && a.start.Before(b.end) && b.start.Before(a.end) {
				out = append(out, a.id+" and "+b.id)
			}
		}
	}
	return out
}

// candidates starts n clients running Run with lead functions that block
// until their context ends; it returns them with their stop functions.
func candidates(t *testing.T, srv *qqtest.Server, ts *tenures, n int) (map[string]*client.QuorumQuestClient, map[string]context.CancelFunc, *sync.WaitGroup) {
	t.Helper()
	clients := map[string]*client.QuorumQuestClient{}
	stops := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	for _, id := range []string{"a", "b", "c", "d", "e"}[:n] {
		c := newClient(t, srv, id, ts.hook(id))
		ctx, cancel := context.WithCancel(bg)
		clients[id], stops[id] = c, cancel
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Run(ctx, func(ctx context.Context) { <-ctx.Done() })
			if !errors.Is(err, context.Canceled) && !errors.Is(err, client.ErrClosed) {
				t.Errorf("Run(%s) = %v", id, err)
			}
		}()
	}
	return clients, stops, &wg
}

func delayed(srv *qqtest.Server) {
	srv.SetFaultFunc(func(qqtest.Call) qqtest.Fault { return qqtest.Fault{Delay: oneWay} })
}

// With TTL T and retry interval R, failover after the leader vanishes
// without releasing takes at most T + R plus one round trip.
func TestFailoverWithinTTLPlusRetryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		delayed(srv)
		ts := newTenures()
		_, stops, wg := candidates(t, srv, ts, 3)
		first := <-ts.elected
		time.Sleep(2 * ttl)  // a few renewals
		srv.Partition(first) // the leader's network dies: no release
		vanished := time.Now()
		second := <-ts.elected
		took := time.Since(vanished)
		if second == first || took > ttl+ttl/10+oneWay {
			t.Fatalf("%s took over from %s after %v; bound %v", second, first, took, ttl+ttl/10+oneWay)
		}
		if o := ts.overlaps(time.Now()); len(o) > 0 {
			t.Fatalf("overlapping leadership: %v", o)
		}
		t.Logf("failover took %v (TTL %v, retry %v)", took, ttl, ttl/10)
		for _, stop := range stops {
			stop()
		}
		srv.Heal(first)
		wg.Wait()
	})
}

// After a graceful release, another candidate leads within R plus two
// round trips.
func TestGracefulHandoverWithinRetryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		delayed(srv)
		ts := newTenures()
		_, stops, wg := candidates(t, srv, ts, 3)
		first := <-ts.elected
		time.Sleep(ttl)
		released := time.Now()
		stops[first]()
		second := <-ts.elected
		took := time.Since(released)
		if second == first || took > ttl/10+2*oneWay {
			t.Fatalf("%s took over from %s after %v; bound %v", second, first, took, ttl/10+2*oneWay)
		}
		if o := ts.overlaps(time.Now()); len(o) > 0 {
			t.Fatalf("overlapping leadership: %v", o)
		}
		t.Logf("handover took %v (retry %v)", took, ttl/10)
		for _, stop := range stops {
			stop()
		}
		wg.Wait()
	})
}

// A lead that returns on its own hands the lock over: another candidate
// leads next, within the retry interval plus two round trips of the
// release, as when Run's context ends. Without standing aside, the
// releasing client would win back its own lock every time.
func TestRunHandsOverWhenLeadReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		delayed(srv)
		type term struct {
			id           string
			start, ended time.Time
		}
		terms := make(chan term, 16)
		ctx, cancel := context.WithCancel(bg)
		var wg sync.WaitGroup
		for _, id := range []string{"a", "b", "c"} {
			c := newClient(t, srv, id)
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := c.Run(ctx, func(context.Context) {
					start := time.Now()
					time.Sleep(ttl / 2) // the work, then step down
					terms <- term{id, start, time.Now()}
				})
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Run(%s) = %v", id, err)
				}
			}()
		}
		prev := <-terms
		for range 6 {
			next := <-terms
			gap := next.start.Sub(prev.ended)
			if next.id == prev.id || gap > ttl/10+4*oneWay {
				t.Fatalf("%s led after %s stepped down, %v later; want another candidate within %v",
					next.id, prev.id, gap, ttl/10+4*oneWay)
			}
			prev = next
		}
		cancel()
		wg.Wait()
	})
}

// lead's context ends the moment leadership is lost, with the reason as
// its cause, and Run campaigns again.
func TestRunCancelsLeadOnLossAndCampaignsAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, b := newClient(t, srv, "a"), newClient(t, srv, "b")
		causes := make(chan error, 4)
		ctx, cancel := context.WithCancel(bg)
		done := make(chan error, 1)
		go func() {
			done <- a.Run(ctx, func(ctx context.Context) {
				<-ctx.Done()
				causes <- context.Cause(ctx)
			})
		}()
		synctest.Wait()
		if !a.IsLeader() {
			t.Fatal("a does not lead")
		}
		srv.Restart() // the server forgets a...
		mustAcquire(t, b)
		lostAt := time.Now()
		cause := <-causes // ...and a's lead stops at its next renewal
		if !errors.Is(cause, client.ErrNotLeader) || time.Since(lostAt) > ttl/3+ttl/30 {
			t.Fatalf("lead ended %v after the loss with cause %v", time.Since(lostAt), cause)
		}
		if err := b.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(ttl / 10)
		synctest.Wait()
		if !a.IsLeader() {
			t.Fatal("Run did not campaign again after the loss")
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v, want context.Canceled", err)
		}
		if _, held := srv.Holder(service, domain); held {
			t.Fatal("Run did not release when its context ended")
		}
	})
}

// When lead returns on its own, Run releases and campaigns again.
func TestRunReleasesWhenLeadReturns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a := newClient(t, srv, "a")
		ctx, cancel := context.WithCancel(bg)
		defer cancel()
		var terms int
		err := a.Run(ctx, func(context.Context) {
			terms++
			if terms == 3 {
				cancel()
			}
		})
		if !errors.Is(err, context.Canceled) || terms != 3 || srv.Calls().ReleaseLock < 3 {
			t.Fatalf("Run = %v after %d terms and %d releases", err, terms, srv.Calls().ReleaseLock)
		}
	})
}

func TestRunAndCampaignAfterClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, b := newClient(t, srv, "a"), newClient(t, srv, "b")
		mustAcquire(t, a)
		done := make(chan error, 1)
		go func() { done <- b.Run(bg, func(context.Context) { t.Error("b led while a held the lock") }) }()
		time.Sleep(ttl / 5)
		b.Close()
		if err := <-done; !errors.Is(err, client.ErrClosed) {
			t.Fatalf("Run after Close = %v, want ErrClosed", err)
		}
		if err := b.Campaign(bg); !errors.Is(err, client.ErrClosed) {
			t.Fatalf("Campaign after Close = %v", err)
		}
		// Closing a leading Run ends lead and returns ErrClosed.
		leadDone := make(chan error, 1)
		go func() { leadDone <- a.Run(bg, func(ctx context.Context) { <-ctx.Done() }) }()
		synctest.Wait()
		a.Close()
		if err := <-leadDone; !errors.Is(err, client.ErrClosed) {
			t.Fatalf("leading Run after Close = %v, want ErrClosed", err)
		}
	})
}

func TestCampaign(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, b := newClient(t, srv, "a"), newClient(t, srv, "b")
		if err := a.Campaign(bg); err != nil {
			t.Fatal(err)
		}
		if !a.IsLeader() {
			t.Fatal("Campaign returned without leadership")
		}
		if err := a.StartKeepAlive(bg); !errors.Is(err, client.ErrKeepAliveRunning) {
			t.Fatalf("keep-alive not running after Campaign: %v", err)
		}
		ctx, cancel := context.WithTimeout(bg, ttl)
		defer cancel()
		if err := b.Campaign(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Campaign against a live leader = %v, want DeadlineExceeded", err)
		}
		// b tried about every retry interval.
		if n := srv.Calls().TryAcquireLock; n < 10 || n > 14 {
			t.Fatalf("%d acquisition attempts in one TTL, want about 10 from b plus a's one", n)
		}
		// Keep-alive outlives the context Campaign was given.
		cctx, ccancel := context.WithCancel(bg)
		if err := a.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		if err := a.Campaign(cctx); err != nil {
			t.Fatal(err)
		}
		ccancel()
		time.Sleep(3 * ttl)
		if !a.IsLeader() {
			t.Fatal("keep-alive ended with Campaign's context")
		}
	})
}

// The stand-aside is long enough for the slowest candidate the doc names:
// one that retries a full retry interval after its denial, denied just
// before the release reached the server. Its request, a round trip later,
// must arrive before the releasing client's own. Requests take oneWay to
// reach the server and answers none, so the release's round trip is oneWay.
func TestRunStandsAsideForTheSlowestRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		delayed(srv)
		const retry = ttl / 10 // the default, which Run's stand-aside uses
		a, b := newClient(t, srv, "a"), newClient(t, srv, "b")
		ctx, cancel := context.WithCancel(bg)
		stepDown := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- a.Run(ctx, func(context.Context) { <-stepDown })
		}()
		time.Sleep(time.Second)
		if !a.IsLeader() {
			t.Fatal("a does not lead")
		}
		// b asks so that its denial lands 1ns before a's release does.
		go func() {
			time.Sleep(time.Nanosecond)
			close(stepDown) // a's release reaches the server oneWay later
		}()
		if ok, err := b.TryAcquireLock(bg); ok || err != nil {
			t.Fatalf("b: TryAcquireLock = %v, %v; want denied", ok, err)
		}
		time.Sleep(retry) // b's slowest retry
		if ok, err := b.TryAcquireLock(bg); !ok {
			t.Fatalf("b, a full retry interval after its denial: TryAcquireLock = false, %v; a took its lock back first", err)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run = %v", err)
		}
	})
}
