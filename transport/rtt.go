package transport

import (
	"slices"
	"time"
)

// The hedge delay's derivation (docs/connections.md): hedgeFactor times
// the 99th percentile of the last rttWindow answered round trips, within
// [silence/hedgeFloorDiv, silence/hedgeCapDiv]. A call slower than three
// times the 99th percentile of its peers is rare enough that hedging it
// adds far under 1% of calls, and the cap leaves a quarter of the silence
// threshold (the call timeout) for the copy to be sent and answered.
const (
	rttWindow     = 128
	rttMinSamples = 16 // fewer, and the percentile says little: use the cap
	rttRecompute  = 16 // the delay is recomputed every this many samples
	hedgeFactor   = 3
	hedgeFloorDiv = 50
	hedgeCapDiv   = 4
)

// rtts keeps the round trips of the last answered calls and the hedge
// delay derived from them. Guarded by Conn.mu.
type rtts struct {
	ring  [rttWindow]time.Duration
	n     int // samples recorded, ever
	delay time.Duration
	floor time.Duration
	cap   time.Duration
}

func newRTTs(silence time.Duration) rtts {
	r := rtts{floor: silence / hedgeFloorDiv, cap: silence / hedgeCapDiv}
	r.delay = r.cap
	return r
}

// add records the round trip of an answered call.
func (r *rtts) add(d time.Duration) {
	r.ring[r.n%rttWindow] = d
	r.n++
	if r.n >= rttMinSamples && r.n%rttRecompute == 0 {
		r.delay = r.derive()
	}
}

// derive computes the hedge delay from the samples held.
func (r *rtts) derive() time.Duration {
	s := make([]time.Duration, min(r.n, rttWindow))
	copy(s, r.ring[:len(s)])
	slices.Sort(s)
	// Nearest rank: the smallest sample at or above 99% of them.
	p99 := s[(len(s)*99+99)/100-1]
	return min(max(hedgeFactor*p99, r.floor), r.cap)
}
