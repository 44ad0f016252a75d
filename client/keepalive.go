package client

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/quorum-quest/client-go/fsm"
)

// keepAlive is the record of a running keep-alive: when the next renewal is
// due and how long to back off after failures. One goroutine per running
// keep-alive (renewLoop) waits for its timer and makes every renewal, so
// the stack it grows through gRPC on the first renewal is reused by the
// next ones instead of being grown again on a fresh timer goroutine each
// time (docs/performance.md). It ends with ctx, which stopKeepAlive
// cancels; an election that does not renew has none.
type keepAlive struct {
	ctx      context.Context
	cancel   context.CancelFunc
	interval time.Duration
	timer    *time.Timer
	backoff  *backoff.ExponentialBackOff
	rng      *rand.Rand  // the election's, see newElection
	unwatch  func() bool // ends the watch on ctx (background.go)
}

// succeeded schedules the next renewal a jittered interval from now, so
// that many clients started together do not renew in lockstep.
func (ka *keepAlive) succeeded() {
	ka.backoff.Reset()
	jitter := keepAliveJitterMin + (keepAliveJitterMax-keepAliveJitterMin)*ka.rng.Float64()
	ka.timer.Reset(time.Duration(float64(ka.interval) * jitter))
}

// failed schedules a retry after the next backoff step, jittered to between
// half and all of it. The backoff never gives up by itself: the lease
// deadline is what ends a failing keep-alive.
func (ka *keepAlive) failed() {
	step := ka.backoff.NextBackOff()
	ka.timer.Reset(step/2 + time.Duration(ka.rng.Int64N(int64(step/2)+1)))
}

// stoppedClock is the backoff's clock: the backoff reads the time only to
// give up after a MaxElapsedTime, which keep-alive does not set.
type stoppedClock struct{}

func (stoppedClock) Now() time.Time { return time.Time{} }

// startKeepAlive serves StartKeepAlive.
func (e *election) startKeepAlive(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.closed:
		return ErrClosed
	case !e.isLeader():
		return ErrNotLeader
	case e.keepAlive != nil:
		return ErrKeepAliveRunning
	}
	interval := e.keepAliveFor
	ka := &keepAlive{
		interval: interval,
		backoff: backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(firstBackoff(interval)),
			backoff.WithMaxInterval(interval/2),
			backoff.WithMaxElapsedTime(0),
			// Jitter comes from the election's generator instead, so that
			// a client's timing is reproducible from its ID.
			backoff.WithRandomizationFactor(0),
			// Nothing reads the elapsed time without a MaxElapsedTime: a
			// clock that never moves spares a reading on every renewal.
			backoff.WithClockProvider(stoppedClock{}),
		),
		rng: e.rng,
	}
	ka.ctx, ka.cancel = context.WithCancel(ctx)
	// A channel timer (Go 1.23 semantics): Reset and Stop discard a value
	// not yet received, so the loop never sees a stale expiry.
	ka.timer = time.NewTimer(time.Hour)
	ka.timer.Stop()
	e.renewals.Add(1) // Close waits for the loop to end
	go e.renewLoop(ka)
	// Keep-alive ends with its context, as StopKeepAlive would end it.
	// stopKeepAlive unregisters this before it cancels ka.ctx itself.
	ka.unwatch = e.afterFunc(ka.ctx, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.keepAlive == ka {
			e.stopKeepAlive()
		}
	})
	e.keepAlive = ka
	if e.call == nil {
		ka.succeeded() // schedules the first renewal
	} // else the call in flight schedules it when it ends
	return nil
}

// stop serves StopKeepAlive.
func (e *election) stop() {
	e.mu.Lock()
	defer e.unlock()
	e.stopKeepAlive()
}

// stopKeepAlive ends keep-alive, if running. e.mu must be held.
func (e *election) stopKeepAlive() {
	ka := e.keepAlive
	if ka == nil {
		return
	}
	e.keepAlive = nil
	if cl := e.call; cl != nil && cl.renewal == ka {
		e.cancelCall(cl, context.Canceled)
	}
	ka.unwatch() // first: cancel must not start the watch's callback
	ka.cancel()
	ka.timer.Stop()
}

// renewLoop is ka's goroutine: it renews each time ka's timer fires, until
// ka ends. It holds e.mu only inside renew, never while it waits.
func (e *election) renewLoop(ka *keepAlive) {
	defer e.renewals.Done()
	for {
		select {
		case <-ka.timer.C:
			e.renew(ka)
		case <-ka.ctx.Done():
			return
		}
	}
}

// renew runs on ka's goroutine: it sends KeepAlive when the renewal is
// due.
func (e *election) renew(ka *keepAlive) {
	e.mu.Lock()
	if e.keepAlive != ka || e.m.State() != fsm.Leader {
		// Stopped meanwhile, or a renewal is in flight whose result
		// reschedules.
		e.unlock()
		return
	}
	e.fire(fsm.Refresh, nil)
	e.runCall(ka.ctx, ka, e.rpc.KeepAlive, e.snap.Load().deadline)
}
