package client

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Guarantee (Close's doc): Close returns once no goroutine of the client is
// left, including the callbacks an election runs on goroutines of their
// own. Each case starts one such callback and holds it at its start, then
// closes the client: Close must wait for the callback, and return once it
// is let go. Without the wait, Close returns while the callback is held.
// (A caller's context ending and a call's deadline end the call through
// the context package itself, with no callback of the election.)
func TestCloseWaitsForStartedCallbacks(t *testing.T) {
	cases := map[string]func(t *testing.T, q *QuorumQuestClient, srv *qqtest.Server){
		"keep-alive's context ends": func(t *testing.T, q *QuorumQuestClient, _ *qqtest.Server) {
			q.StopKeepAlive() // Campaign's keep-alive outlives every context
			ctx, cancel := context.WithCancel(context.Background())
			if err := q.StartKeepAlive(ctx); err != nil {
				t.Fatal(err)
			}
			cancel()
		},
		"a Watch's context ends": func(t *testing.T, q *QuorumQuestClient, _ *qqtest.Server) {
			ctx, cancel := context.WithCancel(context.Background())
			q.Watch(ctx)
			cancel()
		},
		"the lease expires": func(t *testing.T, q *QuorumQuestClient, _ *qqtest.Server) {
			q.StopKeepAlive()
			time.Sleep(15 * time.Second) // virtual: the expiry alarm fires
		},
		"Close ends a release in flight": func(t *testing.T, q *QuorumQuestClient, srv *qqtest.Server) {
			srv.Pause()
			go q.ReleaseLock(context.Background())
			synctest.Wait() // sent, and held by the pause
			// Close's own end of the election's lifetime starts the
			// release's callback, which is held before Close waits.
		},
	}
	for name, start := range cases {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv := qqtest.NewUnstartedServer()
				defer srv.Resume()
				q, err := NewQuorumQuestClient("billing", "production", 15*time.Second, "",
					WithServerStub(srv.Stub()), WithClientID("a"), WithCloseTimeout(time.Second))
				if err != nil {
					t.Fatal(err)
				}
				if err := q.Campaign(context.Background()); err != nil {
					t.Fatal(err)
				}
				held, release := make(chan struct{}, 16), make(chan struct{})
				var once sync.Once
				letGo := func() { once.Do(func() { close(release) }) }
				defer letGo() // also when the test fails: the bubble must end
				hold := func() {
					held <- struct{}{}
					<-release
				}
				q.e.onCallback.Store(&hold)
				start(t, q, srv)
				closed := make(chan error, 1)
				go func() { closed <- q.Close() }()
				// Virtual time, past every bound of Close's own work (its
				// release to a paused server ends at the close timeout).
				time.Sleep(time.Minute)
				if len(held) == 0 {
					t.Fatal("no callback started")
				}
				select {
				case <-closed:
					t.Fatal("Close returned while a callback it started or found started was still held")
				default:
				}
				letGo()
				<-closed // its error is the paused server's, where there is one
			})
		})
	}
}

// stuckStub never answers TryAcquireLock, whatever its context says, until
// unstuck: a stub (or interceptor) that ignores cancellation.
type stuckStub struct {
	pb.LeaderElectionServiceClient
	unstuck chan struct{}
}

func (s *stuckStub) TryAcquireLock(context.Context, *pb.TryAcquireLockRequest, ...grpc.CallOption) (*pb.TryAcquireLockResponse, error) {
	<-s.unstuck
	return nil, status.Error(codes.Unavailable, "unstuck")
}

// Close waits for callbacks that have started, not for ones that might:
// the callback that would end a call when its caller's context ends is
// unregistered by Close, so a call stuck in a stub that ignores
// cancellation, under a context that never ends, does not hold Close up.
func TestCloseDoesNotWaitForACallersContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stub := &stuckStub{LeaderElectionServiceClient: qqtest.NewUnstartedServer().Stub(), unstuck: make(chan struct{})}
		defer close(stub.unstuck)
		q, err := NewQuorumQuestClient("billing", "production", 15*time.Second, "", WithServerStub(stub), WithClientID("a"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go q.TryAcquireLock(ctx)
		synctest.Wait()
		closed := make(chan error, 1)
		go func() { closed <- q.Close() }()
		time.Sleep(time.Minute) // virtual
		select {
		case <-closed:
		default:
			t.Fatal("Close waits for a call stuck in its stub, under a context that never ends")
		}
	})
}
