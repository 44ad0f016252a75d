package client

import (
	"context"

	"github.com/quorum-quest/client-go/fsm"
)

func (e *election) startKeepAlive(ctx context.Context) error {
	e.mu.lock()
	defer e.mu.unlock()
	switch {
	case e.closed:
		return ErrClosed
	case !e.isLeader():
		return ErrNotLeader
	case e.keepAlive != nil:
		return ErrKeepAliveRunning
	}
	ka := newKeepAlive(ctx, e.cfg.keepAliveInterval, e.rng, &e.bg.renewals, e.renew)
	if ctx.Done() != nil { // Campaign's never ends, and costs no watch
		ka.unwatch = e.bg.afterFunc(ctx, func() {
			e.mu.lock()
			defer e.mu.unlock()
			if e.keepAlive == ka {
				e.stopKeepAliveLocked()
			}
		})
	}
	e.keepAlive = ka
	if e.calls.current == nil {
		// The grant's request left a usable lease before its deadline.
		ka.succeeded(e.m.deadline().Add(-e.cfg.policy.Usable(e.cfg.ttl)))
	} // else the call in flight schedules it when it ends
	return nil
}

func (e *election) stopKeepAlive() {
	e.mu.lock()
	defer e.mu.unlock()
	e.stopKeepAliveLocked()
}

// renew runs on the goroutine of ka's timer for schedule n.
func (e *election) renew(ka *keepAlive, n uint64) {
	defer e.bg.renewals.Done()
	e.mu.lock()
	defer e.mu.unlock()
	// Stopped or rescheduled meanwhile, or a call is in flight whose
	// result reschedules.
	if e.keepAlive == ka && ka.due(n) && e.m.current() == fsm.Leader {
		e.fireLocked(fsm.Refresh, nil)
		e.callLocked(ka.ctx, ka, e.rpc.KeepAlive, e.m.deadline())
	}
}
