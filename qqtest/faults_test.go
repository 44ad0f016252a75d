package qqtest_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// only returns a fault function that applies f to method and lets every
// other call through.
func only(method qqtest.Method, f qqtest.Fault) func(qqtest.Call) qqtest.Fault {
	return func(c qqtest.Call) qqtest.Fault {
		if c.Method == method {
			return f
		}
		return qqtest.Fault{}
	}
}

func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("error = %v (code %v), want code %v", err, got, want)
	}
}

func TestFaultDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		s.SetFaultFunc(only(qqtest.MethodTryAcquireLock, qqtest.Fault{Delay: 3 * time.Second}))

		start := time.Now()
		if !acquire(t, c, "a", 10) {
			t.Fatal("delayed acquire of a free lock failed")
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("delayed call took %v, want 3s", got)
		}
		// The TTL runs from when the call reached the server.
		if _, expires, _ := s.Lease(svc, dom); !expires.Equal(start.Add(13 * time.Second)) {
			t.Errorf("expires = start+%v, want start+13s", expires.Sub(start))
		}
	})
}

func TestFaultDelayHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		s.SetFaultFunc(only(qqtest.MethodTryAcquireLock, qqtest.Fault{Delay: 3 * time.Second}))

		start := time.Now()
		_, err := s.Stub().TryAcquireLock(withTimeout(t, time.Second), acquireReq("a", 10))
		wantCode(t, err, codes.DeadlineExceeded)
		if got := time.Since(start); got != time.Second {
			t.Errorf("call returned after %v, want at its 1s deadline", got)
		}
		time.Sleep(5 * time.Second) // the delayed request must not land later
		if got := holder(s); got != "" {
			t.Errorf("timed-out delayed call was applied: holder = %q", got)
		}
	})
}

func TestFaultCode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		s.SetFaultFunc(only(qqtest.MethodTryAcquireLock, qqtest.Fault{Code: codes.Unavailable}))

		_, err := c.TryAcquireLock(t.Context(), acquireReq("a", 10))
		wantCode(t, err, codes.Unavailable)
		if got := holder(s); got != "" {
			t.Fatalf("failed call was applied: holder = %q", got)
		}
		if got := s.Calls().TryAcquireLock; got != 1 {
			t.Errorf("Calls().TryAcquireLock = %d, want the failed call counted", got)
		}

		s.SetFaultFunc(nil)
		if !acquire(t, c, "a", 10) {
			t.Fatal("after clearing the fault: acquire failed")
		}
	})
}

func TestFaultFuncCalledOncePerCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		var seen []qqtest.Call
		s.SetFaultFunc(func(call qqtest.Call) qqtest.Fault {
			seen = append(seen, call)
			return qqtest.Fault{}
		})
		acquire(t, c, "a", 10)
		keepAlive(t, c, "a", 10)
		release(t, c, "a")
		want := []qqtest.Call{
			{Method: "TryAcquireLock", Service: svc, Domain: dom, ClientID: "a"},
			{Method: "KeepAlive", Service: svc, Domain: dom, ClientID: "a"},
			{Method: "ReleaseLock", Service: svc, Domain: dom, ClientID: "a"},
		}
		if len(seen) != len(want) {
			t.Fatalf("fault func saw %d calls, want %d: %+v", len(seen), len(want), seen)
		}
		for i := range want {
			if seen[i] != want[i] {
				t.Errorf("call %d = %+v, want %+v", i, seen[i], want[i])
			}
		}
	})
}

func TestFaultDropRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		s.SetFaultFunc(only(qqtest.MethodTryAcquireLock, qqtest.Fault{DropRequest: true}))

		start := time.Now()
		_, err := c.TryAcquireLock(withTimeout(t, 2*time.Second), acquireReq("a", 10))
		wantCode(t, err, codes.DeadlineExceeded)
		if got := time.Since(start); got != 2*time.Second {
			t.Errorf("dropped call returned after %v, want at its 2s deadline", got)
		}
		if got := holder(s); got != "" {
			t.Errorf("dropped request was applied: holder = %q", got)
		}

		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(time.Second, cancel)
		_, err = c.TryAcquireLock(ctx, acquireReq("a", 10))
		wantCode(t, err, codes.Canceled)
	})
}

func TestFaultDropResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		s.SetFaultFunc(func(qqtest.Call) qqtest.Fault { return qqtest.Fault{DropResponse: true} })

		_, err := c.TryAcquireLock(withTimeout(t, 2*time.Second), acquireReq("a", 10))
		wantCode(t, err, codes.DeadlineExceeded)
		// The caller saw a failure, yet it holds the lock.
		if got := holder(s); got != "a" {
			t.Fatalf("after lost response: holder = %q, want a (call applied)", got)
		}

		_, err = c.ReleaseLock(withTimeout(t, time.Second), &pb.ReleaseLockRequest{Service: svc, Domain: dom, ClientId: "a"})
		wantCode(t, err, codes.DeadlineExceeded)
		if got := holder(s); got != "" {
			t.Errorf("after lost release response: holder = %q, want none (call applied)", got)
		}
	})
}

func TestPartitionAndHeal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		acquire(t, c, "a", 10)

		s.Partition("a")
		_, err := c.KeepAlive(withTimeout(t, 3*time.Second), &pb.KeepAliveRequest{Service: svc, Domain: dom, ClientId: "a", Ttl: 10})
		wantCode(t, err, codes.DeadlineExceeded)
		// Other clients still get through and take over once a's lease runs out.
		if acquire(t, c, "b", 10) {
			t.Fatal("b acquired while a's lease was still valid")
		}
		time.Sleep(7 * time.Second)
		if !acquire(t, c, "b", 10) {
			t.Fatal("b could not acquire after a's lease expired")
		}

		s.Heal("a")
		if acquire(t, c, "a", 10) {
			t.Error("healed a acquired b's lock")
		}
		if got := keepAlive(t, c, "a", 10); got != -time.Second {
			t.Errorf("healed a: lease_length = %v, want -1s (lost its lease)", got)
		}
	})
}

func TestPauseAndResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		s.Pause()

		// A call with a deadline gives up and is not applied.
		_, err := c.TryAcquireLock(withTimeout(t, time.Second), acquireReq("b", 10))
		wantCode(t, err, codes.DeadlineExceeded)

		// A call without one waits for Resume.
		var leader atomic.Bool
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, err := c.TryAcquireLock(context.Background(), acquireReq("a", 10))
			if err != nil {
				t.Errorf("paused call: %v", err)
			}
			leader.Store(resp.GetIsLeader())
		}()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("call completed while the server was paused")
		default:
		}
		if got := holder(s); got != "" {
			t.Fatalf("paused call was applied: holder = %q", got)
		}

		s.Resume()
		<-done
		if !leader.Load() {
			t.Fatal("resumed call: is_leader = false, want true")
		}
		// Applied at resume time, not at send time.
		if _, expires, _ := s.Lease(svc, dom); !expires.Equal(time.Now().Add(10 * time.Second)) {
			t.Errorf("expires = %v, want resume time + 10s", expires)
		}
	})
}

func TestRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		acquire(t, c, "a", 10)
		s.SetFaultFunc(only(qqtest.MethodReleaseLock, qqtest.Fault{Code: codes.Internal}))

		s.Restart()
		if got := holder(s); got != "" {
			t.Fatalf("after Restart: holder = %q, want none", got)
		}
		if got := keepAlive(t, c, "a", 10); got != -time.Second {
			t.Errorf("after Restart: a's lease_length = %v, want -1s", got)
		}
		if !acquire(t, c, "b", 10) {
			t.Error("after Restart: b could not acquire")
		}
		// Faults survive a restart.
		_, err := c.ReleaseLock(t.Context(), &pb.ReleaseLockRequest{Service: svc, Domain: dom, ClientId: "b"})
		wantCode(t, err, codes.Internal)
	})
}

func TestSetClockOffset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		t0 := time.Now()
		acquire(t, c, "a", 10)

		// A backwards server clock keeps the lease alive past its real end.
		s.SetClockOffset(-5 * time.Second)
		time.Sleep(12 * time.Second)
		if got := holder(s); got != "a" {
			t.Fatalf("server clock 5s slow, 12s later: holder = %q, want a", got)
		}

		// A forward jump expires it early.
		s.SetClockOffset(0)
		s.SetClockOffset(11 * time.Second) // replaces, not adds
		if got := holder(s); got != "" {
			t.Fatalf("server clock jumped: holder = %q, want none", got)
		}
		if !acquire(t, c, "b", 10) {
			t.Fatal("b could not acquire after the clock jump")
		}
		t1 := time.Now().Add(11 * time.Second)
		checkHistory(t, s,
			tenure("a", t0, t0.Add(10*time.Second), true),
			tenure("b", t1, t1.Add(10*time.Second), false))
	})
}

func TestSetFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()

		s.SetFault(qqtest.Fault{Code: codes.Unavailable})
		for _, method := range []func() error{
			func() error { _, err := c.TryAcquireLock(t.Context(), acquireReq("a", 10)); return err },
			func() error {
				_, err := c.KeepAlive(t.Context(), &pb.KeepAliveRequest{Service: svc, Domain: dom, ClientId: "a", Ttl: 10})
				return err
			},
			func() error {
				_, err := c.ReleaseLock(t.Context(), &pb.ReleaseLockRequest{Service: svc, Domain: dom, ClientId: "a"})
				return err
			},
		} {
			wantCode(t, method(), codes.Unavailable)
		}
		if got := holder(s); got != "" {
			t.Fatalf("a failed call was applied: holder = %q", got)
		}

		s.SetFault(qqtest.Fault{Delay: 2 * time.Second})
		start := time.Now()
		if !acquire(t, c, "a", 10) {
			t.Fatal("delayed acquire of a free lock failed")
		}
		if got := time.Since(start); got != 2*time.Second {
			t.Errorf("delayed call took %v, want 2s", got)
		}

		s.SetFault(qqtest.Fault{})
		start = time.Now()
		if got := keepAlive(t, c, "a", 10); got != 10*time.Second || time.Since(start) != 0 {
			t.Errorf("after SetFault(Fault{}): lease_length %v after %v, want 10s at once", got, time.Since(start))
		}
	})
}

func TestDropLock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		acquire(t, c, "a", 10)
		time.Sleep(3 * time.Second) // virtual
		s.DropLock("other", dom)    // another lock: no effect
		if got := holder(s); got != "a" {
			t.Fatalf("after dropping another lock: holder = %q, want a", got)
		}

		s.DropLock(svc, dom)
		if id, held := s.Holder(svc, dom); held || id != "" {
			t.Fatalf("after DropLock: Holder = %q, %v; want none", id, held)
		}
		h := s.History()
		if len(h) != 1 || !h[0].Ended || h[0].End.Sub(h[0].Start) != 3*time.Second {
			t.Fatalf("after DropLock: History = %+v, want one tenure ended after 3s", h)
		}
		if got := keepAlive(t, c, "a", 10); got != -time.Second {
			t.Errorf("after DropLock: a's lease_length = %v, want -1s", got)
		}
		if !acquire(t, c, "b", 10) {
			t.Error("after DropLock: b could not acquire")
		}
		s.DropLock(svc, "free") // a free lock: no effect
	})
}

// A request its caller gave up on still lands, after the calls the caller
// made next: the case that tests whether a release can be overtaken.
func TestFaultIgnoreCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		s.SetFaultFunc(only(qqtest.MethodTryAcquireLock, qqtest.Fault{Delay: 3 * time.Second, IgnoreCancel: true}))

		start := time.Now()
		_, err := c.TryAcquireLock(withTimeout(t, time.Second), acquireReq("a", 10))
		wantCode(t, err, codes.DeadlineExceeded)
		if got := time.Since(start); got != time.Second {
			t.Errorf("abandoned call returned after %v, want at its 1s deadline", got)
		}
		release(t, c, "a") // sent later, arrives first
		if got := holder(s); got != "" {
			t.Fatalf("before the late request arrived: holder = %q", got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := holder(s); got != "a" {
			t.Fatalf("after the late request arrived: holder = %q, want a", got)
		}
		if _, expires, _ := s.Lease(svc, dom); !expires.Equal(start.Add(13 * time.Second)) {
			t.Errorf("late grant expires at start+%v, want start+13s (applied on arrival)", expires.Sub(start))
		}

		// An answer that comes in time is returned as usual.
		if !acquire(t, c, "a", 10) {
			t.Error("holder's delayed renewal: is_leader = false")
		}
	})
}

// A detached request meets the partition and the pause of the moment it
// arrives, and a lost one does not keep its caller past its context.
func TestFaultIgnoreCancelMeetsOtherFaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		c := s.Stub()
		s.SetFault(qqtest.Fault{Delay: time.Second, IgnoreCancel: true})

		s.Partition("a")
		_, err := c.TryAcquireLock(withTimeout(t, 2*time.Second), acquireReq("a", 10))
		wantCode(t, err, codes.DeadlineExceeded)
		s.Heal("a")
		if got := holder(s); got != "" {
			t.Fatalf("request lost in a partition was applied: holder = %q", got)
		}

		s.Pause()
		_, err = c.TryAcquireLock(withTimeout(t, 2*time.Second), acquireReq("a", 10))
		wantCode(t, err, codes.DeadlineExceeded)
		time.Sleep(5 * time.Second)
		if got := holder(s); got != "" {
			t.Fatalf("paused: holder = %q, want none until Resume", got)
		}
		s.Resume()
		synctest.Wait()
		if got := holder(s); got != "a" {
			t.Fatalf("after Resume: holder = %q, want a (the abandoned request waited)", got)
		}
	})
}

// Close stops only the network: requests on their way arrive, requests
// held by a pause wait for Resume, and IgnoreCancel still detaches, as
// Close's doc says. A caller still waiting gets its answer; it would wait
// forever if Close dropped its request.
func TestCloseLeavesDetachedRequestsAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		s.SetFault(qqtest.Fault{Delay: time.Hour, IgnoreCancel: true})
		_, err := s.Stub().TryAcquireLock(withTimeout(t, time.Second), acquireReq("a", 10))
		wantCode(t, err, codes.DeadlineExceeded)
		s.Close()
		time.Sleep(time.Hour)
		if got := holder(s); got != "a" {
			t.Fatalf("request detached before Close: holder = %q at its arrival, want a", got)
		}
		time.Sleep(time.Minute) // a's lease runs out

		// Detached after Close, by a caller that gave up.
		_, err = s.Stub().TryAcquireLock(withTimeout(t, time.Second), acquireReq("b", 10))
		wantCode(t, err, codes.DeadlineExceeded)
		time.Sleep(time.Hour)
		if got := holder(s); got != "b" {
			t.Fatalf("request detached after Close: holder = %q at its arrival, want b", got)
		}
		time.Sleep(time.Minute)

		// Held by a pause across Close, its caller still waiting.
		s.SetFault(qqtest.Fault{IgnoreCancel: true})
		s.Pause()
		answered := make(chan error, 1)
		go func() {
			_, err := s.Stub().TryAcquireLock(context.Background(), acquireReq("c", 10))
			answered <- err
		}()
		synctest.Wait()
		s.Close()
		s.Resume()
		if err := <-answered; err != nil {
			t.Fatalf("paused request after Close and Resume: %v", err)
		}
		if got := holder(s); got != "c" {
			t.Fatalf("paused request after Close and Resume: holder = %q, want c", got)
		}
	})
}

// A detached request keeps no goroutine: a synctest bubble may end while
// it is on its way, or held by a pause, without Close.
func TestDetachedRequestsMayOutliveTheBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		s.SetFault(qqtest.Fault{Delay: time.Hour, IgnoreCancel: true})
		_, err := s.Stub().TryAcquireLock(withTimeout(t, time.Second), acquireReq("a", 10))
		wantCode(t, err, codes.DeadlineExceeded)

		s.SetFault(qqtest.Fault{IgnoreCancel: true})
		s.Pause()
		_, err = s.Stub().TryAcquireLock(withTimeout(t, time.Second), acquireReq("b", 10))
		wantCode(t, err, codes.DeadlineExceeded)
	})
}
