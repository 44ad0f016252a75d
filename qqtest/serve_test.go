package qqtest_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
)

// Real-network tests run outside synctest: sockets and gRPC's own goroutines
// are not durably blocked, so virtual time cannot drive them.

// dial returns a gRPC client of addr, closed at the end of the test.
func dial(t *testing.T, addr string) pb.LeaderElectionServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewLeaderElectionServiceClient(conn)
}

// roundTrip exercises every method through a real gRPC client of s.
func roundTrip(t *testing.T, s *qqtest.Server, c pb.LeaderElectionServiceClient) {
	t.Helper()
	if !acquire(t, c, "a", 10) {
		t.Fatal("a: is_leader = false on a free lock")
	}
	if acquire(t, c, "b", 10) {
		t.Fatal("b: is_leader = true on a's lock")
	}
	if got := keepAlive(t, c, "a", 10); got != 10*time.Second {
		t.Errorf("a: lease_length = %v, want 10s", got)
	}
	if got := keepAlive(t, c, "b", 10); got != -time.Second {
		t.Errorf("b: lease_length = %v, want -1s", got)
	}
	release(t, c, "a")
	if got := holder(s); got != "" {
		t.Errorf("after release: holder = %q", got)
	}
	want := qqtest.CallCounts{TryAcquireLock: 2, KeepAlive: 2, ReleaseLock: 1}
	if got := s.Calls(); got != want {
		t.Errorf("Calls() = %+v, want %+v", got, want)
	}
}

// NewServer serves every method over real gRPC, with the same semantics as
// the Stub.
func TestNewServerRoundTrip(t *testing.T) {
	s := qqtest.NewServer(t)
	roundTrip(t, s, dial(t, s.Addr()))
}

// An unstarted server serves the same over the project's bufconn helper.
func TestBufconnRoundTrip(t *testing.T) {
	s := qqtest.NewUnstartedServer()
	roundTrip(t, s, pb.NewLeaderElectionServiceClient(testutil.BufconnConn(t, s)))
}

func TestFaultsOverGRPC(t *testing.T) {
	s := qqtest.NewServer(t)
	c := dial(t, s.Addr())

	s.SetFaultFunc(only(qqtest.MethodTryAcquireLock, qqtest.Fault{Code: codes.ResourceExhausted}))
	_, err := c.TryAcquireLock(t.Context(), acquireReq("a", 10))
	wantCode(t, err, codes.ResourceExhausted)

	s.SetFaultFunc(only(qqtest.MethodTryAcquireLock, qqtest.Fault{DropResponse: true}))
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = c.TryAcquireLock(ctx, acquireReq("a", 10))
	wantCode(t, err, codes.DeadlineExceeded)
	if got := holder(s); got != "a" {
		t.Errorf("lost response over gRPC: holder = %q, want a", got)
	}
}

// An unstarted server has no address; Serve serves a listener until Close,
// then returns nil; a server serves once.
func TestServeAndClose(t *testing.T) {
	s := qqtest.NewUnstartedServer()
	if got := s.Addr(); got != "" {
		t.Fatalf("unstarted server: Addr() = %q, want \"\"", got)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(lis) }()
	c := dial(t, lis.Addr().String())
	if !acquire(t, c, "a", 10) { // waits for the server to be ready
		t.Fatal("a: is_leader = false on a free lock")
	}
	if got := s.Addr(); got != lis.Addr().String() {
		t.Errorf("Addr() = %q, want %q", got, lis.Addr())
	}
	if err := s.Start(); !errors.Is(err, qqtest.ErrServerStarted) {
		t.Errorf("Start while serving: %v, want ErrServerStarted", err)
	}
	s.Close()
	if err := <-served; err != nil {
		t.Errorf("Serve after Close returned %v, want nil", err)
	}
	s.Close() // idempotent
	if got := s.Addr(); got != "" {
		t.Errorf("closed server: Addr() = %q, want \"\"", got)
	}
	if err := s.Start(); !errors.Is(err, qqtest.ErrServerStarted) {
		t.Errorf("Start after Close: %v, want ErrServerStarted", err)
	}
	// The lock state outlives the network.
	if got := holder(s); got != "a" {
		t.Errorf("after Close: holder = %q, want a", got)
	}
}

// Close does not hang on a call the server will never answer.
func TestCloseUnblocksDroppedCall(t *testing.T) {
	s := qqtest.NewUnstartedServer()
	arrived := make(chan struct{})
	s.SetFaultFunc(func(qqtest.Call) qqtest.Fault {
		close(arrived)
		return qqtest.Fault{DropRequest: true}
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.Addr())
	done := make(chan error)
	go func() {
		// No deadline: only Close can end this call.
		_, err := c.TryAcquireLock(context.Background(), acquireReq("a", 10))
		done <- err
	}()
	<-arrived
	s.Close()
	if err := <-done; err == nil {
		t.Fatal("dropped call succeeded after Close")
	}
}
