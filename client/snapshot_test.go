package client

import (
	"strings"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/fsm"
)

// The published snapshot gives back every state and deadline it was
// given, and deadlines keep the monotonic clock reading that IsLeader
// relies on.
func TestPublishedRoundTrip(t *testing.T) {
	var p published
	p.init(snapshot{state: StateFollower})
	if got := p.Load(); got.state != StateFollower || !got.deadline.IsZero() {
		t.Fatalf("after init: %+v", got)
	}
	now := time.Now()
	deadlines := []time.Time{{}, now, now.Add(15 * time.Second), now.Add(-time.Hour), now.Add(68 * 365 * 24 * time.Hour), now.Add(100 * 365 * 24 * time.Hour)}
	for _, s := range fsm.States() {
		for _, d := range deadlines {
			p.Store(snapshot{state: s, deadline: d})
			got := p.Load()
			if got.state != s || !got.deadline.Equal(d) {
				t.Fatalf("stored %s %v, loaded %s %v", s, d, got.state, got.deadline)
			}
			if !d.IsZero() && !strings.Contains(got.deadline.String(), " m=") {
				t.Fatalf("deadline %v lost the monotonic clock reading", got.deadline)
			}
		}
	}
}
