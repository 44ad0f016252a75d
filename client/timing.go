package client

import "time"

// Timing is the schedule a client keeps for a TTL and options. Programs
// that act on leadership by the clock (the quorum-quest command) derive
// their bounds from it instead of repeating the library's arithmetic.
type Timing struct {
	// UsableLease is how long after sending a request the client trusts
	// its grant: the TTL less drift and margin (WithClockDrift, WithSafetyMargin).
	UsableLease time.Duration
	// KeepAliveInterval is the renewal period before jitter.
	KeepAliveInterval time.Duration
	// RetryAfterFailureBy bounds the time from sending a renewal that is
	// granted to sending the retry of the next renewal, should that one
	// fail at once: the interval at its longest jitter plus the first
	// backoff step.
	RetryAfterFailureBy time.Duration
	// RetryInterval is how often a follower asks for the lock.
	RetryInterval time.Duration
	// CallTimeout bounds every acquisition and renewal: the request
	// timeout, or the usable lease when shorter (WithRequestTimeout).
	CallTimeout time.Duration
}

// TimingFor returns the Timing of a client with lease length ttl and
// options opts. The errors are those of NewQuorumQuestClient for ttl and
// opts.
func TimingFor(ttl time.Duration, opts ...Option) (Timing, error) {
	cfg, err := newConfig("timing", "timing", ttl, "timing", opts)
	if err != nil {
		return Timing{}, err
	}
	return cfg.timing(), nil
}

func (c *config) timing() Timing {
	i := c.keepAliveInterval
	return Timing{
		UsableLease:         c.policy.Usable(c.ttl),
		KeepAliveInterval:   i,
		RetryAfterFailureBy: time.Duration(float64(i)*keepAliveJitterMax) + firstBackoff(i),
		RetryInterval:       c.retryInterval,
		CallTimeout:         c.callTimeout(),
	}
}

// StandAside is how long Run waits, after releasing the lock because lead
// returned, before it campaigns again: one retry interval plus rtt, the
// release's round trip. A candidate denied before the release asks again
// within a retry interval of its denial and reaches the server within a
// round trip more; without the wait this client would win back the lock
// it just gave up, since the server keeps no queue.
func (t Timing) StandAside(rtt time.Duration) time.Duration { return t.RetryInterval + rtt }

// Each renewal comes a jittered interval after the request of the last
// success was sent (at once if that has passed); a failed one is retried
// after a backoff starting at a tenth of the interval.
const (
	keepAliveJitterMin = 0.9
	keepAliveJitterMax = 1.1
)

func firstBackoff(interval time.Duration) time.Duration { return interval / 10 }
