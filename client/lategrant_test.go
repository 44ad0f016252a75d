package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"github.com/quorum-quest/client-go/transport"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// shortTTL is the case: a 2 s lease with the default 5 s request
// timeout, whose usable part (1.88 s) is shorter than the timeout.
const shortTTL = 2 * time.Second

// newShortClient is a client of srv's lock with a 2 s TTL, whose
// transitions and callbacks are recorded.
func newShortClient(t *testing.T, stub pb.LeaderElectionServiceClient, id string) (*client.QuorumQuestClient, *recorder, *callbackLog) {
	t.Helper()
	rec, cb := newRecorder(), &callbackLog{}
	c, err := client.NewQuorumQuestClient(service, domain, shortTTL, "in-process",
		client.WithServerStub(stub), client.WithClientID(id),
		client.WithTransitionHook(recordTransitions), rec.option(), client.WithCallbacks(cb))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, rec, cb
}

func (c *callbackLog) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.got, " ")
}

// A grant delayed past the usable lease is never waited for: the call ends
// when the lease it would grant runs out, and every signal says "not
// elected" — the return value, the transitions, the callbacks.
func TestDelayedGrantIsAFailedAcquisition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		var delayed bool
		srv.SetFaultFunc(func(qqtest.Call) qqtest.Fault {
			if delayed {
				return qqtest.Fault{}
			}
			delayed = true
			return qqtest.Fault{Delay: 1900 * time.Millisecond}
		})
		a, rec, cb := newShortClient(t, srv.Stub(), "a")
		start := time.Now()
		ok, err := a.TryAcquireLock(bg)
		usable := transport.DefaultLeasePolicy.Usable(shortTTL)
		if ok || status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("TryAcquireLock = %v, %v; want false, DeadlineExceeded", ok, err)
		}
		if took := time.Since(start); took != usable {
			t.Fatalf("the call took %v; want the usable lease %v, not the 5s request timeout", took, usable)
		}
		if p := rec.path(); !samePath(p, client.StateFollower, client.StateAcquiring, client.StateFollower) {
			t.Fatalf("transitions %v; want follower -> acquiring -> follower", p)
		}
		if got := cb.String(); got != "not-elected" {
			t.Fatalf("callbacks %q; want only not-elected", got)
		}
		if _, held := srv.Holder(service, domain); held {
			t.Fatal("the abandoned request still reached the server")
		}
		mustAcquire(t, a) // and the next attempt leads as usual
	})
}

// lateStub answers TryAcquireLock only after delay, whatever the caller's
// deadline says, as a stub that ignores its context would.
type lateStub struct {
	pb.LeaderElectionServiceClient
	delay time.Duration
}

func (s lateStub) TryAcquireLock(_ context.Context, in *pb.TryAcquireLockRequest, opts ...grpc.CallOption) (*pb.TryAcquireLockResponse, error) {
	time.Sleep(s.delay) // virtual time: this is the stub's behaviour, not a wait
	return s.LeaderElectionServiceClient.TryAcquireLock(context.Background(), in, opts...)
}

// A grant that does come back after its lease ran out locally is a failed
// acquisition with ErrLateGrant: no transition to leader at all, no
// "elected" then "lost".
func TestLateGrantNeverLeads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		var leaderSeen []client.Transition
		a, rec, cb := newShortClient(t, lateStub{srv.Stub(), 1900 * time.Millisecond}, "a")
		ok, err := a.TryAcquireLock(bg)
		if ok || !errors.Is(err, client.ErrLateGrant) {
			t.Fatalf("TryAcquireLock = %v, %v; want false, ErrLateGrant", ok, err)
		}
		if a.IsLeader() || a.State() != client.StateFollower {
			t.Fatalf("IsLeader %v in state %s after a late grant", a.IsLeader(), a.State())
		}
		p := rec.path()
		if !samePath(p, client.StateFollower, client.StateAcquiring, client.StateFollower) {
			t.Fatalf("transitions %v; want follower -> acquiring -> follower", p)
		}
		for _, tr := range rec.all() {
			if tr.To.Leading() {
				leaderSeen = append(leaderSeen, tr)
			}
		}
		if len(leaderSeen) > 0 {
			t.Fatalf("transitions into leadership on a late grant: %v", leaderSeen)
		}
		if last := rec.all()[len(rec.all())-1]; !errors.Is(last.Err, client.ErrLateGrant) {
			t.Fatalf("transition %v records %v; want ErrLateGrant", last, last.Err)
		}
		if got := cb.String(); got != "not-elected" {
			t.Fatalf("callbacks %q; want only not-elected", got)
		}
		// The server did grant it: the lock is ours there until its TTL
		// ends, which is why the next attempt is simply a renewal.
		if holder, _ := srv.Holder(service, domain); holder != "a" {
			t.Fatalf("server holder %q", holder)
		}
	})
}

// The request timeout is clamped to the usable lease for acquisitions, but
// still bounds a release in full.
func TestRequestTimeoutClampedForAcquisitionOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.Pause()
		defer srv.Resume()
		a, _, _ := newShortClient(t, srv.Stub(), "a")
		start := time.Now()
		if _, err := a.TryAcquireLock(bg); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("TryAcquireLock: %v", err)
		}
		if took, want := time.Since(start), transport.DefaultLeasePolicy.Usable(shortTTL); took != want {
			t.Fatalf("acquisition took %v, want %v", took, want)
		}
		start = time.Now()
		if err := a.ReleaseLock(bg); status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("ReleaseLock: %v", err)
		}
		if took := time.Since(start); took != client.DefaultRequestTimeout {
			t.Fatalf("release took %v, want the request timeout %v", took, client.DefaultRequestTimeout)
		}
	})
}
