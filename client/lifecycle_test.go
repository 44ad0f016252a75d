package client_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestReleaseHandsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, b := newClient(t, srv, "a"), newClient(t, srv, "b")
		mustAcquire(t, a)
		mustStartKeepAlive(t, a)
		if err := a.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		if a.IsLeader() || a.State() != client.StateFollower {
			t.Fatalf("after release: leader %v, state %s", a.IsLeader(), a.State())
		}
		if _, held := srv.Holder(service, domain); held {
			t.Fatal("server still holds the lock")
		}
		mustAcquire(t, b)
		time.Sleep(ttl) // keep-alive stopped with the release: no renewals
		if n := srv.Calls().KeepAlive; n != 0 {
			t.Fatalf("%d renewals after release", n)
		}
	})
}

// A follower's release is still sent: the server may hold the lock for it
// after an answer was lost.
func TestReleaseAfterLostAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			return qqtest.Fault{DropResponse: c.Method == qqtest.MethodTryAcquireLock}
		})
		a := newClient(t, srv, "a", client.WithRequestTimeout(time.Second))
		ok, err := a.TryAcquireLock(bg)
		if ok || status.Code(err) != codes.DeadlineExceeded || a.State() != client.StateFollower {
			t.Fatalf("TryAcquireLock = %v, %v (state %s); want false, DeadlineExceeded, follower", ok, err, a.State())
		}
		if holder, _ := srv.Holder(service, domain); holder != "a" {
			t.Fatal("the fault did not apply the call")
		}
		if err := a.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		if _, held := srv.Holder(service, domain); held {
			t.Fatal("release from a follower was not sent")
		}
	})
}

func TestReleaseFromLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a")
		mustAcquire(t, a)
		rec.waitFor(t, client.StateLost)
		if err := a.ReleaseLock(bg); err != nil || a.State() != client.StateFollower {
			t.Fatalf("ReleaseLock = %v, state %s", err, a.State())
		}
	})
}

// A release while a TryAcquireLock is in flight ends the attempt, and is
// sent only after it, so the server is never left holding the lock.
func TestReleaseWhileAcquiring(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			return qqtest.Fault{Delay: time.Second}
		})
		a := newClient(t, srv, "a")
		got := make(chan error, 1)
		go func() {
			ok, err := a.TryAcquireLock(bg)
			if ok {
				err = errors.New("acquired despite the release")
			}
			got <- err
		}()
		synctest.Wait()
		if a.State() != client.StateAcquiring {
			t.Fatalf("state %s, want acquiring", a.State())
		}
		if err := a.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("TryAcquireLock: %v", err)
		}
		if _, held := srv.Holder(service, domain); held || a.IsLeader() {
			t.Fatal("lock held after the release")
		}
	})
}

func TestReleaseWhileRenewing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a")
		mustAcquire(t, a)
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			return qqtest.Fault{Delay: time.Second}
		})
		mustStartKeepAlive(t, a)
		rec.waitFor(t, client.StateRefreshing)
		if err := a.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second)
		if _, held := srv.Holder(service, domain); held || a.State() != client.StateFollower {
			t.Fatalf("after release during renewal: held %v, state %s", held, a.State())
		}
	})
}

// TryAcquireLock while leading renews the lease through the machine.
func TestTryAcquireWhileLeadingRenews(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a")
		mustAcquire(t, a)
		time.Sleep(10 * time.Second)
		mustAcquire(t, a)
		if got := a.GetRemainingLease(); got != usable {
			t.Fatalf("remaining after renewal %v, want %v", got, usable)
		}
		want := []client.State{client.StateFollower, client.StateAcquiring, client.StateLeader, client.StateRefreshing, client.StateLeader}
		if got := rec.path(); !samePath(got, want...) {
			t.Fatalf("path %v, want %v", got, want)
		}
	})
}

// Concurrent TryAcquireLock calls share the one call in flight.
func TestConcurrentTryAcquireShareOneCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.SetFaultFunc(func(qqtest.Call) qqtest.Fault { return qqtest.Fault{Delay: time.Second} })
		a := newClient(t, srv, "a")
		results := make(chan bool, 5)
		for range 5 {
			go func() {
				ok, err := a.TryAcquireLock(bg)
				results <- ok && err == nil
			}()
		}
		for range 5 {
			if !<-results {
				t.Fatal("a concurrent TryAcquireLock did not report leadership")
			}
		}
		if n := srv.Calls().TryAcquireLock; n != 1 {
			t.Fatalf("%d TryAcquireLock calls reached the server, want 1", n)
		}
	})
}

func TestTryAcquireFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.SetFaultFunc(func(qqtest.Call) qqtest.Fault { return qqtest.Fault{Code: codes.Unavailable} })
		a, rec := newRecordedClient(t, srv, "a")
		ok, err := a.TryAcquireLock(bg)
		if ok || status.Code(err) != codes.Unavailable {
			t.Fatalf("TryAcquireLock = %v, %v; want false and Unavailable", ok, err)
		}
		synctest.Wait()
		if tr := rec.all(); len(tr) != 2 || tr[1].Event != client.EventFailed || tr[1].To != client.StateFollower {
			t.Fatalf("transitions %v", tr)
		}
	})
}

func TestTryAcquireHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.Pause()
		defer srv.Resume()
		a := newClient(t, srv, "a")
		ctx, cancel := context.WithTimeout(bg, time.Second)
		defer cancel()
		ok, err := a.TryAcquireLock(ctx)
		if ok || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("TryAcquireLock = %v, %v; want false, context.DeadlineExceeded", ok, err)
		}
		synctest.Wait()
		if a.State() != client.StateFollower {
			t.Fatalf("state %s after a cancelled attempt", a.State())
		}
	})
}

func TestKeepAliveErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a := newClient(t, srv, "a")
		if err := a.StartKeepAlive(bg); !errors.Is(err, client.ErrNotLeader) {
			t.Fatalf("StartKeepAlive as follower: %v, want ErrNotLeader", err)
		}
		mustAcquire(t, a)
		mustStartKeepAlive(t, a)
		if err := a.StartKeepAlive(bg); !errors.Is(err, client.ErrKeepAliveRunning) {
			t.Fatalf("second StartKeepAlive: %v, want ErrKeepAliveRunning", err)
		}
		a.StopKeepAlive()
		a.StopKeepAlive() // idempotent
		if err := a.StartKeepAlive(bg); err != nil {
			t.Fatalf("StartKeepAlive after StopKeepAlive: %v", err)
		}
		// The end of keep-alive's context stops it as StopKeepAlive does.
		a.StopKeepAlive()
		ctx, cancel := context.WithCancel(bg)
		if err := a.StartKeepAlive(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		synctest.Wait()
		if err := a.StartKeepAlive(bg); err != nil {
			t.Fatalf("StartKeepAlive after the last one's context ended: %v", err)
		}
	})
}

// StopKeepAlive returns at once even while a renewal hangs, and leaves the
// lease to run out at its deadline.
func TestStopKeepAliveWhileRenewalHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a", client.WithRequestTimeout(time.Hour))
		mustAcquire(t, a)
		srv.Partition("a")
		mustStartKeepAlive(t, a)
		rec.waitFor(t, client.StateRefreshing)
		synctest.Wait() // the renewal is on the wire
		start := time.Now()
		a.StopKeepAlive()
		if time.Since(start) != 0 {
			t.Fatalf("StopKeepAlive took %v", time.Since(start))
		}
		synctest.Wait()
		if a.State() != client.StateLeader || !a.IsLeader() {
			t.Fatalf("state %s after stopping keep-alive; the lease still runs", a.State())
		}
		srv.Heal("a")
		time.Sleep(ttl)
		if n := srv.Calls().KeepAlive; n != 1 {
			t.Fatalf("%d renewals, want only the cancelled one", n)
		}
	})
}

// Keep-alive ends with the context given to StartKeepAlive.
func TestKeepAliveEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a := newClient(t, srv, "a")
		mustAcquire(t, a)
		ctx, cancel := context.WithCancel(bg)
		if err := a.StartKeepAlive(ctx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(ttl)
		renewals := srv.Calls().KeepAlive
		cancel()
		time.Sleep(ttl)
		if renewals == 0 || srv.Calls().KeepAlive != renewals {
			t.Fatalf("renewals %d before cancel, %d after", renewals, srv.Calls().KeepAlive)
		}
		if err := a.StartKeepAlive(bg); !errors.Is(err, client.ErrNotLeader) {
			t.Fatalf("after the lease ran out: %v, want ErrNotLeader", err)
		}
	})
}

func TestCloseReleasesAndIsIdempotent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a")
		mustAcquire(t, a)
		mustStartKeepAlive(t, a)
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if _, held := srv.Holder(service, domain); held {
			t.Fatal("Close did not release the lock")
		}
		if err := a.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if a.IsLeader() || a.State() != client.StateClosed || a.GetRemainingLease() != 0 {
			t.Fatalf("after Close: leader %v, state %s", a.IsLeader(), a.State())
		}
		if last := rec.all()[len(rec.all())-1]; last.To != client.StateClosed {
			t.Fatalf("last transition %+v, want one to closed (Close waits for hooks)", last)
		}
		if _, err := a.TryAcquireLock(bg); !errors.Is(err, client.ErrClosed) {
			t.Fatalf("TryAcquireLock after Close: %v", err)
		}
		if err := a.ReleaseLock(bg); !errors.Is(err, client.ErrClosed) {
			t.Fatalf("ReleaseLock after Close: %v", err)
		}
		if err := a.StartKeepAlive(bg); !errors.Is(err, client.ErrClosed) {
			t.Fatalf("StartKeepAlive after Close: %v", err)
		}
		a.StopKeepAlive() // must not block or panic
	})
}

// Close is bounded even when the server does not answer at all.
func TestCloseIsBoundedOnDeadNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a", client.WithRequestTimeout(time.Hour), client.WithCloseTimeout(time.Second))
		mustAcquire(t, a)
		srv.Partition("a")
		mustStartKeepAlive(t, a)
		rec.waitFor(t, client.StateRefreshing)
		start := time.Now()
		err := a.Close()
		if took := time.Since(start); took != time.Second {
			t.Fatalf("Close took %v, want the 1s close timeout", took)
		}
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("Close = %v, want the release's DeadlineExceeded", err)
		}
	})
}

func TestCloseWhileAcquiringReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			return qqtest.Fault{DropResponse: c.Method == qqtest.MethodTryAcquireLock}
		})
		a := newClient(t, srv, "a")
		got := make(chan error, 1)
		go func() {
			_, err := a.TryAcquireLock(bg)
			got <- err
		}()
		synctest.Wait()
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-got; !errors.Is(err, client.ErrClosed) {
			t.Fatalf("pending TryAcquireLock: %v, want ErrClosed", err)
		}
		if _, held := srv.Holder(service, domain); held {
			t.Fatal("the lock acquired by the lost answer was not released by Close")
		}
	})
}

func TestCloseFollowerAndLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		f := newClient(t, srv, "f")
		if err := f.Close(); err != nil || srv.Calls().ReleaseLock != 0 {
			t.Fatalf("Close of a follower = %v with %d releases; want nil and none", err, srv.Calls().ReleaseLock)
		}
		rec := newRecorder()
		l := newClient(t, srv, "l", rec.option())
		mustAcquire(t, l)
		rec.waitFor(t, client.StateLost)
		if err := l.Close(); err != nil || l.State() != client.StateClosed {
			t.Fatalf("Close of a lost client = %v, state %s", err, l.State())
		}
	})
}

// Close releases whenever the server may hold the lock for the client, not
// only while it leads: here the server granted a TryAcquireLock whose
// answer never arrived, so the client is a follower that the server
// believes leads. After Close the server must hold nothing.
func TestCloseReleasesGrantWhoseAnswerWasLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			return qqtest.Fault{DropResponse: c.Method == qqtest.MethodTryAcquireLock}
		})
		a := newClient(t, srv, "a")
		ctx, cancel := context.WithTimeout(bg, time.Second)
		defer cancel()
		if ok, err := a.TryAcquireLock(ctx); ok || err == nil {
			t.Fatalf("TryAcquireLock = %v, %v; want the lost answer's error", ok, err)
		}
		if holder, held := srv.Holder(service, domain); !held || holder != "a" || a.State() != client.StateFollower {
			t.Fatalf("setup: server holder %q (held %v), client %s; want a granted, client follower", holder, held, a.State())
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if holder, held := srv.Holder(service, domain); held {
			t.Fatalf("after Close the server still holds the lock for %q", holder)
		}
	})
}

// Close releases after a lease that ran out locally: the server's own lease
// outlives the local deadline (by drift and margin at least), so it still
// holds the lock.
func TestCloseReleasesAfterLocalExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, rec := newRecordedClient(t, srv, "a")
		mustAcquire(t, a)
		rec.waitFor(t, client.StateLost)
		if _, held := srv.Holder(service, domain); !held {
			t.Fatal("setup: the server's lease ended with the local one")
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if _, held := srv.Holder(service, domain); held {
			t.Fatal("after Close the server still holds the lock")
		}
	})
}

// Close sends no release when the server said the lock is another's, nor
// after a completed release: nothing may be held then.
func TestCloseSendsNoReleaseWhenNothingMayBeHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a, b := newClient(t, srv, "a"), newClient(t, srv, "b")
		mustAcquire(t, a)
		if ok, err := b.TryAcquireLock(bg); ok || err != nil {
			t.Fatalf("b: %v, %v", ok, err)
		}
		if err := a.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		releases := srv.Calls().ReleaseLock
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if n := srv.Calls().ReleaseLock; n != releases {
			t.Fatalf("Close sent %d releases; nothing could be held", n-releases)
		}
	})
}
