package client_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/fsm"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"github.com/quorum-quest/client-go/transport"
	"google.golang.org/grpc"
)

// The tests in this file each protect one guarantee the documentation
// states, and each fails, every run, when the code breaking that guarantee
// is put back (docs/safety.md lists the mutations). Expected values are
// written out rather than computed with the code under test.

// checkDeadline acquires with a client configured by opts and checks that
// its lease is trusted for exactly want: IsLeader holds until just before,
// and at want the machine goes to lost on its own, while the server still
// holds the lock.
func checkDeadline(t *testing.T, want time.Duration, opts ...client.Option) {
	t.Helper()
	srv := qqtest.NewUnstartedServer()
	a, rec := newRecordedClient(t, srv, "a", opts...)
	start := time.Now()
	mustAcquire(t, a)
	if got := a.GetRemainingLease(); got != want {
		t.Fatalf("remaining lease %v, want %v", got, want)
	}
	time.Sleep(want - time.Nanosecond)
	if !a.IsLeader() {
		t.Fatalf("not leader 1ns before the deadline at +%v", want)
	}
	lost := rec.waitFor(t, client.StateLost)
	if at := lost.At.Sub(start); at != want || !errors.Is(lost.Err, client.ErrLeaseExpired) {
		t.Fatalf("lost at +%v with %v, want +%v with ErrLeaseExpired", at, lost.Err, want)
	}
	if holder, held := srv.Holder(service, domain); !held || holder != "a" {
		t.Fatal("the server's lease ended before the client's: no safety left")
	}
}

// Guarantee: the local lease deadline gives up the drift fraction of the
// lease (sent + ttl - ttl*drift - margin), so that a server clock running
// fast by up to drift cannot end the lease before the client stops leading.
func TestLeaseDeadlineGivesUpDrift(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 15s - 10% of 15s - 0 = 13.5s.
		checkDeadline(t, 13500*time.Millisecond, client.WithClockDrift(0.1), client.WithSafetyMargin(0))
	})
}

// Guarantee: the local lease deadline gives up the safety margin, so that
// work started just before IsLeader turns false still ends before the
// server could hand the lock on.
func TestLeaseDeadlineGivesUpMargin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// 15s - 0 - 2s = 13s.
		checkDeadline(t, 13*time.Second, client.WithClockDrift(0), client.WithSafetyMargin(2*time.Second))
	})
}

// Guarantee: leadership ends (IsLeader false, state follower) before the
// release is sent, so the client never claims a lock the server may
// already have handed to another. The server holds the release back, so
// the test looks while it is in flight.
func TestReleaseEndsLeadershipBeforeItIsSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a := newClient(t, srv, "a")
		mustAcquire(t, a)
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			if c.Method == qqtest.MethodReleaseLock {
				return qqtest.Fault{Delay: time.Second}
			}
			return qqtest.Fault{}
		})
		released := make(chan error, 1)
		go func() { released <- a.ReleaseLock(bg) }()
		synctest.Wait() // the release is on the wire, held back by the server
		if _, held := srv.Holder(service, domain); !held || srv.Calls().ReleaseLock != 1 {
			t.Fatal("setup: the release is not in flight")
		}
		if a.IsLeader() || a.State() != client.StateFollower || a.GetRemainingLease() != 0 {
			t.Fatalf("release in flight: leader %v, state %s, lease %v; leadership must end before sending",
				a.IsLeader(), a.State(), a.GetRemainingLease())
		}
		if err := <-released; err != nil {
			t.Fatal(err)
		}
	})
}

// Guarantee: without a renewal, the machine itself moves to lost at the
// deadline (the expiry timer), ending keep-alive, leadership contexts and
// Watch readers' leadership, not only IsLeader's answer.
func TestExpiryMovesTheMachineToLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a")
		mustAcquire(t, a)
		start := time.Now()
		lost := rec.waitFor(t, client.StateLost)
		if lost.From != client.StateLeader || lost.Event != client.EventExpire || lost.At.Sub(start) != 14750*time.Millisecond {
			t.Fatalf("%s -> %s on %s at +%v; want leader -> lost on expire at +14.75s", lost.From, lost.To, lost.Event, lost.At.Sub(start))
		}
		if a.State() != client.StateLost {
			t.Fatalf("state %s after the deadline", a.State())
		}
	})
}

// A renewed lease expires at its latest deadline, exactly: the expiry
// timer, set by the first lease's deadline and not moved by the renewals
// (alarm.go), must carry the machine on to the last one.
func TestRenewedLeaseExpiresAtItsLatestDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a")
		mustAcquire(t, a)
		for range 3 { // renewals, all before the first lease's deadline
			time.Sleep(time.Second)
			mustAcquire(t, a)
		}
		start := time.Now()
		lost := rec.waitFor(t, client.StateLost)
		if lost.Event != client.EventExpire || lost.At.Sub(start) != 14750*time.Millisecond {
			t.Fatalf("%s -> %s on %s at +%v after the last renewal; want expire at +14.75s", lost.From, lost.To, lost.Event, lost.At.Sub(start))
		}
	})
}

// Transition events are typed: every event of the machine has its exported
// constant in client, and a transition carries it.
func TestTransitionEventsAreTyped(t *testing.T) {
	want := []client.Event{
		client.EventAcquire, client.EventRefresh, client.EventGranted, client.EventDenied,
		client.EventFailed, client.EventExpire, client.EventRelease, client.EventClose,
	}
	events := fsm.Events()
	if len(events) != len(want) {
		t.Fatalf("the machine has %d events, client exports %d", len(events), len(want))
	}
	for i, e := range events {
		if want[i] != e {
			t.Errorf("event %d: client exports %q, the machine has %q", i, want[i], e)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a")
		mustAcquire(t, a)
		synctest.Wait()
		got := rec.all()
		if len(got) != 2 || got[0].Event != client.EventAcquire || got[1].Event != client.EventGranted {
			t.Fatalf("transitions %v; want acquire then granted", got)
		}
	})
}

// A refused TryAcquireLock records transport.ErrNotHolder as the cause of
// its transition, as ErrNotHolder's doc says, while the caller still gets
// false and no error: "held by another" is an answer, not a failure.
func TestDeniedAcquisitionRecordsErrNotHolder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a := newClient(t, srv, "a")
		b, rec := newRecordedClient(t, srv, "b")
		mustAcquire(t, a)
		if ok, err := b.TryAcquireLock(bg); ok || err != nil {
			t.Fatalf("b: TryAcquireLock = %v, %v; want false, nil", ok, err)
		}
		synctest.Wait()
		got := rec.all()
		if len(got) != 2 || got[1].Event != client.EventDenied || !errors.Is(got[1].Err, transport.ErrNotHolder) {
			t.Fatalf("transitions %v; want a denial caused by ErrNotHolder", got)
		}
	})
}

// Guarantee: a result from a call the machine has moved past (released,
// expired, closed) is dropped: it says nothing of leadership now. Here the
// grant of an acquisition that was released meanwhile arrives while a
// second acquisition is in flight; taking it for the second's answer would
// make a lead beside b, who took the lock after the release.
func TestStaleGrantIsNotLeadership(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		var acquisitions int
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			if c.ClientID == "a" && c.Method == qqtest.MethodTryAcquireLock {
				acquisitions++ // the client serializes its calls
				if acquisitions == 2 {
					return qqtest.Fault{Delay: 2 * time.Second}
				}
			}
			return qqtest.Fault{}
		})
		a := newClient(t, srv, "a", client.WithServerStub(&onTheWire{LeaderElectionServiceClient: srv.Stub(), latency: time.Second}))
		b := newClient(t, srv, "b")
		first, second := make(chan bool, 1), make(chan bool, 1)
		go func() { ok, _ := a.TryAcquireLock(bg); first <- ok }()
		synctest.Wait() // the first acquisition is on the wire, granted at +1s
		go func() { _ = a.ReleaseLock(bg) }()
		synctest.Wait() // released locally; queued behind the first acquisition
		go func() { ok, _ := a.TryAcquireLock(bg); second <- ok }()
		synctest.Wait() // queued behind the release; denied at +3s
		time.Sleep(1500 * time.Millisecond)
		mustAcquire(t, b) // the release reached the server at +1s
		if a.IsLeader() || a.State() != client.StateAcquiring {
			t.Fatalf("a: leader %v, state %s while b holds the lock; the released acquisition's grant was applied", a.IsLeader(), a.State())
		}
		if <-first {
			t.Fatal("the released acquisition reported leadership")
		}
		if <-second || a.IsLeader() {
			t.Fatal("a leads after b took the lock")
		}
	})
}

// onTheWire delivers the first TryAcquireLock to the server after latency
// and brings its answer back whatever happens to the caller's context
// meanwhile: a request already on the wire, which cancelling cannot recall.
// Later calls go straight through.
type onTheWire struct {
	pb.LeaderElectionServiceClient
	latency time.Duration
	sent    atomic.Int32
}

func (w *onTheWire) TryAcquireLock(ctx context.Context, in *pb.TryAcquireLockRequest, opts ...grpc.CallOption) (*pb.TryAcquireLockResponse, error) {
	if w.sent.Add(1) > 1 {
		return w.LeaderElectionServiceClient.TryAcquireLock(ctx, in, opts...)
	}
	<-time.After(w.latency) // network latency, in virtual time
	return w.LeaderElectionServiceClient.TryAcquireLock(context.WithoutCancel(ctx), in, opts...)
}
