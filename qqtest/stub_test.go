package qqtest_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc/codes"
)

var _ pb.LeaderElectionServiceClient = qqtest.NewUnstartedServer().Stub()

func TestStubDoneContextIsNotSent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := s.Stub().TryAcquireLock(ctx, acquireReq("a", 10))
		wantCode(t, err, codes.Canceled)

		ctx = withTimeout(t, time.Second)
		time.Sleep(2 * time.Second) // past the deadline, so its timer has fired
		_, err = s.Stub().KeepAlive(ctx, &pb.KeepAliveRequest{Service: svc, Domain: dom, ClientId: "a"})
		wantCode(t, err, codes.DeadlineExceeded)

		if got := s.Calls().Total(); got != 0 {
			t.Errorf("Calls().Total() = %d, want 0: a gRPC stub never sends on a done context", got)
		}
		if got := holder(s); got != "" {
			t.Errorf("holder = %q, want none", got)
		}
	})
}

func TestStubCancelDuringCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		s.Pause()
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(2*time.Second, cancel)
		start := time.Now()
		_, err := s.Stub().TryAcquireLock(ctx, acquireReq("a", 10))
		wantCode(t, err, codes.Canceled)
		if got := time.Since(start); got != 2*time.Second {
			t.Errorf("returned after %v, want when cancelled at 2s", got)
		}
	})
}

func TestStubClonesRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := qqtest.NewUnstartedServer()
		entered := make(chan struct{})
		s.SetFaultFunc(func(qqtest.Call) qqtest.Fault {
			close(entered)
			return qqtest.Fault{Delay: time.Second}
		})
		req := acquireReq("a", 10)
		done := make(chan error)
		go func() {
			_, err := s.Stub().TryAcquireLock(context.Background(), req)
			done <- err
		}()
		<-entered
		// The caller reuses its request while the call is in flight; the
		// server must still see what was sent (and -race must stay quiet).
		req.Ttl = 99
		req.ClientId = "b"
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		id, expires, _ := s.Lease(svc, dom)
		if id != "a" || !expires.Equal(time.Now().Add(10*time.Second)) {
			t.Errorf("holder %q expiring in %v, want a expiring in 10s as sent", id, time.Until(expires))
		}
	})
}
