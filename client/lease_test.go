package client_test

import (
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"github.com/quorum-quest/client-go/transport"
	"google.golang.org/grpc/codes"
)

// usable is what the default lease policy trusts of a 15s lease.
var usable = transport.DefaultLeasePolicy.Usable(ttl)

func TestAcquireLeadsAndLeaseCountsDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		c := newClient(t, srv, "a")
		if c.IsLeader() || c.GetRemainingLease() != 0 || c.State() != client.StateFollower {
			t.Fatalf("new client: leader %v, lease %v, state %s", c.IsLeader(), c.GetRemainingLease(), c.State())
		}
		mustAcquire(t, c)
		if !c.IsLeader() || c.State() != client.StateLeader {
			t.Fatalf("after acquiring: leader %v, state %s", c.IsLeader(), c.State())
		}
		if got := c.GetRemainingLease(); got != usable {
			t.Fatalf("remaining lease %v, want %v", got, usable)
		}
		time.Sleep(5 * time.Second)
		if got := c.GetRemainingLease(); got != usable-5*time.Second {
			t.Fatalf("remaining lease after 5s: %v, want %v", got, usable-5*time.Second)
		}
		if holder, ok := srv.Holder(service, domain); !ok || holder != "a" {
			t.Fatalf("server holder %q %v, want a", holder, ok)
		}
	})
}

func TestOtherClientIsRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, b := newClient(t, srv, "a"), newClient(t, srv, "b")
		mustAcquire(t, a)
		ok, err := b.TryAcquireLock(bg)
		if ok || err != nil || b.IsLeader() || b.State() != client.StateFollower {
			t.Fatalf("b: TryAcquireLock = %v, %v; leader %v, state %s", ok, err, b.IsLeader(), b.State())
		}
	})
}

// Without keep-alive the lease ends locally before the server would give
// the lock to anybody else, and the machine goes to lost on its own.
func TestLeaseExpiresBeforeServerHandsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		rec := newRecorder()
		a, b := newClient(t, srv, "a", rec.option()), newClient(t, srv, "b")
		mustAcquire(t, a)
		start := time.Now()
		lost := rec.waitFor(t, client.StateLost)
		if !errors.Is(lost.Err, client.ErrLeaseExpired) || lost.At.Sub(start) != usable {
			t.Fatalf("lost at +%v with %v; want +%v and ErrLeaseExpired", lost.At.Sub(start), lost.Err, usable)
		}
		if a.IsLeader() || a.GetRemainingLease() != 0 {
			t.Fatal("a still reports leadership after its deadline")
		}
		if holder, ok := srv.Holder(service, domain); !ok || holder != "a" {
			t.Fatalf("server let the lock go before the client stopped leading (holder %q)", holder)
		}
		if ok, _ := b.TryAcquireLock(bg); ok {
			t.Fatal("b acquired while the server's lease for a still ran")
		}
		time.Sleep(ttl - usable)
		mustAcquire(t, b)
	})
}

// IsLeader checks the deadline itself: even before the expiry timer has
// moved the machine to lost, a reader never sees a stale leadership.
func TestIsLeaderFalseExactlyAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a := newClient(t, srv, "a")
		mustAcquire(t, a)
		time.Sleep(usable - time.Nanosecond)
		if !a.IsLeader() {
			t.Fatal("not leader just before the deadline")
		}
		time.Sleep(time.Nanosecond)
		if a.IsLeader() || a.GetRemainingLease() != 0 {
			t.Fatal("leader at the deadline")
		}
	})
}

// leadsFor10TTLs checks a leads at every tenth of the TTL for 10 TTLs.
func leadsFor10TTLs(t *testing.T, a *client.QuorumQuestClient, rec *recorder) {
	t.Helper()
	for i := 0; i < 100; i++ {
		time.Sleep(ttl / 10)
		if !a.IsLeader() {
			t.Fatalf("lost leadership after %v: %v", time.Duration(i+1)*ttl/10, rec.path())
		}
	}
}

func TestKeepAliveHoldsLeadership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a")
		mustAcquire(t, a)
		mustStartKeepAlive(t, a)
		leadsFor10TTLs(t, a, rec)
		// About one renewal per third of the TTL, jittered by 10%.
		if n := srv.Calls().KeepAlive; n < 27 || n > 34 {
			t.Fatalf("%d renewals in 10 TTLs, want about 30", n)
		}
		if got := a.GetRemainingLease(); got < usable-ttl/3-ttl/30 {
			t.Fatalf("remaining lease %v after renewals", got)
		}
	})
}

func TestKeepAliveRetriesTransientFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		failures := 3
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			if c.Method == qqtest.MethodKeepAlive && failures > 0 {
				failures--
				return qqtest.Fault{Code: codes.Unavailable}
			}
			return qqtest.Fault{}
		})
		a, rec := newRecordedClient(t, srv, "a")
		mustAcquire(t, a)
		mustStartKeepAlive(t, a)
		time.Sleep(3 * ttl)
		if !a.IsLeader() {
			t.Fatalf("transient failures cost leadership: %v", rec.path())
		}
		var failed int
		for _, tr := range rec.all() {
			if tr.Event == client.EventFailed && tr.From == client.StateRefreshing && tr.To == client.StateLeader {
				failed++
			}
		}
		if failed != 3 {
			t.Fatalf("%d failed renewals recorded, want 3", failed)
		}
	})
}

// A renewal answered late is still measured from when it was sent: the
// next one is due an interval after that, not after the answer, or slow
// answers would push each renewal nearer the end of the lease it renews.
func TestSlowRenewalsAreSpacedFromWhenTheyWereSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		const slow = 4 * time.Second // within the 5s call timeout
		var mu sync.Mutex
		var sent []time.Time
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			if c.Method != qqtest.MethodKeepAlive {
				return qqtest.Fault{}
			}
			mu.Lock()
			defer mu.Unlock()
			sent = append(sent, time.Now())
			return qqtest.Fault{Delay: slow}
		})
		a, rec := newRecordedClient(t, srv, "a")
		mustAcquire(t, a)
		mustStartKeepAlive(t, a)
		leadsFor10TTLs(t, a, rec)
		mu.Lock()
		defer mu.Unlock()
		interval := ttl / 3
		longest := time.Duration(float64(interval) * 1.1)
		for i := 1; i < len(sent); i++ {
			if gap := sent[i].Sub(sent[i-1]); gap > longest {
				t.Fatalf("renewal %d sent %v after the one before, want at most %v (interval and jitter)", i, gap, longest)
			}
		}
		if len(sent) < 27 {
			t.Fatalf("%d renewals in 10 TTLs, want about 30", len(sent))
		}
	})
}

// A keep-alive started long after the grant renews at once: its first
// renewal is due an interval after the grant's request left.
func TestKeepAliveStartedLateRenewsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a")
		mustAcquire(t, a)
		time.Sleep(ttl / 2) // past the interval: a renewal is overdue
		mustStartKeepAlive(t, a)
		time.Sleep(time.Millisecond)
		if n := srv.Calls().KeepAlive; n != 1 {
			t.Fatalf("%d renewals sent just after a late start, want 1", n)
		}
		time.Sleep(ttl)
		if !a.IsLeader() {
			t.Fatalf("lost leadership: %v", rec.path())
		}
	})
}

// A negative lease from the server ends leadership at once, long before
// the local deadline.
func TestKeepAliveRefusedLosesLeadership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		rec := newRecorder()
		a, b := newClient(t, srv, "a", rec.option()), newClient(t, srv, "b")
		mustAcquire(t, a)
		mustStartKeepAlive(t, a)
		srv.Restart() // the store forgets a
		mustAcquire(t, b)
		lost := rec.waitFor(t, client.StateLost)
		if !errors.Is(lost.Err, transport.ErrNotHolder) || lost.From != client.StateRefreshing {
			t.Fatalf("lost from %s with %v; want from refreshing with ErrNotHolder", lost.From, lost.Err)
		}
		if a.IsLeader() {
			t.Fatal("a leads beside b")
		}
		if err := a.StartKeepAlive(bg); !errors.Is(err, client.ErrNotLeader) {
			t.Fatalf("StartKeepAlive after loss: %v, want ErrNotLeader", err)
		}
	})
}

func TestPermanentErrorEndsLeadership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a")
		mustAcquire(t, a)
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			if c.Method == qqtest.MethodKeepAlive {
				return qqtest.Fault{Code: codes.PermissionDenied}
			}
			return qqtest.Fault{}
		})
		mustStartKeepAlive(t, a)
		lost := rec.waitFor(t, client.StateLost)
		if !transport.Permanent(lost.Err) || srv.Calls().KeepAlive != 1 {
			t.Fatalf("lost with %v after %d renewals; want a permanent error after 1", lost.Err, srv.Calls().KeepAlive)
		}
	})
}

// Renewals that hang cannot keep the client leading past its deadline. A
// keep-alive attempt is itself cut off at the deadline, so it ends in the
// same instant as the lease: which of the two the machine sees first is not
// fixed, and either way leadership ends exactly then.
func TestDeadlinePassesWhileKeepAliveHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a", client.WithRequestTimeout(time.Hour))
		mustAcquire(t, a)
		start := time.Now()
		mustStartKeepAlive(t, a)
		srv.Pause()
		defer srv.Resume()
		lost := rec.waitFor(t, client.StateLost)
		if !lost.From.Leading() || lost.At.Sub(start) != usable || !errors.Is(lost.Err, client.ErrLeaseExpired) {
			t.Fatalf("lost from %s at +%v with %v; want from leading at +%v with ErrLeaseExpired", lost.From, lost.At.Sub(start), lost.Err, usable)
		}
	})
}

// A renewal through TryAcquireLock is bounded by the lease it would grant,
// which ends after the current one when it is sent later: here it is sent
// a second into the lease, so the current deadline passes with the renewal
// still in flight, and the machine goes to lost from refreshing. (Sent in
// the instant of the grant, both would end in the same instant, and which
// the machine sees first would not be fixed.)
func TestDeadlinePassesWithRenewalInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a", client.WithRequestTimeout(time.Hour))
		mustAcquire(t, a)
		start := time.Now()
		srv.Pause()
		defer srv.Resume()
		time.Sleep(time.Second)
		renewed := make(chan error, 1)
		go func() {
			ok, err := a.TryAcquireLock(bg)
			if ok {
				err = errors.New("renewed while the server was paused")
			}
			renewed <- err
		}()
		lost := rec.waitFor(t, client.StateLost)
		if lost.From != client.StateRefreshing || lost.At.Sub(start) != usable {
			t.Fatalf("lost from %s at +%v; want from refreshing at +%v", lost.From, lost.At.Sub(start), usable)
		}
		if err := <-renewed; err != nil {
			t.Fatalf("the abandoned renewal returned %v, want false and no error", err)
		}
	})
}

func TestLostClientCanLeadAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a")
		mustAcquire(t, a)
		rec.waitFor(t, client.StateLost)
		time.Sleep(ttl) // the server's lease ends too
		mustAcquire(t, a)
		want := []client.State{client.StateFollower, client.StateAcquiring, client.StateLeader, client.StateLost, client.StateAcquiring, client.StateLeader}
		if got := rec.path(); !samePath(got, want...) {
			t.Fatalf("path %v, want %v", got, want)
		}
	})
}

func TestTTLTravelsRoundedUpButDeadlineUsesExactTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		c, err := client.NewQuorumQuestClient(service, domain, 1500*time.Millisecond, "in-process",
			client.WithServerStub(srv.Stub()), client.WithTransitionHook(recordTransitions))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		mustAcquire(t, c)
		_, expires, _ := srv.Lease(service, domain)
		if got := time.Until(expires); got != 2*time.Second {
			t.Fatalf("server lease %v, want 2s (1.5s rounded up)", got)
		}
		if got, want := c.GetRemainingLease(), transport.DefaultLeasePolicy.Usable(1500*time.Millisecond); got != want {
			t.Fatalf("local lease %v, want %v", got, want)
		}
	})
}
