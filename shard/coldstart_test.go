package shard_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"github.com/quorum-quest/client-go/shard"
)

// Replicas started together campaign only for their share: a replica's
// first probe round cannot count the others (a member is one denied two
// rounds running), and assigning from that view made each of them
// campaign for every shard. With 10,000 shards that herd of campaigns
// kept three replicas from balancing for over a minute
// (docs/performance.md, "Shards at scale").
func TestColdStartCampaignsOnlyForItsShare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const shards, ttl = 120, 2 * time.Second
		srv := qqtest.NewUnstartedServer()
		var campaigns atomic.Int64 // TryAcquireLock on shard locks
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			if c.Method == qqtest.MethodTryAcquireLock && !strings.Contains(c.Domain, "/members/") {
				campaigns.Add(1)
			}
			return qqtest.Fault{}
		})
		ctx, cancel := context.WithCancel(t.Context())
		var sets []*shard.Set
		var wg sync.WaitGroup
		for r := range 3 {
			s, err := shard.New("svc", "dom", shards, ttl, "", shard.WithClientOptions(
				client.WithServerStub(srv.Stub()), client.WithClientID(fmt.Sprintf("r%d", r))))
			if err != nil {
				t.Fatal(err)
			}
			sets = append(sets, s)
			wg.Go(func() {
				if err := s.Run(ctx, func(ctx context.Context, _ int) { <-ctx.Done() }); !errors.Is(err, context.Canceled) {
					t.Errorf("Run: %v", err)
				}
			})
		}
		d := waitBalanced(t, sets, shards/3, 3*ttl, virtualStep)
		// Each shard needs one granted campaign: 120 in 200 of 200 runs.
		// A replica that acted once on a view missing a member beyond a
		// gap (a joiner pushed past a slot another's probe held) made
		// 180-460, about 1 run in 10, until probing looked past the first
		// free slot; replicas that each campaigned for every shard, before
		// views had to settle, made 699.
		if n := campaigns.Load(); n > shards*4/3 {
			t.Errorf("%d campaigns for %d shards before balance (%v): replicas campaigned beyond their share", n, shards, d)
		} else {
			t.Logf("balanced after %v with %d campaigns for %d shards", d, n, shards)
		}
		cancel()
		wg.Wait()
		for _, s := range sets {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		}
	})
}

// A member beyond a gap in the slots counts in a view that is settling. A
// joiner denied a free slot while another replica's probe held it takes
// the next one, and stays there until it compacts; a replica whose probes
// stopped at the gap settled on a view without it and claimed its shards
// (half of them, with three members, instead of a third).
func TestSettlingViewCountsAMemberBeyondAGap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const shards, ttl = 120, 2 * time.Second
		srv := qqtest.NewUnstartedServer()
		// Members at slots 0 and 3 that never compact: the replica under
		// test joins at slot 1, and slot 2 stays free above it.
		for _, slot := range []int{0, 3} {
			m, err := client.NewQuorumQuestClient("svc", fmt.Sprintf("dom/members/%d", slot), ttl, "",
				client.WithServerStub(srv.Stub()), client.WithClientID(fmt.Sprintf("member-%d", slot)))
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Campaign(t.Context()); err != nil {
				t.Fatal(err)
			}
			defer m.Close()
		}
		s, err := shard.New("svc", "dom", shards, ttl, "", shard.WithClientOptions(
			client.WithServerStub(srv.Stub()), client.WithClientID("r")))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- s.Run(ctx, func(ctx context.Context, _ int) { <-ctx.Done() }) }()
		most := 0
		for range 3 * ttl / (10 * time.Millisecond) {
			virtualStep()
			most = max(most, len(s.Owned()))
		}
		if got := len(s.Owned()); got != shards/3 || most != shards/3 {
			t.Errorf("owned %d shards (at most %d), want %d: the view missed the member beyond the gap", got, most, shards/3)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
}
