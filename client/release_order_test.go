package client_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
)

// lateAcquisitions makes every TryAcquireLock reach the server 3 s after it
// was sent, even if its caller gave up meanwhile, as a request already on
// the wire does.
func lateAcquisitions(srv *qqtest.Server) {
	srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
		if c.Method == qqtest.MethodTryAcquireLock {
			return qqtest.Fault{Delay: 3 * time.Second, IgnoreCancel: true}
		}
		return qqtest.Fault{}
	})
}

// Guarantee: a release is applied by the server after the acquisition
// before it. ReleaseLock waits for the answer to the TryAcquireLock in
// flight instead of cancelling it; cancelled, it would land after the
// release and hold the lock for a TTL that nobody uses.
func TestReleaseIsNotOvertakenByAcquisitionInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		lateAcquisitions(srv)
		a := newClient(t, srv, "a")
		acquired := make(chan bool, 1)
		go func() {
			ok, _ := a.TryAcquireLock(bg)
			acquired <- ok
		}()
		time.Sleep(500 * time.Millisecond)
		start := time.Now()
		if err := a.ReleaseLock(bg); err != nil {
			t.Fatalf("ReleaseLock: %v", err)
		}
		if ok := <-acquired; ok || a.IsLeader() {
			t.Fatalf("released client: TryAcquireLock = %v, IsLeader = %v; want false, false", ok, a.IsLeader())
		}
		if took := time.Since(start); took != 2500*time.Millisecond {
			t.Errorf("ReleaseLock took %v, want 2.5s: until the acquisition was answered", took)
		}
		time.Sleep(ttl)
		if id, held := srv.Holder(service, domain); held {
			t.Fatalf("after the release completed, the server holds the lock for %q", id)
		}
		h := srv.History()
		if len(h) != 1 || !h[0].End.Equal(h[0].Start) {
			t.Fatalf("History = %+v, want one tenure ended by the release the moment it began", h)
		}
	})
}

// Limit (docs/safety.md): an acquisition the client gave up on without an
// answer (its caller's context ended, the request timeout, Close) may
// still be applied after the release that followed it. The client cannot
// order its release after a request whose fate it does not know. What
// holds: the client never reports that leadership, and the server keeps
// the lock for it at most one TTL from the late request's arrival.
func TestAbandonedAcquisitionHoldsTheLockAtMostOneTTL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		abandon func(t *testing.T, a *client.QuorumQuestClient)
	}{
		{"caller gave up, then ReleaseLock", func(t *testing.T, a *client.QuorumQuestClient) {
			ctx, cancel := context.WithTimeout(bg, time.Second)
			defer cancel()
			if ok, err := a.TryAcquireLock(ctx); ok || err == nil {
				t.Fatalf("TryAcquireLock = %v, %v; want false and the deadline", ok, err)
			}
			if err := a.ReleaseLock(bg); err != nil {
				t.Fatalf("ReleaseLock: %v", err)
			}
		}},
		{"Close while acquiring", func(t *testing.T, a *client.QuorumQuestClient) {
			go func() { _, _ = a.TryAcquireLock(bg) }()
			time.Sleep(time.Second)
			if err := a.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := qqtest.NewUnstartedServer()
				lateAcquisitions(srv)
				a := newClient(t, srv, "a")
				b := newClient(t, srv, "b")
				t0 := time.Now()
				tc.abandon(t, a)
				srv.SetFaultFunc(nil)

				sleepUntil(t0.Add(3 * time.Second))
				synctest.Wait()
				if id, _ := srv.Holder(service, domain); id != "a" || a.IsLeader() {
					t.Fatalf("after the late arrival: holder %q, a leading %v; want the server holding it for a, a not leading", id, a.IsLeader())
				}
				sleepUntil(t0.Add(3*time.Second + ttl))
				if ok, err := b.TryAcquireLock(bg); !ok || err != nil {
					t.Fatalf("one TTL after the late arrival: b's TryAcquireLock = %v, %v; want true, nil", ok, err)
				}
			})
		})
	}
}

func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

// Close cancels an acquisition that a release is waiting for: Close still
// ends every call in flight at once.
func TestCloseCancelsAcquisitionAReleaseWaitsFor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			return qqtest.Fault{DropRequest: c.Method == qqtest.MethodTryAcquireLock}
		})
		a := newClient(t, srv, "a")
		acquired, released := make(chan error, 1), make(chan error, 1)
		go func() { _, err := a.TryAcquireLock(bg); acquired <- err }()
		synctest.Wait()
		go func() { released <- a.ReleaseLock(bg) }()
		synctest.Wait()
		select {
		case err := <-released:
			t.Fatalf("ReleaseLock returned %v before the acquisition in flight was answered", err)
		default:
		}
		start := time.Now()
		if err := a.Close(); err != nil {
			t.Logf("Close: %v", err)
		}
		<-acquired
		<-released
		if took := time.Since(start); took != 0 {
			t.Fatalf("the acquisition and the release ended %v after Close, want at once", took)
		}
	})
}

// A renewal in flight does not hold a release back: leaving leadership
// stops keep-alive, which cancels its renewal, and a KeepAlive arriving
// after the release renews nothing. Only an acquisition is waited for.
func TestReleaseDoesNotWaitForRenewalInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a := newClient(t, srv, "a")
		mustAcquire(t, a)
		mustStartKeepAlive(t, a)
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			return qqtest.Fault{DropRequest: c.Method == qqtest.MethodKeepAlive}
		})
		for end := time.Now().Add(ttl / 2); srv.Calls().KeepAlive == 0; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(end) { // keep-alive renews within a third of the TTL
				t.Fatal("no renewal")
			}
		}
		start := time.Now()
		if err := a.ReleaseLock(bg); err != nil {
			t.Fatalf("ReleaseLock: %v", err)
		}
		if took := time.Since(start); took != 0 {
			t.Errorf("ReleaseLock took %v behind a hanging renewal, want at once", took)
		}
		if id, held := srv.Holder(service, domain); held {
			t.Fatalf("after ReleaseLock: holder %q", id)
		}
	})
}
