package client

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/qqtest"
)

// Guarantee: IsLeader checks the lease deadline itself, not only the
// machine's state, so a reader never sees leadership past the deadline even
// when the expiry timer has not run yet.
//
// The reader and the expiry timer coincide only by a race: a grant that
// arrives at or after its own deadline is a failed acquisition
// (transport.ErrLateGrant), so the machine never enters leadership on a
// lease that has run out. The test therefore publishes the snapshot such
// a race leaves behind, leading with a deadline that is now and no expiry
// timer yet, and reads it.
func TestIsLeaderChecksDeadlineWhenExpiryTimerCoincides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q, err := NewQuorumQuestClient("billing", "production", 15*time.Second, "",
			WithServerStub(qqtest.NewUnstartedServer().Stub()), WithClientID("a"))
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		deadline := time.Now().Add(time.Second)
		q.e.m.snap.Store(snapshot{state: StateLeader, deadline: deadline})
		if !q.IsLeader() || q.GetRemainingLease() != time.Second {
			t.Fatalf("before the deadline: IsLeader %v, remaining %v", q.IsLeader(), q.GetRemainingLease())
		}
		time.Sleep(time.Second) // virtual: exactly to the deadline
		if q.IsLeader() || q.GetRemainingLease() != 0 {
			t.Fatalf("at the deadline, state %s: IsLeader %v, remaining %v; want false, 0", q.State(), q.IsLeader(), q.GetRemainingLease())
		}
		q.e.m.snap.Store(snapshot{state: StateFollower}) // let Close see the truth
	})
}
