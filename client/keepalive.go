package client

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// keepAlive is the schedule of a running keep-alive: when the next renewal
// is due, and how long to back off after failures. A held election is this
// record and a timer, not a goroutine: each renewal runs on the goroutine
// its timer starts. Its methods are called with the election's mutex held.
type keepAlive struct {
	ctx      context.Context // the caller's: renewals are sent under it
	interval time.Duration
	// next is the timer of the renewal scheduled, nil when none is;
	// scheduled numbers the schedules, so that a timer that fired after it
	// was replaced finds itself stale.
	next      *time.Timer
	scheduled uint64
	backoff   *backoff.ExponentialBackOff
	rng       *rand.Rand // the election's, seeded from the client ID
	renewals  *sync.WaitGroup
	renew     func(ka *keepAlive, schedule uint64)
	unwatch   func() bool // ends the watch on ctx; nil when ctx never ends
}

// newKeepAlive returns a keep-alive with no renewal scheduled. renew is
// called on the timer's goroutine of each renewal; renewals counts the
// timers set and the renewals running, for Close.
func newKeepAlive(ctx context.Context, interval time.Duration, rng *rand.Rand, renewals *sync.WaitGroup, renew func(*keepAlive, uint64)) *keepAlive {
	return &keepAlive{
		ctx:      ctx,
		interval: interval,
		backoff: backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(firstBackoff(interval)),
			backoff.WithMaxInterval(interval/2),
			backoff.WithMaxElapsedTime(0),
			// Jitter comes from rng instead, so that a client's timing is
			// reproducible from its ID.
			backoff.WithRandomizationFactor(0),
		),
		rng:      rng,
		renewals: renewals,
		renew:    renew,
	}
}

// succeeded schedules the next renewal a jittered interval from now, so
// that many clients started together do not renew in lockstep.
func (ka *keepAlive) succeeded() {
	ka.backoff.Reset()
	jitter := keepAliveJitterMin + (keepAliveJitterMax-keepAliveJitterMin)*ka.rng.Float64()
	ka.schedule(time.Duration(float64(ka.interval) * jitter))
}

// failed schedules a retry after the next backoff step, jittered to between
// half and all of it. The backoff never gives up: the lease deadline ends a
// failing keep-alive.
func (ka *keepAlive) failed() {
	step := ka.backoff.NextBackOff()
	ka.schedule(step/2 + time.Duration(ka.rng.Int64N(int64(step/2)+1)))
}

// schedule replaces the renewal scheduled with one in d. A fresh timer per
// renewal rather than a Reset, so that a timer that fired before it was
// replaced is told apart by its number.
func (ka *keepAlive) schedule(d time.Duration) {
	ka.unschedule()
	ka.scheduled++
	n := ka.scheduled
	ka.renewals.Add(1) // given back by renew, or by unschedule
	ka.next = time.AfterFunc(d, func() { ka.renew(ka, n) })
}

// unschedule cancels the renewal scheduled if its timer has not fired; one
// that has fired finds itself stale and gives its count back itself.
func (ka *keepAlive) unschedule() {
	if ka.next != nil && ka.next.Stop() {
		ka.renewals.Done()
	}
	ka.next = nil
}

// due reports whether schedule n is the renewal due now.
func (ka *keepAlive) due(n uint64) bool {
	if ka.scheduled != n {
		return false
	}
	ka.next = nil // fired
	return true
}

// stop ends the schedule for good.
func (ka *keepAlive) stop() {
	if ka.unwatch != nil {
		ka.unwatch()
	}
	ka.unschedule()
}
