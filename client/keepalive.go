package client

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/quorum-quest/client-go/fsm"
)

// keepAlive is the record of a running keep-alive: when the next renewal is
// due and how long to back off after failures. A held election is this
// record and a timer in the runtime's heap, not a goroutine: each renewal
// runs on the goroutine its timer starts, which ends with the call. It ends
// with ctx, which stopKeepAlive cancels; an election that does not renew
// has none.
type keepAlive struct {
	ctx      context.Context
	cancel   context.CancelFunc
	interval time.Duration
	// next is the timer of the renewal scheduled, nil when none is;
	// scheduled counts the schedules, so that a timer that fired after
	// it was replaced finds it is stale.
	next      *time.Timer
	scheduled uint64
	backoff   *backoff.ExponentialBackOff
	rng       *rand.Rand  // the election's, see newElection
	unwatch   func() bool // ends the watch on ctx (background.go)
	// renewals counts the renewal timers set and the renewals running,
	// which Close waits for (the election's).
	renewals *sync.WaitGroup
	renew    func(ka *keepAlive, schedule uint64)
}

// succeeded schedules the next renewal a jittered interval from now, so
// that many clients started together do not renew in lockstep.
func (ka *keepAlive) succeeded() {
	ka.backoff.Reset()
	jitter := keepAliveJitterMin + (keepAliveJitterMax-keepAliveJitterMin)*ka.rng.Float64()
	ka.schedule(time.Duration(float64(ka.interval) * jitter))
}

// failed schedules a retry after the next backoff step, jittered to between
// half and all of it. The backoff never gives up by itself: the lease
// deadline is what ends a failing keep-alive.
func (ka *keepAlive) failed() {
	step := ka.backoff.NextBackOff()
	ka.schedule(step/2 + time.Duration(ka.rng.Int64N(int64(step/2)+1)))
}

// schedule replaces the renewal scheduled, if any, with one in d. A fresh
// timer per renewal, rather than one Reset, so that a timer that fired
// before it was replaced is told apart by its schedule number.
func (ka *keepAlive) schedule(d time.Duration) {
	ka.unschedule()
	ka.scheduled++
	n := ka.scheduled
	ka.renewals.Add(1) // given back by the timer's function, or by unschedule
	ka.next = time.AfterFunc(d, func() { ka.renew(ka, n) })
}

// unschedule cancels the renewal scheduled, if its timer has not fired;
// one that has fired finds itself stale and gives its count back itself.
func (ka *keepAlive) unschedule() {
	if ka.next != nil && ka.next.Stop() {
		ka.renewals.Done()
	}
	ka.next = nil
}

// startKeepAlive serves StartKeepAlive.
func (e *election) startKeepAlive(ctx context.Context) error {
	e.mu.Lock()
	defer e.unlock()
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
		),
		rng:      e.rng,
		renewals: &e.renewals,
		renew:    e.renew,
	}
	ka.ctx, ka.cancel = context.WithCancel(ctx)
	// Keep-alive ends with its context, as StopKeepAlive would end it.
	// stopKeepAlive unregisters this before it cancels ka.ctx itself.
	ka.unwatch = e.afterFuncLocked(ka.ctx, func() {
		e.mu.Lock()
		defer e.unlock()
		if e.keepAlive == ka {
			e.stopKeepAliveLocked()
		}
	})
	e.keepAlive = ka
	if e.call == nil {
		ka.succeeded() // schedules the first renewal
	} // else the call in flight schedules it when it ends
	return nil
}

// stopKeepAlive serves StopKeepAlive.
func (e *election) stopKeepAlive() {
	e.mu.Lock()
	defer e.unlock()
	e.stopKeepAliveLocked()
}

// stopKeepAlive ends keep-alive, if running.
func (e *election) stopKeepAliveLocked() {
	ka := e.keepAlive
	if ka == nil {
		return
	}
	e.keepAlive = nil
	if cl := e.call; cl != nil && cl.renewal == ka {
		e.cancelCallLocked(cl, context.Canceled)
	}
	ka.unwatch() // first: cancel must not start the watch's callback
	ka.cancel()
	ka.unschedule()
}

// renew runs on the goroutine of ka's timer for schedule n: it sends
// KeepAlive if that is still the renewal due.
func (e *election) renew(ka *keepAlive, n uint64) {
	defer e.renewals.Done()
	e.mu.Lock()
	if e.keepAlive != ka || ka.scheduled != n || e.m.State() != fsm.Leader {
		// Stopped or rescheduled meanwhile, or a renewal is in flight
		// whose result reschedules.
		e.unlock()
		return
	}
	ka.next = nil
	e.fireLocked(fsm.Refresh, nil)
	e.callLocked(ka.ctx, ka, e.rpc.KeepAlive, e.snap.Load().deadline)
	e.unlock()
}
