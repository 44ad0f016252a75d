package shard_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"github.com/quorum-quest/client-go/shard"
)

// Four replicas, two shards, WithMaxOwned(1): a two-slot semaphore. Never
// more than two leads at once, each replica at most one, and a cut-off
// holder's slot goes to a waiting replica within TTL + R: a replica that
// leads nothing campaigns for every shard. No holder is moved meanwhile:
// the only lead started after the cut is the takeover.
func TestMaxOwnedOneIsASemaphore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 2 * time.Second
		retry := ttl / 10
		srv := qqtest.NewUnstartedServer()
		var alive, most, entries atomic.Int32
		perReplica := make([]atomic.Int32, 4)
		ctx, cancel := context.WithCancel(t.Context())
		var sets []*shard.Set
		var wg sync.WaitGroup
		for r := range 4 {
			s, err := shard.New("svc", "sem", 2, ttl, "", shard.WithMaxOwned(1), shard.WithClientOptions(
				client.WithServerStub(srv.Stub()), client.WithClientID(fmt.Sprintf("r%d", r))))
			if err != nil {
				t.Fatal(err)
			}
			sets = append(sets, s)
			wg.Go(func() {
				_ = s.Run(ctx, func(owning context.Context, _ int) {
					entries.Add(1)
					n := alive.Add(1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					if perReplica[r].Add(1) > 1 {
						t.Errorf("replica %d leads two shards", r)
					}
					<-owning.Done()
					perReplica[r].Add(-1)
					alive.Add(-1)
				})
			})
		}
		time.Sleep(3 * ttl)
		synctest.Wait()
		if alive.Load() != 2 {
			t.Fatalf("%d slots held after 3 TTL, want 2", alive.Load())
		}
		holder := -1
		for r, s := range sets {
			if len(s.Owned()) == 1 {
				holder = r
				break
			}
		}
		id := fmt.Sprintf("r%d", holder)
		srv.Partition(id)
		srv.Partition(id + "/probe")
		cut := time.Now()
		before := entries.Load()
		for {
			n := 0
			for r, s := range sets {
				if r != holder {
					n += len(s.Owned())
				}
			}
			if n == 2 {
				break
			}
			if time.Since(cut) > ttl+retry {
				t.Fatalf("cut-off holder's slot not taken within TTL + R")
			}
			virtualStep()
		}
		t.Logf("the cut-off holder's slot was taken %v after the cut", time.Since(cut))
		time.Sleep(3 * ttl)
		synctest.Wait()
		if n := entries.Load() - before; n != 1 {
			t.Errorf("%d leads started in the 3 TTL after the takeover; want 1, the takeover's (a holder moved)", n)
		}
		if m := most.Load(); m > 2 {
			t.Errorf("%d leads at once, want at most 2", m)
		}
		cancel()
		wg.Wait()
		for _, s := range sets {
			_ = s.Close()
		}
	})
}
