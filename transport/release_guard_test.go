package transport

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// A release copy that loses the race is not cancelled, and lands after
// the release returned. The same client's next TryAcquireLock must wait
// for it: sent at once, it would take the lock, and the late copy would
// then delete it while the client believes it holds it (with another
// client free to take it: two leaders).
func TestReleaseGuardHoldsBackReacquisition(t *testing.T) {
	f := newPair(t)
	c := openPair(t, f.servers[0].Addr()+","+f.servers[1].Addr(), 2*time.Second)
	acquire(t, c, "me")

	gate := make(chan struct{})
	var openGate sync.Once
	t.Cleanup(func() { openGate.Do(func() { close(gate) }) })
	var releases atomic.Int32
	var armed atomic.Bool
	tryArrived := make(chan struct{}, 1)
	f.store.SetFaultFunc(func(call qqtest.Call) qqtest.Fault {
		switch {
		case call.Method == qqtest.MethodReleaseLock && releases.Add(1) == 1:
			<-gate // the first copy is held at the server: the second wins
		case call.Method == qqtest.MethodTryAcquireLock && armed.Load():
			tryArrived <- struct{}{}
		}
		return qqtest.Fault{}
	})
	released := make(chan error, 2)
	f.onServed(func(_ int, method string, err error) {
		if method == "/quorum.quest.api.v1.LeaderElectionService/ReleaseLock" {
			released <- err
		}
	})
	held := make(chan struct{}, 1)
	c.onHold = func() { held <- struct{}{} }

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := c.ReleaseLock(ctx, relReq("me")); err != nil {
		t.Fatalf("release with one copy held: %v", err)
	}
	if err := <-released; err != nil {
		t.Fatalf("the winning release copy: %v", err)
	}
	armed.Store(true)
	acquired := make(chan bool, 1)
	go func() {
		resp, err := c.TryAcquireLock(ctx, tryReq("me"))
		acquired <- err == nil && resp.GetIsLeader()
	}()
	select {
	case <-held:
	case <-tryArrived:
		// Unguarded: the acquisition reached the server before the late
		// release copy; letting that copy land shows what follows.
	case <-time.After(5 * time.Second):
		t.Fatal("the acquisition neither waited for the release nor reached a server")
	}
	openGate.Do(func() { close(gate) })
	if err := <-released; err != nil {
		t.Fatalf("the losing release copy was not applied as sent (cancelled?): %v", err)
	}
	if !<-acquired {
		t.Fatal("the acquisition after the release was not granted")
	}
	if holder, ok := f.store.Holder("svc", "dom"); !ok || holder != "me" {
		t.Fatalf("after the late release copy landed: holder %q, held %v; the client was granted the lock and believes it holds it", holder, ok)
	}
}

// A release is not held up by a silent server: the copy on the healthy
// one answers within the hedge delay. The copy on the silent server may
// still land until its deadline, so until then the same client's
// acquisitions wait (bounded by their own context), and other clients'
// do not.
func TestReleaseOutrunsSilentServerAndGuardsUntilItsDeadline(t *testing.T) {
	f := newPair(t)
	const silence = 2 * time.Second
	c := openPair(t, f.addr(), silence)
	roundTrip := warmUp(t, c, "me", 32)
	if err := f.proxy.SetMode(testutil.ProxySilent); err != nil {
		t.Fatal(err)
	}
	// Two releases: calls alternate, so one of them goes first to the
	// silent server.
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*silence)
		delay := c.HedgeDelay()
		start := time.Now()
		_, err := c.ReleaseLock(ctx, relReq("me"))
		cancel()
		if err != nil {
			t.Fatalf("release with one server silent: %v", err)
		}
		if took := time.Since(start); took > delay+roundTrip {
			t.Fatalf("release took %v; want at most the hedge delay %v plus a round trip (%v)", took, delay, roundTrip)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), silence/4)
	defer cancel()
	if _, err := c.TryAcquireLock(ctx, tryReq("me")); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("acquisition by the releasing client while a release copy may land: %v; want it held back to its deadline", err)
	}
	acquire(t, c, "other")
}

// A release on a context that has already ended is never sent (the client
// sends calls out of turn that way, counting on them to fail without
// reaching a server), though a release's copies outlive their context.
func TestReleaseOnEndedContextIsNotSent(t *testing.T) {
	f := newPair(t)
	c := openPair(t, f.servers[0].Addr()+","+f.servers[1].Addr(), time.Second)
	acquire(t, c, "me")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.ReleaseLock(ctx, relReq("me")); status.Code(err) != codes.Canceled {
		t.Fatalf("release on an ended context: %v; want Canceled", err)
	}
	acquire(t, c, "me") // after any copy sent, which the guard waits for
	if n := f.store.Calls().ReleaseLock; n != 0 {
		t.Fatalf("%d releases reached the store", n)
	}
}

// A release copy that failed without an answer (Unavailable, Canceled,
// DeadlineExceeded: its request may be on the wire) holds the guard until
// its deadline, however early it failed; an answered one lets go at once.
func TestUnansweredReleaseCopyHoldsTheGuardToItsDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &Conn{guards: map[lockID]*releaseGuard{}}
		me := lockID{"svc", "dom", "me"}
		start := time.Now()
		deadline := start.Add(5 * time.Second)
		c.mu.Lock()
		c.guardLocked(me) // the copy answered
		c.guardLocked(me) // the copy that fails 1 s in, unanswered
		c.mu.Unlock()
		c.unguard(me, true, deadline)
		time.Sleep(time.Second)
		c.unguard(me, false, deadline)
		if err := c.awaitReleases(context.Background(), me); err != nil {
			t.Fatal(err)
		}
		if held := time.Since(start); held != 5*time.Second {
			t.Fatalf("acquisition held back %v; want until the unanswered copy's deadline, 5s", held)
		}

		c.mu.Lock()
		c.guardLocked(me)
		c.mu.Unlock()
		c.unguard(me, true, time.Now().Add(5*time.Second))
		start = time.Now()
		if err := c.awaitReleases(context.Background(), me); err != nil || time.Since(start) != 0 {
			t.Fatalf("after an answered copy: held back %v, %v; want not at all", time.Since(start), err)
		}
	})
}
