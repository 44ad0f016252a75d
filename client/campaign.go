package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Campaign blocks until this client leads, then keeps its lease alive as
// StartKeepAlive does. Until then it retries TryAcquireLock every retry
// interval (WithRetryInterval, jittered to 80-100% of it).
//
// It returns nil once leading, ctx's error when ctx ends first, ErrClosed
// after Close. ctx bounds only the wait: keep-alive outlives it.
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

// Run campaigns and, while leading, runs lead with a context cancelled the
// moment leadership ends (lost, released, closed, or ctx done); its
// context.Cause matches ErrNotLeader, or ErrClosed.
//
// When lead returns on its own, Run releases the lock and stands aside for
// Timing.StandAside, so that a candidate retrying as often takes over; when
// leadership was lost, it campaigns again. When ctx ends, Run releases the
// lock within WithCloseTimeout and returns ctx's error; after Close,
// ErrClosed. lead must return soon after its context ends.
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

// standAside lets the other candidates take the lock Run just handed over.
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
