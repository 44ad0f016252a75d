package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/quorum-quest/client-go/fsm"
	"github.com/quorum-quest/client-go/transport"
)

// acquire serves TryAcquireLock.
func (e *election) acquire(ctx context.Context) (bool, error) {
	e.mu.lock()
	if e.closed {
		e.mu.unlock()
		return false, ErrClosed
	}
	if reply := e.calls.share(); reply != nil { // acquiring or refreshing: share the outcome
		e.mu.unlock()
		select {
		case r := <-reply:
			return r.leading, r.err
		case <-ctx.Done():
			return e.isLeader(), ctx.Err()
		}
	}
	e.fireLocked(fsm.Acquire, nil)
	r := e.callLocked(ctx, nil, e.rpc.TryAcquire, time.Time{})
	e.mu.unlock()
	if r.err != nil && ctx.Err() != nil {
		// The call failed because ctx ended: say so in terms of ctx.
		r.err = fmt.Errorf("%w: %w", ctx.Err(), r.err)
	}
	return r.leading, r.err
}

// callLocked sends TryAcquireLock or KeepAlive (send) as the call in
// flight, on the calling goroutine once every earlier call has returned,
// and feeds its result to the machine. ctx is the caller's (for a renewal,
// the keep-alive's). It releases e.mu while it waits and while the call
// runs, and returns with it held again.
func (e *election) callLocked(ctx context.Context, renewal *keepAlive, send func(context.Context, time.Time) transport.Result, leaseEnd time.Time) acquireReply {
	cl := e.calls.begin(renewal)
	// What was noted so far is logged with the outcome: a logger that
	// blocks then delays no call queued behind this one, and one that calls
	// TryAcquireLock waits for no outcome but its own.
	defer e.mu.log.putBack(e.mu.log.take())
	holds := e.calls.awaitTurn(&e.mu, cl, ctx)
	if e.calls.counts(cl) {
		callCtx := e.calls.arm(cl, ctx, holds)
		e.mu.unlock()
		res := send(callCtx, leaseEnd)
		e.mu.lock()
		e.calls.returned(cl, holds)
		if e.calls.counts(cl) {
			return e.finishCallLocked(res)
		}
		// The machine moved on while the call ran (released, expired,
		// closed): the result is stale, and says nothing of leadership now.
	} else if holds { // abandoned while it waited: never sent
		e.calls.turns.pass()
	}
	return acquireReply{leading: e.isLeader(), err: cl.ended}
}

// finishCallLocked feeds the result of the call in flight to the machine,
// answers the callers waiting for it and schedules keep-alive's next renewal.
func (e *election) finishCallLocked(res transport.Result) acquireReply {
	// The result may have waited for the mutex: a grant whose lease ran
	// out meanwhile is a failed call, not a leadership (ErrLateGrant).
	now := time.Now()
	res = res.AsOf(now)
	if errors.Is(res.Err, transport.ErrNotHolder) {
		// A definite "not yours" to the latest call sent: nothing earlier
		// can still be granted, since the server saw this call after it.
		e.calls.serverMayHold = false
	}
	if res.Event == fsm.Granted {
		e.m.grant(res.Deadline)
	}
	e.fireLocked(res.Event, res.Err)
	err := res.Err
	if errors.Is(err, transport.ErrNotHolder) {
		err = nil // "another client holds the lock" is an answer, not an error
	} else if err != nil {
		err = fmt.Errorf("quorumquest: %w", err)
	}
	reply := acquireReply{leading: e.m.leadingAt(now), err: err}
	e.calls.finish(reply)
	if ka := e.keepAlive; ka != nil {
		switch res.Event {
		case fsm.Granted:
			ka.succeeded()
		case fsm.Failed:
			e.mu.log.note(slog.LevelWarn, "quorumquest: renewal failed; retrying", res.Err)
			ka.failed()
		}
	}
	return reply
}

// release serves ReleaseLock.
func (e *election) release(ctx context.Context) error {
	e.mu.lock()
	if e.closed {
		e.mu.unlock()
		return ErrClosed
	}
	if e.m.can(fsm.Release) {
		e.calls.forRelease()
		e.fireLocked(fsm.Release, nil)
	} else {
		e.obs.gaveUp()
	}
	wait := e.calls.turns.join()
	sent := e.calls.grantsAsked
	// The caller's context may never end: Close must still be able to cut
	// the release short.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer e.bg.afterFunc(e.bg.closing(), cancel)()
	e.mu.unlock()

	if err := e.calls.sendInTurn(&e.mu, ctx, wait, e.rpc.Release); err != nil {
		return fmt.Errorf("quorumquest: %w", err)
	}
	e.mu.lock()
	// The server saw the release after every call sent before it: if none
	// was sent since, it holds nothing for us.
	e.calls.released(sent)
	e.mu.unlock()
	return nil
}
