package qqtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/pb"
)

// The lock most tests fight over.
const (
	svc = "billing"
	dom = "eu-west"
)

func acquireReq(id string, ttl int32) *pb.TryAcquireLockRequest {
	return &pb.TryAcquireLockRequest{Service: svc, Domain: dom, ClientId: id, Ttl: ttl}
}

// acquire calls TryAcquireLock on the shared lock and fails the test on a
// gRPC error.
func acquire(t *testing.T, c pb.LeaderElectionServiceClient, id string, ttl int32) bool {
	t.Helper()
	resp, err := c.TryAcquireLock(t.Context(), acquireReq(id, ttl))
	if err != nil {
		t.Fatalf("TryAcquireLock(%s): %v", id, err)
	}
	return resp.GetIsLeader()
}

// keepAlive calls KeepAlive on the shared lock and returns the lease length.
func keepAlive(t *testing.T, c pb.LeaderElectionServiceClient, id string, ttl int32) time.Duration {
	t.Helper()
	resp, err := c.KeepAlive(t.Context(), &pb.KeepAliveRequest{Service: svc, Domain: dom, ClientId: id, Ttl: ttl})
	if err != nil {
		t.Fatalf("KeepAlive(%s): %v", id, err)
	}
	return resp.GetLeaseLength().AsDuration()
}

// release calls ReleaseLock on the shared lock.
func release(t *testing.T, c pb.LeaderElectionServiceClient, id string) {
	t.Helper()
	if _, err := c.ReleaseLock(t.Context(), &pb.ReleaseLockRequest{Service: svc, Domain: dom, ClientId: id}); err != nil {
		t.Fatalf("ReleaseLock(%s): %v", id, err)
	}
}

// holder is the current holder's id, or "" for a free lock.
func holder(s interface {
	Holder(string, string) (string, bool)
}) string {
	id, _ := s.Holder(svc, dom)
	return id
}

// withTimeout is context.WithTimeout on the test's context, cancelled at the
// end of the test.
func withTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}
