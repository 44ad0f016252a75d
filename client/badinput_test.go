package client_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/pb"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc"
)

// These tests run in real time, not under synctest: a machine left wedged
// (its mutex held by a panicking call) blocks on a mutex, which synctest
// does not count as blocked, so only a real clock can bound them.

// bounded runs f and fails the test if it panics or takes longer than 10s.
func bounded(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		f()
	}()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case p := <-done:
		if p != nil {
			t.Fatalf("%s panicked: %v", what, p)
		}
	case <-timer.C:
		t.Fatalf("%s did not return within 10s", what)
	}
}

// newBoundedClient is newClient for tests in real time: its cleanup fails
// the test, instead of hanging it, when Close does not return.
func newBoundedClient(t *testing.T, srv *qqtest.Server, id string, opts ...client.Option) *client.QuorumQuestClient {
	t.Helper()
	base := []client.Option{
		client.WithServerStub(srv.Stub()),
		client.WithClientID(id),
		client.WithTransitionHook(recordTransitions),
	}
	c, err := client.NewQuorumQuestClient(service, domain, ttl, "in-process", append(base, opts...)...)
	if err != nil {
		t.Fatalf("NewQuorumQuestClient: %v", err)
	}
	t.Cleanup(func() { bounded(t, "Close", func() { _ = c.Close() }) })
	return c
}

// A method given a nil context answers ErrInvalidArgument without panicking
// and leaves the machine as it was: the client still acquires, releases and
// closes. Each public method taking a context has its case.
func TestNilContextIsRefused(t *testing.T) {
	var nilCtx context.Context // a nil context.Context, as a careless caller passes it
	cases := []struct {
		name string
		call func(c *client.QuorumQuestClient) error
	}{
		{"TryAcquireLock", func(c *client.QuorumQuestClient) error {
			ok, err := c.TryAcquireLock(nilCtx)
			if ok {
				return errors.New("reported leadership")
			}
			return err
		}},
		{"ReleaseLock", func(c *client.QuorumQuestClient) error { return c.ReleaseLock(nilCtx) }},
		{"StartKeepAlive", func(c *client.QuorumQuestClient) error { return c.StartKeepAlive(nilCtx) }},
		{"Campaign", func(c *client.QuorumQuestClient) error { return c.Campaign(nilCtx) }},
		{"Run", func(c *client.QuorumQuestClient) error {
			return c.Run(nilCtx, func(context.Context) {})
		}},
	}
	for _, tc := range cases {
		for _, leading := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/leading=%v", tc.name, leading), func(t *testing.T) {
				srv := qqtest.NewUnstartedServer()
				c := newBoundedClient(t, srv, "a")
				if leading {
					mustAcquire(t, c)
				}
				before := c.State()
				var err error
				bounded(t, tc.name+"(nil)", func() { err = tc.call(c) })
				if !errors.Is(err, client.ErrInvalidArgument) {
					t.Fatalf("%s(nil) = %v, want ErrInvalidArgument", tc.name, err)
				}
				checkStillWorks(t, c, srv, before)
			})
		}
	}
}

// Watch has no error to return: a nil context gets a closed channel, and
// the machine goes on.
func TestWatchNilContextIsClosedChannel(t *testing.T) {
	srv := qqtest.NewUnstartedServer()
	c := newBoundedClient(t, srv, "a")
	var ch <-chan client.Transition
	//lint:ignore SA1012 a nil context is the bad input under test
	bounded(t, "Watch(nil)", func() { ch = c.Watch(nil) })
	select {
	case tr, ok := <-ch:
		if ok {
			t.Fatalf("Watch(nil) delivered %+v; want a closed channel", tr)
		}
	default:
		t.Fatal("Watch(nil) returned an open channel")
	}
	checkStillWorks(t, c, srv, client.StateFollower)
}

// Run refuses a nil lead function the same way.
func TestRunNilLeadIsRefused(t *testing.T) {
	srv := qqtest.NewUnstartedServer()
	c := newBoundedClient(t, srv, "a")
	var err error
	bounded(t, "Run(ctx, nil)", func() { err = c.Run(bg, nil) })
	if !errors.Is(err, client.ErrInvalidArgument) {
		t.Fatalf("Run(ctx, nil) = %v, want ErrInvalidArgument", err)
	}
	checkStillWorks(t, c, srv, client.StateFollower)
}

// checkStillWorks asserts the machine is where it was and still serves a
// whole acquire, release, close cycle, with Close returning.
func checkStillWorks(t *testing.T, c *client.QuorumQuestClient, srv *qqtest.Server, want client.State) {
	t.Helper()
	if got := c.State(); got != want {
		t.Fatalf("state %s after the refused call, want %s", got, want)
	}
	bounded(t, "TryAcquireLock", func() { mustAcquire(t, c) })
	bounded(t, "ReleaseLock", func() {
		if err := c.ReleaseLock(bg); err != nil {
			t.Errorf("ReleaseLock: %v", err)
		}
	})
	if _, held := srv.Holder(service, domain); held {
		t.Fatal("lock still held after ReleaseLock")
	}
	bounded(t, "Close", func() {
		if err := c.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	if c.State() != client.StateClosed {
		t.Fatalf("state %s after Close", c.State())
	}
}

// nilCallbacks is a Callbacks whose methods would dereference a nil
// receiver.
type nilCallbacks struct{ n *int }

func (c *nilCallbacks) OnLeaderElected(bool) { *c.n++ }
func (c *nilCallbacks) OnLeaderLost()        { *c.n++ }

// Every option given a nil (or nil-holding) value is refused with
// ErrInvalidOption by NewQuorumQuestClient instead of panicking there or
// later, in grpc or in the machine.
func TestNilOptionValuesAreRefused(t *testing.T) {
	stub := client.WithServerStub(qqtest.NewUnstartedServer().Stub())
	var typedNilStub pb.LeaderElectionServiceClient = (*nilStub)(nil)
	var typedNilCallbacks *nilCallbacks
	cases := []struct {
		name string
		opts []client.Option
	}{
		{"nil Option", []client.Option{nil}},
		{"WithDialOptions(nil)", []client.Option{client.WithDialOptions(nil)}},
		{"WithDialOptions with a nil element", []client.Option{client.WithDialOptions(grpc.WithUserAgent("x"), nil)}},
		{"WithServerStub(nil)", []client.Option{client.WithServerStub(nil)}},
		{"WithServerStub(typed nil)", []client.Option{client.WithServerStub(typedNilStub)}},
		{"WithConn(nil)", []client.Option{client.WithConn(nil)}},
		{"WithTransitionHook(nil)", []client.Option{stub, client.WithTransitionHook(nil)}},
		{"WithCallbacks(nil)", []client.Option{stub, client.WithCallbacks(nil)}},
		{"WithCallbacks(typed nil)", []client.Option{stub, client.WithCallbacks(typedNilCallbacks)}},
		{"WithLogger(nil)", []client.Option{stub, client.WithLogger(nil)}},
		{"WithLogger(zero Logger)", []client.Option{stub, client.WithLogger(&slog.Logger{})}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c *client.QuorumQuestClient
			var err error
			bounded(t, "NewQuorumQuestClient", func() {
				c, err = client.NewQuorumQuestClient(service, domain, ttl, "localhost:5050", tc.opts...)
			})
			if c != nil {
				c.Close()
				t.Fatal("got a client for a nil option value")
			}
			if !errors.Is(err, client.ErrInvalidOption) || !errors.Is(err, client.ErrInvalidConfig) {
				t.Fatalf("err = %v, want ErrInvalidOption (and ErrInvalidConfig)", err)
			}
		})
	}
}

// An empty WithDialOptions is no option at all, not an error.
func TestEmptyDialOptionsAreAccepted(t *testing.T) {
	c, err := client.NewQuorumQuestClient(service, domain, ttl, "localhost:5050", client.WithDialOptions())
	if err != nil {
		t.Fatalf("WithDialOptions(): %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// nilStub implements the service client on a pointer, so that a nil
// *nilStub is a non-nil interface holding nil.
type nilStub struct{ pb.LeaderElectionServiceClient }

// A nil *QuorumQuestClient, or a zero value, is not a client: every method
// returning an error reports ErrInvalidArgument, the others answer as a
// closed client would, and none panics or blocks. Each exported method has
// its case.
func TestUnmadeClientIsRefused(t *testing.T) {
	clients := map[string]*client.QuorumQuestClient{
		"nil":  nil,
		"zero": new(client.QuorumQuestClient),
	}
	refusals := map[string]func(c *client.QuorumQuestClient) error{
		"TryAcquireLock": func(c *client.QuorumQuestClient) error {
			ok, err := c.TryAcquireLock(bg)
			if ok {
				return errors.New("reported leadership")
			}
			return err
		},
		"ReleaseLock":    func(c *client.QuorumQuestClient) error { return c.ReleaseLock(bg) },
		"StartKeepAlive": func(c *client.QuorumQuestClient) error { return c.StartKeepAlive(bg) },
		"Campaign":       func(c *client.QuorumQuestClient) error { return c.Campaign(bg) },
		"Run":            func(c *client.QuorumQuestClient) error { return c.Run(bg, func(context.Context) {}) },
		"Close":          func(c *client.QuorumQuestClient) error { return c.Close() },
	}
	for kind, c := range clients {
		for name, call := range refusals {
			t.Run(kind+"/"+name, func(t *testing.T) {
				var err error
				bounded(t, name, func() { err = call(c) })
				if !errors.Is(err, client.ErrInvalidArgument) {
					t.Fatalf("%s on a %s client = %v, want ErrInvalidArgument", name, kind, err)
				}
			})
		}
		t.Run(kind+"/queries", func(t *testing.T) {
			bounded(t, "queries", func() {
				c.StopKeepAlive()
				if c.IsLeader() {
					t.Error("IsLeader = true")
				}
				if d := c.GetRemainingLease(); d != 0 {
					t.Errorf("GetRemainingLease = %v, want 0", d)
				}
				if s := c.State(); s != client.StateClosed {
					t.Errorf("State = %s, want %s", s, client.StateClosed)
				}
				if id := c.ClientID(); id != "" {
					t.Errorf("ClientID = %q, want empty", id)
				}
				if tr, ok := <-c.Watch(bg); ok {
					t.Errorf("Watch delivered %+v; want a closed channel", tr)
				}
			})
		})
	}
}
