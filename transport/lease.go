package transport

import (
	"errors"
	"fmt"
	"time"
)

// ErrLeasePolicy is returned for a lease policy that leaves no usable lease.
var ErrLeasePolicy = errors.New("invalid lease policy")

// LeasePolicy turns a granted lease into a local deadline that the server's
// own expiry cannot precede.
//
// The server starts its expiry when its backend processes the command, which
// is after the request was sent, so a lease measured from the send time ends
// no later than the server's. Drift covers the two clocks running at
// different rates over the lease; Margin covers the time between a caller
// checking IsLeader and acting on it.
type LeasePolicy struct {
	// Drift is the fraction of the lease given up to clock-rate drift,
	// in [0, 1).
	Drift float64
	// Margin is subtracted from every lease, at least 0.
	Margin time.Duration
}

// DefaultLeasePolicy gives up 1% of each lease to drift (far beyond the
// 0.01% that ordinary quartz clocks differ by) and 100ms as a margin.
var DefaultLeasePolicy = LeasePolicy{Drift: 0.01, Margin: 100 * time.Millisecond}

// Usable returns how long a lease of length granted is trusted locally.
func (p LeasePolicy) Usable(granted time.Duration) time.Duration {
	return granted - time.Duration(float64(granted)*p.Drift) - p.Margin
}

// Deadline returns the local deadline of a lease of length granted whose
// request was sent at sent.
func (p LeasePolicy) Deadline(sent time.Time, granted time.Duration) time.Time {
	return sent.Add(p.Usable(granted))
}

// Validate checks that the policy leaves a positive lease of length ttl.
func (p LeasePolicy) Validate(ttl time.Duration) error {
	if p.Drift < 0 || p.Drift >= 1 || p.Drift != p.Drift {
		return fmt.Errorf("%w: drift %v is outside [0, 1)", ErrLeasePolicy, p.Drift)
	}
	if p.Margin < 0 {
		return fmt.Errorf("%w: margin %v is negative", ErrLeasePolicy, p.Margin)
	}
	if p.Usable(ttl) <= 0 {
		return fmt.Errorf("%w: drift %v and margin %v leave nothing of a %v lease", ErrLeasePolicy, p.Drift, p.Margin, ttl)
	}
	return nil
}

// CallTimeout is how long a call for a lease of length ttl is worth
// waiting for, given the configured request timeout: an acquisition
// answered after the usable lease has passed grants a lease that has
// already run out locally, so no call waits longer than that.
func (p LeasePolicy) CallTimeout(ttl, requested time.Duration) time.Duration {
	return min(requested, p.Usable(ttl))
}
