package client

import (
	"context"
	"log/slog"
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

// holdingHandler is a logger's handler that holds the first record hold
// picks until let go: user code, run by whichever goroutine of the client
// writes the record.
type holdingHandler struct {
	hold    func(slog.Record) bool
	held    chan struct{}
	release chan struct{}
	once    sync.Once
}

func (h *holdingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *holdingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *holdingHandler) WithGroup(string) slog.Handler            { return h }

func (h *holdingHandler) Handle(_ context.Context, r slog.Record) error {
	if !h.hold(r) {
		return nil
	}
	first := false
	h.once.Do(func() { first = true })
	if first {
		h.held <- struct{}{}
		<-h.release
	}
	return nil
}

// transitionOn picks the record of a transition made by event ev.
func transitionOn(ev Event) func(slog.Record) bool {
	return func(r slog.Record) bool {
		found := false
		r.Attrs(func(a slog.Attr) bool {
			found = a.Key == "event" && a.Value.String() == ev.String()
			return !found
		})
		return r.Message == "quorumquest: transition" && found
	}
}

// Guarantee (Close's doc): Close returns once no goroutine of the client is
// left. Each case holds a goroutine the client started in the user's code,
// its logger, then closes the client: Close must wait for that goroutine
// and return once it is let go. (A caller's context ending, or a call's
// deadline, ends the call through the context package, on no goroutine of
// the client's: the renewal that sent it is what is waited for.)
func TestCloseWaitsForItsGoroutinesInUserCode(t *testing.T) {
	cases := map[string]struct {
		hold  func(slog.Record) bool
		start func(t *testing.T, q *QuorumQuestClient, srv *qqtest.Server)
	}{
		"the lease expires": {transitionOn(EventExpire), func(t *testing.T, q *QuorumQuestClient, _ *qqtest.Server) {
			q.StopKeepAlive()
			time.Sleep(15 * time.Second) // virtual: the expiry alarm fires
		}},
		"a renewal times out": {
			func(r slog.Record) bool { return r.Message == "quorumquest: renewal failed; retrying" },
			func(t *testing.T, q *QuorumQuestClient, srv *qqtest.Server) {
				srv.Pause()
				time.Sleep(11 * time.Second) // virtual: a renewal is sent by 5.5 s and times out 5 s later
			}},
		"keep-alive's context ends during a renewal": {transitionOn(EventFailed), func(t *testing.T, q *QuorumQuestClient, srv *qqtest.Server) {
			q.StopKeepAlive() // Campaign's keep-alive outlives every context
			ctx, cancel := context.WithCancel(context.Background())
			if err := q.StartKeepAlive(ctx); err != nil {
				t.Fatal(err)
			}
			srv.Pause()
			time.Sleep(6 * time.Second) // virtual: the first renewal is sent, and held
			if q.State() != StateRefreshing {
				t.Fatalf("state %s; want a renewal in flight", q.State())
			}
			cancel()
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := &holdingHandler{hold: c.hold, held: make(chan struct{}, 1), release: make(chan struct{})}
				var once sync.Once
				letGo := func() { once.Do(func() { close(h.release) }) }
				defer letGo() // also when the test fails: the bubble must end
				srv := qqtest.NewUnstartedServer()
				defer srv.Resume()
				q, err := NewQuorumQuestClient("billing", "production", 15*time.Second, "",
					WithServerStub(srv.Stub()), WithClientID("a"), WithCloseTimeout(time.Second), WithLogger(slog.New(h)))
				if err != nil {
					t.Fatal(err)
				}
				if err := q.Campaign(context.Background()); err != nil {
					t.Fatal(err)
				}
				c.start(t, q, srv)
				synctest.Wait()
				if len(h.held) == 0 {
					t.Fatal("no goroutine of the client is held in the logger")
				}
				closed := make(chan error, 1)
				go func() { closed <- q.Close() }()
				// Virtual time, past every bound of Close's own work (its
				// release to a paused server ends at the close timeout).
				time.Sleep(time.Minute)
				select {
				case <-closed:
					t.Fatal("Close returned while a goroutine it started was still in the logger")
				default:
				}
				letGo()
				<-closed // its error is the paused server's, where there is one
			})
		})
	}
}

// Guarantee (Close's doc), for the callbacks of contexts (a Watch's or a
// keep-alive's context ending, Close cutting a release short), which run
// no user code: every one is started through the election's background,
// and Close waits for those that started. The case holds one at its start.
func TestCloseWaitsForStartedCallbacks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, err := NewQuorumQuestClient("billing", "production", 15*time.Second, "",
			WithServerStub(qqtest.NewUnstartedServer().Stub()), WithClientID("a"))
		if err != nil {
			t.Fatal(err)
		}
		held, release := make(chan struct{}, 1), make(chan struct{})
		ctx, cancel := context.WithCancel(context.Background())
		q.e.mu.lock()
		q.e.bg.afterFunc(ctx, func() {
			held <- struct{}{}
			<-release
		})
		q.e.mu.unlock()
		cancel()
		<-held
		closed := make(chan error, 1)
		go func() { closed <- q.Close() }()
		time.Sleep(time.Minute) // virtual
		select {
		case <-closed:
			close(release)
			t.Fatal("Close returned while a callback it started was still held")
		default:
		}
		close(release)
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
	})
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
