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

// callLocked sends TryAcquireLock or KeepAlive (send) on the calling
// goroutine once every earlier call has returned, and feeds its result to
// the machine. It releases e.mu while it waits and while the call runs.
func (e *election) callLocked(ctx context.Context, renewal *keepAlive, send func(context.Context, time.Time) transport.Result, leaseEnd time.Time) acquireReply {
	cl := e.calls.begin(renewal)
	// Logged with the outcome: a logger that blocks, or calls
	// TryAcquireLock, then delays no call but its own.
	defer e.mu.log.putBack(e.mu.log.take())
	holds := e.calls.awaitTurn(&e.mu, cl, ctx)
	if e.calls.counts(cl) {
		callCtx := e.calls.arm(cl, ctx, holds, e.rpc.Deadline(time.Now(), leaseEnd))
		e.mu.unlock()
		res := send(callCtx, leaseEnd)
		e.mu.lock()
		e.calls.returned(cl, holds)
		if e.calls.counts(cl) {
			return e.finishCallLocked(res)
		}
		// Stale: the machine moved on while it ran (released, expired, closed).
	} else if holds { // abandoned while it waited: never sent
		e.calls.turns.pass()
	}
	return acquireReply{leading: e.isLeader(), err: cl.ended}
}

// finishCallLocked feeds a result to the machine, its callers and keep-alive.
func (e *election) finishCallLocked(res transport.Result) acquireReply {
	// A grant whose lease ran out while it waited for the mutex is a failed
	// call (ErrLateGrant).
	now := time.Now()
	res = res.AsOf(now)
	if errors.Is(res.Err, transport.ErrNotHolder) {
		// To the latest call sent: nothing earlier can still be granted.
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
			ka.succeeded(res.Sent)
		case fsm.Failed:
			e.mu.log.note(slog.LevelWarn, "quorumquest: renewal failed; retrying", res.Err)
			ka.failed()
		}
	}
	return reply
}

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
	// Close cuts the release short, whatever the caller's context.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer e.bg.afterFunc(e.bg.closing(), cancel)()
	e.mu.unlock()

	if err := e.calls.sendInTurn(&e.mu, ctx, wait, e.rpc.Release); err != nil {
		return fmt.Errorf("quorumquest: %w", err)
	}
	e.mu.lock()
	// The server saw it after every call sent before: if none was sent
	// since, it holds nothing for us.
	e.calls.released(sent)
	e.mu.unlock()
	return nil
}
