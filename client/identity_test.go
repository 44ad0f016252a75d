package client_test

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/testutil"
)

func TestWithTransitionHookForBadInput(t *testing.T) {
	stub := client.WithServerStub(testutil.NewServer().Stub())
	if _, err := client.NewQuorumQuestClient(service, domain, ttl, "", stub, client.WithTransitionHookFor(nil)); !errors.Is(err, client.ErrInvalidOption) {
		t.Errorf("nil function: err = %v, want ErrInvalidOption", err)
	}
	refused := errors.New("no instruments today")
	_, err := client.NewQuorumQuestClient(service, domain, ttl, "", stub,
		client.WithTransitionHookFor(func(client.Identity) (func(client.Transition), error) { return nil, refused }))
	if !errors.Is(err, client.ErrInvalidOption) || !errors.Is(err, refused) {
		t.Errorf("failing function: err = %v, want ErrInvalidOption and its error", err)
	}
}

// The factory sees the settled identity: a WithClientID given after it,
// or the random default.
func TestWithTransitionHookForIdentity(t *testing.T) {
	stub := client.WithServerStub(testutil.NewServer().Stub())
	var got []client.Identity
	factory := client.WithTransitionHookFor(func(id client.Identity) (func(client.Transition), error) {
		got = append(got, id)
		return nil, nil // observes nothing
	})
	named, err := client.NewQuorumQuestClient(service, domain, ttl, "", stub, factory, client.WithClientID("named"))
	if err != nil {
		t.Fatal(err)
	}
	defer named.Close()
	random, err := client.NewQuorumQuestClient(service, domain, ttl, "", stub, factory)
	if err != nil {
		t.Fatal(err)
	}
	defer random.Close()
	want := []client.Identity{{service, domain, "named"}, {service, domain, random.ClientID()}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("identities %+v, want %+v", got, want)
	}
	if ok, err := random.TryAcquireLock(bg); !ok || err != nil { // a nil hook is fine
		t.Fatalf("TryAcquireLock = %v, %v", ok, err)
	}
}

// Transitions carry the lease's deadline while leading: the new one on a
// grant, the old one on the transition that sends a renewal, none after.
func TestTransitionDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := testutil.NewServer()
		rec := newRecorder()
		c := newClient(t, srv, "a", client.WithTransitionHookFor(func(id client.Identity) (func(client.Transition), error) {
			return rec.hook, nil
		}))
		start := time.Now()
		usable := ttl - ttl/100 - 100*time.Millisecond // default drift and margin
		mustAcquire(t, c)
		time.Sleep(5 * time.Second)
		mustAcquire(t, c)
		if err := c.ReleaseLock(bg); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		want := []struct {
			to       client.State
			deadline time.Time
		}{
			{client.StateAcquiring, time.Time{}},
			{client.StateLeader, start.Add(usable)},
			{client.StateRefreshing, start.Add(usable)},
			{client.StateLeader, start.Add(5*time.Second + usable)},
			{client.StateFollower, time.Time{}},
		}
		got := rec.all()
		if len(got) != len(want) {
			t.Fatalf("transitions %v, want %d", rec.path(), len(want))
		}
		for i, w := range want {
			if got[i].To != w.to || !got[i].Deadline.Equal(w.deadline) {
				t.Errorf("transition %d: to %s deadline %v, want to %s deadline %v", i, got[i].To, got[i].Deadline, w.to, w.deadline)
			}
		}
	})
}
