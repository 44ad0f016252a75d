package transport

import (
	"errors"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/fsm"
)

// A grant is only as good as the time it is applied: at or after its
// local deadline it becomes a failure with ErrLateGrant, keeping its send
// time; before, and for any result that is not a grant, AsOf changes
// nothing.
func TestLateGrantIsAFailureAsOfItsDeadline(t *testing.T) {
	sent := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	deadline := sent.Add(10 * time.Second)
	grant := Result{Event: fsm.Granted, Sent: sent, Deadline: deadline}
	if got := grant.AsOf(deadline.Add(-time.Nanosecond)); got != grant {
		t.Errorf("a grant 1ns before its deadline became %+v", got)
	}
	for _, now := range []time.Time{deadline, deadline.Add(time.Hour)} {
		got := grant.AsOf(now)
		if got.Event != fsm.Failed || !got.Sent.Equal(sent) || !got.Deadline.IsZero() || !errors.Is(got.Err, ErrLateGrant) {
			t.Errorf("a grant applied %v after its deadline: %+v; want failed with ErrLateGrant, sent kept", now.Sub(deadline), got)
		}
	}
	for _, r := range []Result{
		{Event: fsm.Denied, Sent: sent, Err: ErrNotHolder},
		{Event: fsm.Failed, Sent: sent, Err: errors.New("unavailable")},
	} {
		if got := r.AsOf(deadline.Add(time.Hour)); got.Event != r.Event || got.Err != r.Err || !got.Sent.Equal(sent) {
			t.Errorf("AsOf changed a %s result: %+v", r.Event, got)
		}
	}
}
