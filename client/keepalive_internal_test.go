package client

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
)

// goroutineStub records which goroutine sends each KeepAlive: the stub is
// called on the goroutine that makes the call.
type goroutineStub struct {
	pb.LeaderElectionServiceClient
	mu      sync.Mutex
	senders map[string]int
}

func (s *goroutineStub) KeepAlive(ctx context.Context, in *pb.KeepAliveRequest, opts ...grpc.CallOption) (*pb.KeepAliveResponse, error) {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := bytes.Cut(buf, []byte(" ["))
	s.mu.Lock()
	s.senders[string(id)]++
	s.mu.Unlock()
	return s.LeaderElectionServiceClient.KeepAlive(ctx, in, opts...)
}

// Guarantee (docs/performance.md): a running keep-alive makes every
// renewal on one goroutine of its own, so the stack that goroutine grows
// through gRPC is reused, and that goroutine ends with the keep-alive
// (StopKeepAlive, the end of its context, the end of leadership), so an
// election that does not renew keeps no goroutine.
func TestKeepAliveRenewsOnOneGoroutineThatEndsWithIt(t *testing.T) {
	ends := map[string]func(t *testing.T, q *QuorumQuestClient, cancel context.CancelFunc, srv *qqtest.Server){
		"StopKeepAlive": func(t *testing.T, q *QuorumQuestClient, _ context.CancelFunc, _ *qqtest.Server) { q.StopKeepAlive() },
		"context ends":  func(t *testing.T, _ *QuorumQuestClient, cancel context.CancelFunc, _ *qqtest.Server) { cancel() },
		"leadership lost": func(t *testing.T, q *QuorumQuestClient, _ context.CancelFunc, srv *qqtest.Server) {
			srv.DropLock("billing", "production")
			time.Sleep(10 * time.Second) // virtual: the next renewal hears the lock is gone
			if q.State() != StateLost {
				t.Fatalf("state %s after the lock was dropped; want lost", q.State())
			}
		},
		"ReleaseLock": func(t *testing.T, q *QuorumQuestClient, _ context.CancelFunc, _ *qqtest.Server) {
			_ = q.ReleaseLock(context.Background())
		},
	}
	for name, end := range ends {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := qqtest.NewUnstartedServer()
				stub := &goroutineStub{LeaderElectionServiceClient: srv.Stub(), senders: map[string]int{}}
				q, err := NewQuorumQuestClient("billing", "production", 15*time.Second, "",
					WithServerStub(stub), WithClientID("a"))
				if err != nil {
					t.Fatal(err)
				}
				defer q.Close()
				if ok, err := q.TryAcquireLock(context.Background()); !ok || err != nil {
					t.Fatalf("TryAcquireLock: %v, %v", ok, err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if err := q.StartKeepAlive(ctx); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Minute) // virtual: about a dozen renewals
				synctest.Wait()
				stub.mu.Lock()
				senders := len(stub.senders)
				renewals := 0
				for _, n := range stub.senders {
					renewals += n
				}
				stub.mu.Unlock()
				if renewals < 5 || senders != 1 {
					t.Fatalf("%d renewals on %d goroutines; want at least 5 on one", renewals, senders)
				}

				end(t, q, cancel, srv)
				loopEnded := make(chan struct{})
				go func() { q.e.renewals.Wait(); close(loopEnded) }()
				synctest.Wait()
				select {
				case <-loopEnded:
				default:
					t.Fatal("the keep-alive's goroutine outlived the keep-alive")
				}
			})
		})
	}
}
