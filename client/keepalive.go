package client

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// keepAlive is the schedule of a running keep-alive. A held election is
// this record and a timer, not a goroutine: each renewal runs on the
// goroutine its timer starts. Methods are called with the election's mutex.
type keepAlive struct {
	ctx       context.Context // the caller's: renewals are sent under it
	interval  time.Duration
	next      *time.Timer                 // nil when no renewal is scheduled
	scheduled uint64                      // numbers the schedules: a stale timer sees it
	backoff   *backoff.ExponentialBackOff // made by the first failure
	rng       *rand.Rand                  // the election's, seeded from the client ID
	renewals  *sync.WaitGroup             // timers set and renewals running, for Close
	renew     func(ka *keepAlive, schedule uint64)
	unwatch   func() bool // nil when ctx never ends
}

func newKeepAlive(ctx context.Context, interval time.Duration, rng *rand.Rand, renewals *sync.WaitGroup, renew func(*keepAlive, uint64)) *keepAlive {
	return &keepAlive{ctx: ctx, interval: interval, rng: rng, renewals: renewals, renew: renew}
}

// succeeded schedules the next renewal a jittered interval after the
// granted request was sent, as its lease is, however late the answer; the
// jitter keeps clients started together from renewing in lockstep.
func (ka *keepAlive) succeeded(sent time.Time) {
	ka.backoff = nil
	jitter := keepAliveJitterMin + (keepAliveJitterMax-keepAliveJitterMin)*ka.rng.Float64()
	ka.schedule(max(time.Until(sent.Add(time.Duration(float64(ka.interval)*jitter))), 0))
}

// failed schedules a retry after half to all of the next backoff step. It
// never gives up: the lease deadline ends a failing keep-alive.
func (ka *keepAlive) failed() {
	if ka.backoff == nil {
		ka.backoff = backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(firstBackoff(ka.interval)),
			backoff.WithMaxInterval(ka.interval/2),
			backoff.WithMaxElapsedTime(0),
			backoff.WithRandomizationFactor(0), // rng jitters: timings replay from the client ID
		)
	}
	step := ka.backoff.NextBackOff()
	ka.schedule(step/2 + time.Duration(ka.rng.Int64N(int64(step/2)+1)))
}

// schedule replaces the renewal scheduled with one in d: a fresh timer,
// not a Reset, so that one that fired before is told apart by its number.
func (ka *keepAlive) schedule(d time.Duration) {
	ka.unschedule()
	ka.scheduled++
	n := ka.scheduled
	ka.renewals.Add(1) // given back by renew, or by unschedule
	ka.next = time.AfterFunc(d, func() { ka.renew(ka, n) })
}

// unschedule stops the timer; one that fired finds itself stale in renew.
func (ka *keepAlive) unschedule() {
	if ka.next != nil && ka.next.Stop() {
		ka.renewals.Done()
	}
	ka.next = nil
}

func (ka *keepAlive) due(n uint64) bool {
	if ka.scheduled != n {
		return false
	}
	ka.next = nil // fired
	return true
}

func (ka *keepAlive) stop() {
	if ka.unwatch != nil {
		ka.unwatch()
	}
	ka.unschedule()
}
