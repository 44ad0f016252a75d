package client

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/quorum-quest/client-go/fsm"
)

// keepAlive is the loop's record of a running keep-alive: when the next
// renewal is due and how long to back off after failures.
type keepAlive struct {
	ctx      context.Context
	cancel   context.CancelFunc
	interval time.Duration
	timer    *time.Timer
	backoff  *backoff.ExponentialBackOff
	rng      *rand.Rand // the loop's, see newLoop
}

// tick and ended are nil channels when keep-alive is not running, which a
// select simply never chooses.
func (ka *keepAlive) tick() <-chan time.Time {
	if ka == nil {
		return nil
	}
	return ka.timer.C
}

func (ka *keepAlive) ended() <-chan struct{} {
	if ka == nil {
		return nil
	}
	return ka.ctx.Done()
}

// succeeded schedules the next renewal a jittered interval from now, so
// that many clients started together do not renew in lockstep.
func (ka *keepAlive) succeeded() {
	ka.backoff.Reset()
	jitter := 0.9 + 0.2*ka.rng.Float64()
	ka.timer.Reset(time.Duration(float64(ka.interval) * jitter))
}

// failed schedules a retry after the next backoff step, jittered to between
// half and all of it. The backoff never gives up by itself: the lease
// deadline is what ends a failing keep-alive.
func (ka *keepAlive) failed() {
	step := ka.backoff.NextBackOff()
	ka.timer.Reset(step/2 + time.Duration(ka.rng.Int64N(int64(step/2)+1)))
}

func (l *loop) startKeepAlive(ctx context.Context) error {
	if !l.c.IsLeader() {
		return ErrNotLeader
	}
	if l.keepAlive != nil {
		return ErrKeepAliveRunning
	}
	interval := l.c.cfg.keepAliveInterval
	ka := &keepAlive{
		interval: interval,
		timer:    time.NewTimer(time.Hour),
		backoff: backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(interval/10),
			backoff.WithMaxInterval(interval/2),
			backoff.WithMaxElapsedTime(0),
			// Jitter comes from the loop's generator instead, so that a
			// client's timing is reproducible from its ID.
			backoff.WithRandomizationFactor(0),
		),
		rng: l.rng,
	}
	ka.ctx, ka.cancel = context.WithCancel(ctx)
	l.keepAlive = ka
	if l.call == nil {
		ka.succeeded() // schedules the first renewal
	} else {
		ka.timer.Stop() // the call in flight schedules it when it ends
	}
	return nil
}

func (l *loop) stopKeepAlive() {
	ka := l.keepAlive
	if ka == nil {
		return
	}
	l.keepAlive = nil
	ka.cancel() // also cancels a renewal in flight: its context derives from ka.ctx
	ka.timer.Stop()
}

// renew sends KeepAlive when the renewal is due.
func (l *loop) renew() {
	if l.m.State() != fsm.Leader {
		return // a renewal is already in flight; its result reschedules
	}
	l.fire(fsm.Refresh, nil)
	l.startCall(l.keepAlive.ctx, l.c.rpc.KeepAlive, l.c.snap.Load().deadline)
}
