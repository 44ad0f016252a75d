package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Campaign blocks until this client leads, then keeps its lease alive in
// the background, as StartKeepAlive does, until leadership ends,
// StopKeepAlive or Close. While another client leads it retries
// TryAcquireLock every retry interval (WithRetryInterval, default a tenth of
// the TTL, jittered to between 80% and 100% of it); failed calls are retried
// the same way.
//
// It returns nil once leading, ctx's error when ctx ends first, and
// ErrClosed when the client is closed. Keep-alive outlives ctx: ctx bounds
// only the wait for leadership.
func (q *QuorumQuestClient) Campaign(ctx context.Context) error {
	if err := q.badCall("Campaign", ctx); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seedFrom(q.cfg.clientID + "/campaign")))
	for {
		ok, err := q.TryAcquireLock(ctx)
		switch {
		case errors.Is(err, ErrClosed):
			return ErrClosed
		case ok:
			switch err := q.StartKeepAlive(context.WithoutCancel(ctx)); {
			case err == nil, errors.Is(err, ErrKeepAliveRunning):
				return nil
			case errors.Is(err, ErrClosed):
				return ErrClosed
			}
			// ErrNotLeader: the lease ended in between; campaign on.
		case err != nil && ctx.Err() == nil:
			q.cfg.logger.Info("quorumquest: campaign attempt failed", "err", err)
		}
		wait := q.cfg.retryInterval
		retry := time.NewTimer(wait - time.Duration(rng.Int64N(int64(wait)/5+1)))
		select {
		case <-retry.C:
		case <-ctx.Done():
			retry.Stop()
			return ctx.Err()
		case <-q.closing:
			retry.Stop()
			return ErrClosed
		}
	}
}

// Run campaigns for leadership and, while leading, runs lead with a context
// that is cancelled the moment leadership ends: lost, released, the client
// closed, or ctx done. context.Cause of that context says why; it matches
// ErrNotLeader when leadership ended (ErrClosed instead when Close came
// between the win and the start of lead).
//
// When lead returns on its own, Run hands the lock over: it releases it and
// waits one retry interval, plus the release's round trip, before it
// campaigns again, so that any candidate retrying at least that often
// (Run and Campaign with the same retry interval do) takes over first. When lead
// returns because leadership was lost, Run campaigns again. When ctx ends,
// Run releases the lock if it holds it, a graceful handover bounded by
// WithCloseTimeout, and returns ctx's error. After Close it returns
// ErrClosed. lead must return soon after its context is cancelled: until it
// does, Run cannot hand over or campaign.
func (q *QuorumQuestClient) Run(ctx context.Context, lead func(ctx context.Context)) error {
	if err := q.badCall("Run", ctx); err != nil {
		return err
	}
	if lead == nil {
		return fmt.Errorf("%w: Run: nil lead function", ErrInvalidArgument)
	}
	for {
		if err := q.Campaign(ctx); err != nil {
			return err
		}
		leading, stop := q.e.leadership(ctx)
		lead(leading)
		handover := leading.Err() == nil // lead returned while still leading
		stop()
		if ctx.Err() != nil {
			release, cancel := context.WithTimeout(context.WithoutCancel(ctx), q.cfg.closeTimeout)
			if err := q.ReleaseLock(release); err != nil && !errors.Is(err, ErrClosed) {
				q.cfg.logger.Warn("quorumquest: release on shutdown failed", "err", err)
			}
			cancel()
			return ctx.Err()
		}
		released := time.Now()
		switch err := q.ReleaseLock(ctx); {
		case errors.Is(err, ErrClosed):
			return ErrClosed
		case err != nil && ctx.Err() == nil:
			q.cfg.logger.Warn("quorumquest: release after lead returned failed", "err", err)
		}
		if handover {
			if err := q.standAside(ctx, time.Since(released)); err != nil {
				return err
			}
		}
	}
}

// standAside waits, after Run released the lock because lead returned, for
// the other candidates to take it first (Timing.StandAside says how long).
func (q *QuorumQuestClient) standAside(ctx context.Context, rtt time.Duration) error {
	wait := time.NewTimer(q.cfg.timing().StandAside(rtt))
	defer wait.Stop()
	select {
	case <-wait.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-q.closing:
		return ErrClosed
	}
}
