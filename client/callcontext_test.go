package client_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Each call must end at its own deadline, however many calls came before
// it, whether they succeeded or timed out.
func TestRequestTimeoutBoundsEveryCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a := newClient(t, srv, "a", client.WithRequestTimeout(time.Second))
		hang := func(round int) {
			t.Helper()
			srv.Pause()
			defer srv.Resume()
			start := time.Now()
			// ok is whether the lease of the round before still runs.
			_, err := a.TryAcquireLock(bg)
			if status.Code(err) != codes.DeadlineExceeded || time.Since(start) != time.Second {
				t.Fatalf("round %d: TryAcquireLock: %v after %v; want DeadlineExceeded after 1s", round, err, time.Since(start))
			}
		}
		for round := range 3 {
			hang(round) // a timed-out call ...
			for range 3 {
				mustAcquire(t, a) // ... leaves nothing behind for the next
			}
			// The call timer, left set by the last call's deadline, fires
			// half-way through the next call: it must end that call at its
			// own deadline, neither then nor never.
			time.Sleep(time.Second / 2)
			hang(round)
			time.Sleep(2 * time.Second) // a stale timer must not end the next call early
		}
	})
}

// The end of the caller's context ends the call at once, and only that call.
func TestCancellingTheCallerEndsTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a := newClient(t, srv, "a", client.WithRequestTimeout(time.Hour))
		srv.Pause()
		ctx, cancel := context.WithCancel(bg)
		time.AfterFunc(time.Second, cancel)
		start := time.Now()
		ok, err := a.TryAcquireLock(ctx)
		if ok || !errors.Is(err, context.Canceled) || time.Since(start) != time.Second {
			t.Fatalf("TryAcquireLock = %v, %v after %v; want false, context.Canceled after 1s", ok, err, time.Since(start))
		}
		srv.Resume()
		// The context the call was cancelled through is not the next call's.
		mustAcquire(t, a)
		ctx, cancel = context.WithCancel(bg)
		mustAcquireWith(t, a, ctx)
		cancel() // after the call: cancels nothing of the next one
		mustAcquire(t, a)
	})
}

func mustAcquireWith(t *testing.T, c *client.QuorumQuestClient, ctx context.Context) {
	t.Helper()
	ok, err := c.TryAcquireLock(ctx)
	if err != nil || !ok {
		t.Fatalf("TryAcquireLock = %v, %v; want true, nil", ok, err)
	}
}

// Over real gRPC (loopback TCP), every TryAcquireLock and KeepAlive reaches the server with
// a deadline (the grpc-timeout header) no later than the request timeout,
// and with the metadata of the context the caller gave.
func TestCallsReachTheServerWithDeadlineAndCallerValues(t *testing.T) {
	type seen struct {
		method   string
		deadline time.Duration // left when the server saw the call; 0 if none
		tag      string
	}
	var mu sync.Mutex
	var calls []seen
	five := make(chan struct{})
	record := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		s := seen{method: info.FullMethod}
		if d, ok := ctx.Deadline(); ok {
			s.deadline = time.Until(d)
		}
		if md, ok := metadata.FromIncomingContext(ctx); ok && len(md.Get("tag")) == 1 {
			s.tag = md.Get("tag")[0]
		}
		mu.Lock()
		calls = append(calls, s)
		if len(calls) == 5 {
			close(five)
		}
		mu.Unlock()
		return handler(ctx, req)
	}
	srv := qqtest.NewServer(t, qqtest.WithGRPCServerOptions(grpc.UnaryInterceptor(record)))
	const timeout = 3 * time.Second
	a, err := client.NewQuorumQuestClient(service, domain, ttl, srv.Addr(),
		client.WithRequestTimeout(timeout), client.WithKeepAliveInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	mustAcquireWith(t, a, metadata.AppendToOutgoingContext(bg, "tag", "acquire"))
	mustAcquireWith(t, a, metadata.AppendToOutgoingContext(bg, "tag", "renew"))
	if err := a.StartKeepAlive(metadata.AppendToOutgoingContext(bg, "tag", "keep-alive")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-five:
	case <-time.After(time.Minute):
		t.Fatal("fewer than 5 calls reached the server in a minute")
	}
	a.StopKeepAlive()
	mu.Lock()
	defer mu.Unlock()
	want := []string{"acquire", "renew", "keep-alive", "keep-alive", "keep-alive"}
	for i, c := range calls[:5] {
		if c.deadline <= 0 || c.deadline > timeout {
			t.Errorf("call %d (%s): deadline %v left at the server, want in (0, %v]", i, c.method, c.deadline, timeout)
		}
		if c.tag != want[i] {
			t.Errorf("call %d (%s): metadata tag %q, want %q", i, c.method, c.tag, want[i])
		}
	}
}
