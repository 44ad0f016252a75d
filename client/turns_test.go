package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
)

// tracingStub records when each call enters and leaves the stub, in order.
type tracingStub struct {
	pb.LeaderElectionServiceClient
	mu     sync.Mutex
	events []string
}

func (s *tracingStub) note(e string) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}

func (s *tracingStub) trace() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.events...)
}

func (s *tracingStub) TryAcquireLock(ctx context.Context, in *pb.TryAcquireLockRequest, opts ...grpc.CallOption) (*pb.TryAcquireLockResponse, error) {
	s.note("acquire>")
	defer s.note("<acquire")
	return s.LeaderElectionServiceClient.TryAcquireLock(ctx, in, opts...)
}

func (s *tracingStub) ReleaseLock(ctx context.Context, in *pb.ReleaseLockRequest, opts ...grpc.CallOption) (*pb.ReleaseLockResponse, error) {
	s.note("release>")
	defer s.note("<release")
	return s.LeaderElectionServiceClient.ReleaseLock(ctx, in, opts...)
}

// A call started while another is out leaves only once that one has
// returned: the server sees a client's calls one at a time, in the order
// the client made them.
func TestCallsLeaveOneAtATimeInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		stub := &tracingStub{LeaderElectionServiceClient: srv.Stub()}
		a := newClient(t, srv, "a", client.WithServerStub(stub))
		mustAcquire(t, a)
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			if c.Method == qqtest.MethodReleaseLock {
				return qqtest.Fault{Delay: 2 * time.Second}
			}
			return qqtest.Fault{}
		})
		released := make(chan error, 1)
		go func() { released <- a.ReleaseLock(bg) }()
		synctest.Wait() // the release is on the wire
		start := time.Now()
		mustAcquire(t, a) // must wait for the release to return, then find the lock free
		if time.Since(start) != 2*time.Second {
			t.Fatalf("TryAcquireLock returned after %v, want after the release's 2s", time.Since(start))
		}
		if err := <-released; err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprint([]string{"acquire>", "<acquire", "release>", "<release", "acquire>", "<acquire"})
		if got := fmt.Sprint(stub.trace()); got != want {
			t.Fatalf("calls reached the stub as %s, want %s", got, want)
		}
	})
}

// A call whose context ends while it waits for its turn returns at once,
// without reaching the server, and gives its place up: the calls after it
// still get their turns.
func TestCallGivesUpItsTurnWhenItsContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		stub := &tracingStub{LeaderElectionServiceClient: srv.Stub()}
		a := newClient(t, srv, "a", client.WithServerStub(stub))
		mustAcquire(t, a)
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			if c.Method == qqtest.MethodReleaseLock {
				return qqtest.Fault{Delay: 2 * time.Second}
			}
			return qqtest.Fault{}
		})
		released := make(chan error, 1)
		go func() { released <- a.ReleaseLock(bg) }()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(bg, time.Second)
		defer cancel()
		start := time.Now()
		if ok, err := a.TryAcquireLock(ctx); ok || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Second {
			t.Fatalf("TryAcquireLock = %v, %v after %v; want false, DeadlineExceeded after 1s", ok, err, time.Since(start))
		}
		if err := <-released; err != nil {
			t.Fatal(err)
		}
		if n := srv.Calls().TryAcquireLock; n != 1 {
			t.Fatalf("%d TryAcquireLock calls reached the server, want only the first", n)
		}
		mustAcquire(t, a)
		if err := a.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
	})
}

// A call still waiting for its turn when the machine abandons it (here a
// second ReleaseLock) returns at once, not when the call ahead of it ends.
func TestAbandonedWaitingCallReturnsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a := newClient(t, srv, "a")
		mustAcquire(t, a)
		srv.SetFaultFunc(firstCallOf(qqtest.MethodReleaseLock, qqtest.Fault{Delay: 3 * time.Second}))
		first := make(chan error, 1)
		go func() { first <- a.ReleaseLock(bg) }()
		synctest.Wait()
		type result struct {
			ok    bool
			err   error
			after time.Duration
		}
		acquired := make(chan result, 1)
		start := time.Now()
		go func() {
			ok, err := a.TryAcquireLock(bg)
			acquired <- result{ok, err, time.Since(start)}
		}()
		synctest.Wait() // waiting for its turn, behind the first release
		second := make(chan error, 1)
		go func() { second <- a.ReleaseLock(bg) }()
		r := <-acquired
		// Both releases end before the test judges, so that a failure
		// leaves no call of the client running.
		for _, done := range []chan error{first, second} {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if r.ok || r.err != nil || r.after != 0 {
			t.Fatalf("TryAcquireLock = %v, %v after %v; want false, nil at once", r.ok, r.err, r.after)
		}
	})
}
