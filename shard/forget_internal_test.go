package shard

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
)

// A replica keeps a client only for the shards assigned to it: when a
// second replica joins, the first closes the clients of the shards it
// handed over (at 10,000 shards they held 2-8 KiB each for nothing).
func TestMovedShardKeepsNoClient(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const shards, ttl = 10, 2 * time.Second
		srv := qqtest.NewUnstartedServer()
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		start := func(id string) *Set {
			s, err := New("svc", "dom", shards, ttl, "", WithClientOptions(client.WithServerStub(srv.Stub()), client.WithClientID(id)))
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() { _ = s.Run(ctx, func(ctx context.Context, _ int) { <-ctx.Done() }) })
			return s
		}
		clients := func(s *Set) int {
			s.mu.Lock()
			defer s.mu.Unlock()
			return len(s.clients)
		}
		first := start("a")
		time.Sleep(3 * ttl)
		synctest.Wait()
		if n := len(first.Owned()); n != shards {
			t.Fatalf("alone, the first replica owns %d shards", n)
		}
		second := start("b")
		time.Sleep(3 * ttl)
		synctest.Wait()
		if a, b := len(first.Owned()), len(second.Owned()); a != shards/2 || b != shards/2 {
			t.Fatalf("not balanced: %d and %d", a, b)
		}
		if n := clients(first); n != shards/2 {
			t.Errorf("the first replica keeps %d clients for the %d shards it owns", n, shards/2)
		}
		cancel()
		wg.Wait()
		for _, s := range []*Set{first, second} {
			if err := s.Close(); err != nil {
				t.Error(err)
			}
		}
	})
}
