package qqtest_test

// What the real client observes under each fault. Every test runs in a
// testing/synctest bubble, so the times below are exact virtual instants.
// With a 10 s TTL and the client's default drift (1%) and margin (100 ms),
// a lease granted for a request sent at t0 is trusted until t0+9.8s, while
// the server keeps it until it expires 10 s after the request reached it.

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
	"google.golang.org/grpc/status"
)

const (
	ttl     = 10 * time.Second
	trusted = ttl - ttl/100 - 100*time.Millisecond // the client's local deadline
)

// transitions records one client's transitions.
type transitions struct {
	mu   sync.Mutex
	seen []client.Transition
}

func (r *transitions) hook(t client.Transition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, t)
}

// last returns the latest transition into state, once the hooks have
// caught up; ok is false if there is none.
func (r *transitions) last(state client.State) (t client.Transition, ok bool) {
	synctest.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.seen) - 1; i >= 0; i-- {
		if r.seen[i].To == state {
			return r.seen[i], true
		}
	}
	return client.Transition{}, false
}

// newClient returns a client of the shared lock on s's stub, closed when
// the test ends, and the record of its transitions.
func newClient(t *testing.T, s *qqtest.Server, id string, opts ...client.Option) (*client.QuorumQuestClient, *transitions) {
	t.Helper()
	rec := &transitions{}
	base := []client.Option{client.WithServerStub(s.Stub()), client.WithClientID(id), client.WithTransitionHook(rec.hook)}
	c, err := client.NewQuorumQuestClient(svc, dom, ttl, "in-process", append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewQuorumQuestClient(%s): %v", id, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, rec
}

// lead makes c the leader with keep-alive running.
func lead(t *testing.T, c *client.QuorumQuestClient) {
	t.Helper()
	if ok, err := c.TryAcquireLock(t.Context()); !ok || err != nil {
		t.Fatalf("%s: TryAcquireLock = %v, %v; want true, nil", c.ClientID(), ok, err)
	}
	if err := c.StartKeepAlive(t.Context()); err != nil {
		t.Fatalf("%s: StartKeepAlive: %v", c.ClientID(), err)
	}
}

// sleepUntil advances virtual time to at.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at)) }

// nextRenewal advances virtual time until the server has seen one more
// KeepAlive, which keep-alive sends within a third of the TTL (jittered).
func nextRenewal(t *testing.T, s *qqtest.Server) {
	t.Helper()
	seen := s.Calls().KeepAlive
	for end := time.Now().Add(ttl / 2); s.Calls().KeepAlive == seen; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no renewal within %v", ttl/2)
		}
	}
	synctest.Wait() // its answer reaches the client
}

// wantLost checks that c left leadership at exactly at, because of cause.
func wantLost(t *testing.T, c *client.QuorumQuestClient, rec *transitions, at time.Time, cause error) {
	t.Helper()
	tr, ok := rec.last(client.StateLost)
	if !ok {
		t.Fatalf("%s: never lost leadership; state %s", c.ClientID(), c.State())
	}
	if !tr.At.Equal(at) {
		t.Errorf("%s: lost leadership at t0%+v, want t0%+v", c.ClientID(), tr.At.Sub(at), time.Duration(0))
	}
	if !errors.Is(tr.Err, cause) {
		t.Errorf("%s: lost leadership because of %v, want %v", c.ClientID(), tr.Err, cause)
	}
}

// Partition: the client's renewals hang, it steps down at its local
// deadline without hearing from the server, and the server gives the lock
// to another client only after that. Heal brings it back as a follower.
func TestClientUnderPartition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		a, recA := newClient(t, s, "a")
		b, _ := newClient(t, s, "b")
		t0 := time.Now()
		lead(t, a)
		s.Partition("a")

		campaign := make(chan error, 1)
		go func() { campaign <- b.Campaign(t.Context()) }()

		sleepUntil(t0.Add(trusted - time.Nanosecond))
		if !a.IsLeader() {
			t.Fatal("a stepped down before its lease's local deadline")
		}
		sleepUntil(t0.Add(trusted))
		if a.IsLeader() {
			t.Fatal("a still leads at its local deadline, cut off from the server")
		}
		if id, _ := s.Holder(svc, dom); id != "a" || b.IsLeader() {
			t.Fatalf("at a's local deadline: server holder %q, b leading %v; want a's lease still on the server", id, b.IsLeader())
		}
		wantLost(t, a, recA, t0.Add(trusted), client.ErrLeaseExpired)

		if err := <-campaign; err != nil { // within the TTL and one retry interval
			t.Fatalf("b.Campaign: %v", err)
		}
		if took := time.Since(t0); took < ttl || took > ttl+ttl/10 {
			t.Errorf("b took over after %v, want within [TTL, TTL+retry interval]", took)
		}
		if id, _ := s.Holder(svc, dom); id != "b" {
			t.Fatalf("after takeover: holder %q, want b", id)
		}

		s.Heal("a")
		if ok, err := a.TryAcquireLock(t.Context()); ok || err != nil {
			t.Fatalf("healed a: TryAcquireLock = %v, %v; want false, nil (b leads)", ok, err)
		}
		if id, _ := s.Holder(svc, dom); id != "b" || !b.IsLeader() || a.IsLeader() {
			t.Fatalf("after heal: holder %q, a leading %v, b leading %v; want b alone", id, a.IsLeader(), b.IsLeader())
		}
	})
}

// Pause: every call stalls, so the leader's renewals time out and it steps
// down at its local deadline; after Resume it can lead again.
func TestClientUnderPause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		a, recA := newClient(t, s, "a")
		t0 := time.Now()
		lead(t, a)
		s.Pause()

		sleepUntil(t0.Add(trusted))
		if a.IsLeader() {
			t.Fatal("a still leads at its local deadline with the server paused")
		}
		wantLost(t, a, recA, t0.Add(trusted), client.ErrLeaseExpired)
		if id, _ := s.Holder(svc, dom); id != "a" {
			t.Fatalf("paused server at a's local deadline: holder %q, want a until the TTL ends", id)
		}
		sleepUntil(t0.Add(ttl))
		if id, held := s.Holder(svc, dom); held {
			t.Fatalf("paused server at the TTL: holder %q, want the lease expired by its clock", id)
		}

		time.Sleep(time.Minute)
		s.Resume()
		if ok, err := a.TryAcquireLock(t.Context()); !ok || err != nil {
			t.Fatalf("after Resume: TryAcquireLock = %v, %v; want true, nil", ok, err)
		}
	})
}

// DropLock: the holder is not told, so a client that acquires meanwhile
// leads at the same time; the old holder's next renewal is refused and it
// steps down then, with the server's refusal as the cause.
func TestClientUnderDropLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		a, recA := newClient(t, s, "a")
		b, _ := newClient(t, s, "b")
		lead(t, a)

		s.DropLock(svc, dom)
		if ok, err := b.TryAcquireLock(t.Context()); !ok || err != nil {
			t.Fatalf("b: TryAcquireLock of the dropped lock = %v, %v; want true, nil", ok, err)
		}
		if !a.IsLeader() || !b.IsLeader() {
			t.Fatalf("a leading %v, b leading %v; want both: nothing told a of the lost lock", a.IsLeader(), b.IsLeader())
		}
		nextRenewal(t, s)
		if a.IsLeader() {
			t.Fatal("a still leads after the server refused its renewal")
		}
		if _, ok := recA.last(client.StateLost); !ok {
			t.Fatal("no transition to lost")
		}
		if tr, _ := recA.last(client.StateLost); !errors.Is(tr.Err, transport.ErrNotHolder) {
			t.Errorf("lost because of %v, want ErrNotHolder", tr.Err)
		}
		if id, _ := s.Holder(svc, dom); id != "b" || !b.IsLeader() {
			t.Fatalf("holder %q, b leading %v; want b alone", id, b.IsLeader())
		}
	})
}

// Delay: the call takes that much longer, and the lease the client trusts
// runs from when it sent the request, so a slow answer costs it lease.
func TestClientUnderDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		a, _ := newClient(t, s, "a")
		s.SetFault(qqtest.Fault{Delay: 2 * time.Second})

		t0 := time.Now()
		if ok, err := a.TryAcquireLock(t.Context()); !ok || err != nil {
			t.Fatalf("TryAcquireLock = %v, %v; want true, nil", ok, err)
		}
		if took := time.Since(t0); took != 2*time.Second {
			t.Errorf("TryAcquireLock took %v, want the 2s delay", took)
		}
		if got, want := a.GetRemainingLease(), trusted-2*time.Second; got != want {
			t.Errorf("remaining lease %v, want %v (measured from the send)", got, want)
		}
		if _, expires, _ := s.Lease(svc, dom); !expires.Equal(t0.Add(2*time.Second + ttl)) {
			t.Errorf("server lease ends at t0+%v, want t0+12s", expires.Sub(t0))
		}
	})
}

// A status code: the call fails with it and changes nothing; failing
// renewals keep leadership until the local deadline, not a moment longer.
func TestClientUnderStatusCode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		a, recA := newClient(t, s, "a")
		s.SetFault(qqtest.Fault{Code: codes.Unavailable})
		ok, err := a.TryAcquireLock(t.Context())
		if ok || status.Code(err) != codes.Unavailable {
			t.Fatalf("TryAcquireLock = %v, %v; want false and code Unavailable", ok, err)
		}
		if id, held := s.Holder(svc, dom); held {
			t.Fatalf("failed call was applied: holder %q", id)
		}

		s.SetFault(qqtest.Fault{})
		t0 := time.Now()
		lead(t, a)
		s.SetFaultFunc(only(qqtest.MethodKeepAlive, qqtest.Fault{Code: codes.Unavailable}))
		sleepUntil(t0.Add(trusted - time.Nanosecond))
		if !a.IsLeader() || s.Calls().KeepAlive == 0 {
			t.Fatalf("before the deadline: leading %v after %d failed renewals; want leading, renewals tried", a.IsLeader(), s.Calls().KeepAlive)
		}
		sleepUntil(t0.Add(trusted))
		wantLost(t, a, recA, t0.Add(trusted), client.ErrLeaseExpired)
	})
}

// DropRequest: the call hangs until the client's request timeout and
// fails with DeadlineExceeded; nothing was applied.
func TestClientUnderDroppedRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		a, _ := newClient(t, s, "a", client.WithRequestTimeout(2*time.Second))
		s.SetFault(qqtest.Fault{DropRequest: true})
		t0 := time.Now()
		ok, err := a.TryAcquireLock(t.Context())
		if ok || status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("TryAcquireLock = %v, %v; want false and code DeadlineExceeded", ok, err)
		}
		if took := time.Since(t0); took != 2*time.Second {
			t.Errorf("TryAcquireLock took %v, want the 2s request timeout", took)
		}
		if id, held := s.Holder(svc, dom); held || a.IsLeader() {
			t.Fatalf("holder %q, a leading %v; want nobody", id, a.IsLeader())
		}
	})
}

// DropResponse: the call fails as DropRequest does, yet the server granted
// the lock: the client must not believe it leads, and may take it up again.
func TestClientUnderDroppedResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		a, _ := newClient(t, s, "a", client.WithRequestTimeout(2*time.Second))
		s.SetFault(qqtest.Fault{DropResponse: true})
		ok, err := a.TryAcquireLock(t.Context())
		if ok || status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("TryAcquireLock = %v, %v; want false and code DeadlineExceeded", ok, err)
		}
		if id, _ := s.Holder(svc, dom); id != "a" || a.IsLeader() {
			t.Fatalf("holder %q, a leading %v; want the server to hold it for a, a not leading", id, a.IsLeader())
		}
		s.SetFault(qqtest.Fault{})
		if ok, err := a.TryAcquireLock(t.Context()); !ok || err != nil {
			t.Fatalf("retry: TryAcquireLock = %v, %v; want true, nil", ok, err)
		}
	})
}

// Restart: the server forgets every lock; the leader learns it at its next
// renewal, steps down, and can acquire again.
func TestClientUnderRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		a, recA := newClient(t, s, "a")
		lead(t, a)
		s.Restart()
		nextRenewal(t, s)
		if tr, ok := recA.last(client.StateLost); !ok || !errors.Is(tr.Err, transport.ErrNotHolder) || a.IsLeader() {
			t.Fatalf("after the renewal following Restart: leading %v, lost %v (%v); want lost with ErrNotHolder", a.IsLeader(), ok, tr.Err)
		}
		if ok, err := a.TryAcquireLock(t.Context()); !ok || err != nil {
			t.Fatalf("after Restart: TryAcquireLock = %v, %v; want true, nil", ok, err)
		}
	})
}

// A clock offset: a server clock fast by less than the client's allowance
// (drift and margin) expires the lease after the client stepped down; one
// fast by more lets another client lead while the first still believes it
// does. The client cannot detect this; docs/safety.md states the bound.
func TestClientUnderClockOffset(t *testing.T) {
	for _, tc := range []struct {
		name       string
		offset     time.Duration
		overlapped bool
	}{
		{"within the allowance", ttl - trusted - time.Millisecond, false},
		{"beyond the allowance", ttl - trusted + 50*time.Millisecond, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := qqtest.NewUnstartedServer()
				a, _ := newClient(t, s, "a")
				b, _ := newClient(t, s, "b")
				t0 := time.Now()
				if ok, err := a.TryAcquireLock(t.Context()); !ok || err != nil {
					t.Fatalf("a: TryAcquireLock = %v, %v", ok, err)
				}
				s.SetClockOffset(tc.offset) // the server's clock jumps ahead
				sleepUntil(t0.Add(ttl - tc.offset))
				if id, held := s.Holder(svc, dom); held {
					t.Fatalf("server still holds the lock for %q at its fast-clock expiry", id)
				}
				if ok, _ := b.TryAcquireLock(t.Context()); !ok {
					t.Fatal("b could not take the expired lock")
				}
				if overlapped := a.IsLeader() && b.IsLeader(); overlapped != tc.overlapped {
					t.Fatalf("a and b both leading = %v, want %v", overlapped, tc.overlapped)
				}
			})
		})
	}
}

// IgnoreCancel: the client gives up at its request timeout and reports no
// leadership; the request lands later anyway and the server holds the
// lock for it, as after a lost answer.
func TestClientUnderLateRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		a, _ := newClient(t, s, "a", client.WithRequestTimeout(time.Second))
		s.SetFault(qqtest.Fault{Delay: 3 * time.Second, IgnoreCancel: true})
		t0 := time.Now()
		ok, err := a.TryAcquireLock(t.Context())
		if ok || status.Code(err) != codes.DeadlineExceeded || time.Since(t0) != time.Second {
			t.Fatalf("TryAcquireLock = %v, %v after %v; want false, DeadlineExceeded after the 1s request timeout", ok, err, time.Since(t0))
		}
		if _, held := s.Holder(svc, dom); held {
			t.Fatal("the request landed before its delay")
		}
		sleepUntil(t0.Add(3 * time.Second))
		synctest.Wait()
		if id, _ := s.Holder(svc, dom); id != "a" || a.IsLeader() {
			t.Fatalf("after the late arrival: holder %q, a leading %v; want the server holding it for a, a not leading", id, a.IsLeader())
		}
	})
}
