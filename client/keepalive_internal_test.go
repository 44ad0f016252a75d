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

// electionGoroutines counts the goroutines running code of an election
// or of its keep-alive.
func electionGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("client.(*election)")) || bytes.Contains(g, []byte("client.(*keepAlive)")) {
			n++
		}
	}
	return n
}

// Guarantee (docs/performance.md): a held election costs no goroutine
// between its renewals, each renewal runs on the goroutine its timer
// starts, and nothing of keep-alive is left once it ends (StopKeepAlive,
// the end of its context, the end of leadership).
func TestKeepAliveKeepsNoGoroutineBetweenRenewals(t *testing.T) {
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
				if n := electionGoroutines(); n != 0 {
					t.Fatalf("%d goroutines of the election between renewals, want 0", n)
				}
				stub.mu.Lock()
				senders := len(stub.senders)
				renewals := 0
				for _, n := range stub.senders {
					renewals += n
				}
				stub.mu.Unlock()
				if renewals < 5 || senders < 2 {
					t.Fatalf("%d renewals on %d goroutines; want at least 5, on the goroutines of their timers", renewals, senders)
				}

				end(t, q, cancel, srv)
				loopEnded := make(chan struct{})
				go func() { q.e.bg.renewals.Wait(); close(loopEnded) }()
				synctest.Wait()
				select {
				case <-loopEnded:
				default:
					t.Fatal("a renewal timer or renewal outlived the keep-alive")
				}
			})
		})
	}
}
