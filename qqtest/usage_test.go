package qqtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
)

// TestUsageOverTheNetwork is what a user of the library writes, using
// nothing but the client and qqtest packages: a real gRPC server on a
// loopback port, two clients campaigning for one lock, the leader cut off
// by its client ID, the other taking over, the cut-off one reporting that
// it no longer leads, then healing. It runs in real time, with the shortest
// TTL, and waits for transitions on Watch channels, never by sleeping; the
// whole test is bounded by a deadline.
func TestUsageOverTheNetwork(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	srv := qqtest.NewServer(t)

	newClient := func(id string) (*client.QuorumQuestClient, <-chan client.Transition) {
		c, err := client.NewQuorumQuestClient("billing", "eu-west", time.Second, srv.Addr(),
			client.WithClientID(id),
			client.WithRetryInterval(100*time.Millisecond),
			client.WithRequestTimeout(250*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c, c.Watch(ctx)
	}
	// waitFor reads w until a transition into state, or fails at the
	// test's deadline.
	waitFor := func(id string, w <-chan client.Transition, state client.State) {
		t.Helper()
		for {
			select {
			case tr, ok := <-w:
				if !ok {
					t.Fatalf("%s: watch ended before a transition to %s", id, state)
				}
				if tr.To == state {
					return
				}
			case <-ctx.Done():
				t.Fatalf("%s: no transition to %s in time", id, state)
			}
		}
	}

	a, watchA := newClient("a")
	b, watchB := newClient("b")
	campaign := func(c *client.QuorumQuestClient) {
		go func() { _ = c.Campaign(ctx) }() // ends with ctx or Close
	}
	campaign(a)
	waitFor("a", watchA, client.StateLeader)
	campaign(b)
	if id, _ := srv.Holder("billing", "eu-west"); id != "a" {
		t.Fatalf("holder = %q, want a", id)
	}

	srv.Partition(a.ClientID())
	waitFor("b", watchB, client.StateLeader)
	if a.IsLeader() {
		t.Fatal("the partitioned client still reports leadership while b leads")
	}
	if !b.IsLeader() {
		t.Fatal("b does not report the leadership it was just granted")
	}

	srv.Heal(a.ClientID())
	for {
		// A's campaign may still have an attempt from the partition in
		// flight, which ends with the request timeout; the next one
		// reaches the server.
		ok, err := a.TryAcquireLock(ctx)
		if ok {
			t.Fatal("healed a took the lock from b")
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("healed a: TryAcquireLock: %v", err)
		}
	}
	if id, held := srv.Holder("billing", "eu-west"); !held || id != "b" {
		t.Fatalf("after heal: Holder = %q, %v; want b, true", id, held)
	}
}
