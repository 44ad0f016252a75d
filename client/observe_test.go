package client_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/observe"
	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
)

// Several hooks each see every transition once, in the machine's order.
func TestHooksSeeEveryTransitionInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		srv := qqtest.NewUnstartedServer()
		r1, r2 := newRecorder(), newRecorder()
		a := newClient(t, srv, "a", r1.option(), r2.option())
		for range 5 {
			mustAcquire(t, a)
			if err := a.ReleaseLock(bg); err != nil {
				t.Fatal(err)
			}
		}
		a.Close()
		want := []client.State{client.StateFollower}
		for range 5 {
			want = append(want, client.StateAcquiring, client.StateLeader, client.StateFollower)
		}
		want = append(want, client.StateClosed)
		for i, r := range []*recorder{r1, r2} {
			if got := r.path(); !samePath(got, want...) {
				t.Fatalf("hook %d saw %v, want %v", i, got, want)
			}
			last := start
			for _, tr := range r.all() {
				if tr.At.Before(last) || tr.At.After(time.Now()) {
					t.Fatalf("hook %d: transition %+v at %v, out of time order or not when it was made (from %v to %v)", i, tr, tr.At, last, time.Now())
				}
				last = tr.At
			}
		}
	})
}

// A hook that panics is recovered and logged; the machine and the other
// hooks go on.
func TestPanickingHookBreaksNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		var logMu sync.Mutex
		logger := slog.New(slog.NewTextHandler(lockedWriter{&logs, &logMu}, nil))
		srv := qqtest.NewUnstartedServer()
		rec := newRecorder()
		a := newClient(t, srv, "a", client.WithLogger(logger),
			client.WithTransitionHook(func(client.Transition) { panic("hook bug") }), rec.option())
		mustAcquire(t, a)
		if err := a.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		mustAcquire(t, a)
		if got := rec.path(); len(got) != 6 {
			t.Fatalf("the healthy hook saw %v", got)
		}
		logMu.Lock()
		defer logMu.Unlock()
		if n := strings.Count(logs.String(), "hook bug"); n != 5 {
			t.Fatalf("%d panics logged, want 5:\n%s", n, logs.String())
		}
	})
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// A hook that blocks delays only itself: the machine keeps leading and
// renewing, and the hook later receives everything it missed, in order.
func TestBlockingHookStallsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		unblock := make(chan struct{})
		var mu sync.Mutex
		var blocked []client.Transition
		rec := newRecorder()
		a := newClient(t, srv, "a", rec.option(), client.WithTransitionHook(func(tr client.Transition) {
			mu.Lock()
			blocked = append(blocked, tr)
			first := len(blocked) == 1
			mu.Unlock()
			if first {
				<-unblock
			}
		}))
		mustAcquire(t, a)
		mustStartKeepAlive(t, a)
		time.Sleep(3 * ttl)
		if !a.IsLeader() || srv.Calls().KeepAlive < 8 {
			t.Fatalf("machine stalled: leader %v after %d renewals", a.IsLeader(), srv.Calls().KeepAlive)
		}
		mu.Lock()
		if len(blocked) != 1 {
			t.Fatalf("blocked hook ran %d times", len(blocked))
		}
		mu.Unlock()
		close(unblock)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		all := rec.all()
		if len(blocked) != len(all) {
			t.Fatalf("blocked hook caught up with %d of %d transitions", len(blocked), len(all))
		}
		for i := range all {
			if blocked[i] != all[i] {
				t.Fatalf("transition %d: the blocked hook got %+v, the machine made %+v", i, blocked[i], all[i])
			}
		}
	})
}

type callbackLog struct {
	mu  sync.Mutex
	got []string
}

func (c *callbackLog) OnLeaderElected(isLeader bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if isLeader {
		c.got = append(c.got, "elected")
	} else {
		c.got = append(c.got, "not-elected")
	}
}

func (c *callbackLog) OnLeaderLost() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, "lost")
}

func TestCallbacks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		cb := &callbackLog{}
		a, b := newClient(t, srv, "a"), newClient(t, srv, "b", client.WithCallbacks(cb))
		mustAcquire(t, a)
		if ok, _ := b.TryAcquireLock(bg); ok {
			t.Fatal("b acquired a held lock")
		}
		if err := a.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		mustAcquire(t, b)
		mustAcquire(t, b) // a renewal: no callback
		if err := b.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		mustAcquire(t, b)
		b.Close()
		want := "not-elected elected lost elected lost"
		if got := strings.Join(cb.got, " "); got != want {
			t.Fatalf("callbacks %q, want %q", got, want)
		}
	})
}

func TestWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		// No hook (newClient adds one): the watcher alone must get the time.
		a, err := client.NewQuorumQuestClient(service, domain, ttl, "in-process", client.WithServerStub(srv.Stub()), client.WithClientID("a"))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		ctx, cancel := context.WithCancel(bg)
		w := a.Watch(ctx)
		time.Sleep(time.Minute) // virtual: the transitions' time is not the bubble's start
		mustAcquire(t, a)
		if tr := <-w; tr.From != client.StateFollower || tr.To != client.StateAcquiring || !tr.At.Equal(time.Now()) {
			t.Fatalf("first transition %+v, want follower to acquiring, now (%v)", tr, time.Now())
		}
		if tr := <-w; tr.To != client.StateLeader {
			t.Fatalf("second transition %+v", tr)
		}
		cancel()
		synctest.Wait()
		if _, open := <-w; open {
			t.Fatal("Watch channel open after its context ended")
		}
		// A second watcher sees the close, then its channel closes.
		w2 := a.Watch(bg)
		a.Close()
		var last client.Transition
		for tr := range w2 {
			last = tr
		}
		if last.To != client.StateClosed {
			t.Fatalf("last transition before the channel closed: %+v", last)
		}
		if _, open := <-a.Watch(bg); open {
			t.Fatal("Watch after Close returned an open channel")
		}
	})
}

// A reader that falls behind loses the oldest transitions, never the
// newest, and never stalls the machine.
func TestSlowWatcherMissesOldestOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := qqtest.NewUnstartedServer()
		a := newClient(t, srv, "a")
		w := a.Watch(bg)
		for range client.WatchBuffer { // 3 transitions each: more than the buffer holds
			mustAcquire(t, a)
			if err := a.ReleaseLock(bg); err != nil {
				t.Fatal(err)
			}
		}
		var got []client.Transition
		for len(got) < client.WatchBuffer {
			got = append(got, <-w)
		}
		if last := got[len(got)-1]; last.From != client.StateLeader || last.To != client.StateFollower {
			t.Fatalf("newest transition lost: last delivered %+v", last)
		}
		select {
		case tr := <-w:
			t.Fatalf("more than WatchBuffer transitions buffered: %+v", tr)
		default:
		}
	})
}

// Many clients can share one connection; Close leaves it to its owner.
func TestWithConnShared(t *testing.T) {
	srv := qqtest.NewUnstartedServer()
	conn := testutil.BufconnConn(t, srv)
	var clients []*client.QuorumQuestClient
	for _, d := range []string{"d1", "d2", "d3"} {
		c, err := client.NewQuorumQuestClient(service, d, ttl, "", client.WithConn(conn), client.WithTransitionHook(recordTransitions))
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		mustAcquire(t, c)
	}
	for _, c := range clients {
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pb.NewLeaderElectionServiceClient(conn).ReleaseLock(bg, &pb.ReleaseLockRequest{Service: service, Domain: "d1", ClientId: "x"}); err != nil {
		t.Fatalf("shared connection unusable after the clients closed: %v", err)
	}
}

func TestWithDialOptions(t *testing.T) {
	srv := qqtest.NewServer(t)
	addr := srv.Addr()
	var intercepted atomic.Int32
	count := grpc.WithUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		intercepted.Add(1)
		return invoker(ctx, method, req, reply, cc, opts...)
	})
	a, err := client.NewQuorumQuestClient(service, domain, ttl, addr, client.WithDialOptions(count))
	if err != nil {
		t.Fatal(err)
	}
	mustAcquire(t, a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if n := intercepted.Load(); n != 2 { // the acquisition and Close's release
		t.Fatalf("interceptor saw %d calls, want 2", n)
	}
}

func TestConnectionOptionConflicts(t *testing.T) {
	srv := qqtest.NewUnstartedServer()
	conn := testutil.BufconnConn(t, srv)
	for name, opts := range map[string][]client.Option{
		"stub and conn":         {client.WithServerStub(srv.Stub()), client.WithConn(conn)},
		"dial options and stub": {client.WithServerStub(srv.Stub()), client.WithDialOptions(grpc.WithUserAgent("x"))},
		"dial options and conn": {client.WithConn(conn), client.WithDialOptions(grpc.WithUserAgent("x"))},
		"nil conn":              {client.WithConn(nil)},
		"zero retry interval":   {client.WithRetryInterval(0)},
		"nil callbacks":         {client.WithCallbacks(nil)},
	} {
		c, err := client.NewQuorumQuestClient(service, domain, ttl, "x", opts...)
		if c != nil || !errors.Is(err, client.ErrInvalidOption) {
			t.Errorf("%s: %v, want ErrInvalidOption", name, err)
		}
	}
}

// timeObserver records when each transition an internal observer was
// given was made.
type timeObserver struct{ at []time.Time }

func (o *timeObserver) Transition(t observe.Transition) { o.at = append(o.at, t.At) }
func (o *timeObserver) GaveUp()                         {}
func (o *timeObserver) Close()                          {}

// An internal observer (otelmetrics) is given each transition with the
// time it was made, even with no hook or watcher that needs the time.
func TestObserversSeeWhenTransitionsWereMade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &timeObserver{}
		install := observe.ClientOption(func(observe.Identity) (observe.Observer, error) { return o, nil }).(client.Option)
		a, err := client.NewQuorumQuestClient(service, domain, ttl, "in-process",
			client.WithServerStub(qqtest.NewUnstartedServer().Stub()), client.WithClientID("a"), install)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		time.Sleep(time.Minute) // virtual: the transitions' time is not the bubble's start
		mustAcquire(t, a)
		if len(o.at) != 2 || !o.at[0].Equal(time.Now()) || !o.at[1].Equal(time.Now()) {
			t.Fatalf("the observer saw transitions at %v, want two at %v", o.at, time.Now())
		}
	})
}

// gaveUpObserver counts what an internal observer is told beyond
// transitions.
type gaveUpObserver struct{ gaveUp, transitions int }

func (o *gaveUpObserver) Transition(observe.Transition) { o.transitions++ }
func (o *gaveUpObserver) GaveUp()                       { o.gaveUp++ }
func (o *gaveUpObserver) Close()                        {}

// A ReleaseLock with nothing to release (a follower stops trying) shows in
// no transition, so an internal observer is told of it apart, once per
// call; a release of a held lock is a transition and nothing more.
func TestObserversAreToldOfAReleaseWithNothingToRelease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		o := &gaveUpObserver{}
		install := observe.ClientOption(func(observe.Identity) (observe.Observer, error) { return o, nil }).(client.Option)
		a := newClient(t, qqtest.NewUnstartedServer(), "a", install)
		if err := a.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		if o.gaveUp != 1 || o.transitions != 0 {
			t.Fatalf("a follower's release: %d gave-ups and %d transitions observed, want 1 and 0", o.gaveUp, o.transitions)
		}
		mustAcquire(t, a)
		if err := a.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		if o.gaveUp != 1 {
			t.Fatalf("a leader's release was also observed as giving up (%d)", o.gaveUp)
		}
	})
}

// Every kind of observer is given the time of each transition, whichever
// others a client has: a hook with a watcher, and a hook with an internal
// observer (otelmetrics).
func TestObserversTogetherSeeWhenTransitionsWereMade(t *testing.T) {
	for _, withWatch := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			var mu sync.Mutex
			var seen []time.Time // by the hook, and the watcher or the observer
			hook := client.WithTransitionHook(func(tr client.Transition) {
				mu.Lock()
				defer mu.Unlock()
				seen = append(seen, tr.At)
			})
			o := &timeObserver{}
			opts := []client.Option{client.WithServerStub(qqtest.NewUnstartedServer().Stub()), client.WithClientID("a"), hook}
			if !withWatch {
				opts = append(opts, observe.ClientOption(func(observe.Identity) (observe.Observer, error) { return o, nil }).(client.Option))
			}
			a, err := client.NewQuorumQuestClient(service, domain, ttl, "in-process", opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			ctx, cancel := context.WithCancel(bg)
			defer cancel()
			var watched <-chan client.Transition
			if withWatch {
				watched = a.Watch(ctx)
			}
			time.Sleep(time.Minute) // virtual: the transitions' time is not the bubble's start
			mustAcquire(t, a)
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			if withWatch {
				seen = append(seen, (<-watched).At, (<-watched).At)
			}
			seen = append(seen, o.at...)
			now := time.Now()
			if len(seen) == 4 && !slices.ContainsFunc(seen, func(at time.Time) bool { return !at.Equal(now) }) {
				return
			}
			t.Errorf("watcher %v: the observers saw transitions at %v, want four at %v", withWatch, seen, time.Now())
		})
	}
}
