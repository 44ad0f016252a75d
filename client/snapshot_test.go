package client

import (
	"strings"
	"testing"
	"time"
)

// The published word gives back every state and deadline it was given, and
// deadlines keep the monotonic clock reading that IsLeader relies on.
func TestPublishedRoundTrip(t *testing.T) {
	var p published
	p.init(snapshot{state: StateFollower})
	if got := p.Load(); got.state != StateFollower || !got.deadline.IsZero() {
		t.Fatalf("after init: %+v", got)
	}
	now := time.Now()
	// The last three are beyond what the word holds (36 years after base):
	// the largest TTL is 68 years, renewed when 22 have passed.
	deadlines := []time.Time{{}, now, now.Add(15 * time.Second), now.Add(-time.Hour), p.base, now.Add(30 * 365 * 24 * time.Hour), now.Add(50 * 365 * 24 * time.Hour), now.Add(68 * 365 * 24 * time.Hour), now.Add(100 * 365 * 24 * time.Hour)}
	// The edge of the word: the last offset it holds, and the first it
	// does not, which would overflow it.
	deadlines = append(deadlines, p.base.Add(maxOff-1), p.base.Add(maxOff), p.base.Add(maxOff+1))
	for _, s := range states {
		for _, d := range deadlines {
			p.Store(snapshot{state: s, deadline: d})
			got := p.Load()
			want := d
			if !d.IsZero() && d.Before(p.base) {
				want = p.base // in the past either way
			}
			if got.state != s || !got.deadline.Equal(want) {
				t.Fatalf("stored %s %v, loaded %s %v", s, d, got.state, got.deadline)
			}
			if !d.IsZero() && !strings.Contains(got.deadline.String(), "m=+") {
				t.Fatalf("deadline %v lost the monotonic clock reading", got.deadline)
			}
		}
	}
}
