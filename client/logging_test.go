package client_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
)

// funcHandler is a slog.Handler that enables every level and hands each
// record to handle: the user's code, as the client's logger reaches it.
type funcHandler struct{ handle func(slog.Record) }

func (h funcHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h funcHandler) Handle(_ context.Context, r slog.Record) error {
	h.handle(r)
	return nil
}
func (h funcHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h funcHandler) WithGroup(string) slog.Handler      { return h }

// The user's logger is user code and never runs under the election's
// mutex: a handler that calls back into the client (reads, and even
// TryAcquireLock and StopKeepAlive) neither deadlocks nor stalls it. These
// run in real time, bounded: a deadlock on the mutex is invisible to
// synctest.
func TestLoggerMayCallBackIntoTheClient(t *testing.T) {
	srv := qqtest.NewUnstartedServer()
	var self atomic.Pointer[client.QuorumQuestClient]
	var reentered, records atomic.Int32
	logger := slog.New(funcHandler{func(slog.Record) {
		records.Add(1)
		c := self.Load()
		if c == nil {
			return
		}
		_ = c.IsLeader()
		_ = c.State()
		_ = c.GetRemainingLease()
		if reentered.Add(1) == 1 { // once: each call logs, which would recurse
			_, _ = c.TryAcquireLock(bg)
			c.StopKeepAlive()
		}
	}})
	a := newBoundedClient(t, srv, "a", client.WithLogger(logger))
	self.Store(a)
	bounded(t, "TryAcquireLock with a re-entrant logger", func() { mustAcquire(t, a) })
	bounded(t, "ReleaseLock with a re-entrant logger", func() {
		if err := a.ReleaseLock(bg); err != nil {
			t.Errorf("ReleaseLock: %v", err)
		}
	})
	bounded(t, "Close with a re-entrant logger", func() { _ = a.Close() })
	if reentered.Load() == 0 || records.Load() < 4 {
		t.Fatalf("the logger saw %d records and re-entered %d times: the test exercised nothing", records.Load(), reentered.Load())
	}
	if _, held := srv.Holder(service, domain); held {
		t.Fatal("lock held after Close")
	}
}

// A logger that blocks delays at most the goroutine that logs, never the
// machine: while one call's log record is stuck in the handler, another
// goroutine releases the lock and reads the state.
func TestBlockingLoggerStallsNothing(t *testing.T) {
	srv := qqtest.NewUnstartedServer()
	entered, unblock := make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	logger := slog.New(funcHandler{func(slog.Record) {
		if first.CompareAndSwap(false, true) {
			close(entered)
			<-unblock
		}
	}})
	a := newBoundedClient(t, srv, "a", client.WithLogger(logger))
	acquired := make(chan struct{})
	go func() {
		defer close(acquired)
		_, _ = a.TryAcquireLock(bg)
	}()
	<-entered // the first transition's record is stuck in the handler
	defer func() {
		close(unblock)
		<-acquired
	}()
	bounded(t, "ReleaseLock while the logger blocks", func() {
		if err := a.ReleaseLock(bg); err != nil {
			t.Errorf("ReleaseLock: %v", err)
		}
	})
	if a.State() != client.StateFollower || a.IsLeader() {
		t.Fatalf("state %s, leader %v after the release", a.State(), a.IsLeader())
	}
	if _, held := srv.Holder(service, domain); held {
		t.Fatal("the release did not reach the server while the logger blocked")
	}
}
