package qqtest_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
)

// TestLeaderOnlyWork is the complete pattern for testing leader-only code
// with qqtest: two workers run their leader-only work under client.Run
// against one in-memory server; the leader's client is partitioned; the
// test checks that its work stops within its lease, before the other
// worker starts, and that the other takes over. Inside the synctest bubble
// the 15 s lease passes in virtual time: the whole test takes microseconds
// and its timings are exact.
func TestLeaderOnlyWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl = 15 * time.Second
		srv := qqtest.NewUnstartedServer()
		var log workLog

		// Each worker does a step of work every 100 ms while it leads,
		// and stops when its leading context ends.
		ctx, stop := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		for _, id := range []string{"worker-1", "worker-2"} {
			c, err := client.NewQuorumQuestClient("billing", "eu-west", ttl, "in-process",
				client.WithServerStub(srv.Stub()), client.WithClientID(id))
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.Run(ctx, func(leading context.Context) {
					log.start(id)
					defer log.stop(id)
					for tick := time.NewTicker(100 * time.Millisecond); ; {
						select {
						case <-tick.C:
							log.step(id)
						case <-leading.Done():
							tick.Stop()
							return
						}
					}
				})
			})
			synctest.Wait() // worker-1 is elected before worker-2 starts
		}
		defer func() { stop(); wg.Wait() }()

		first, _ := srv.Holder("billing", "eu-west")
		second := map[string]string{"worker-1": "worker-2", "worker-2": "worker-1"}[first]
		cut := time.Now()
		srv.Partition(first)

		time.Sleep(ttl + 2*time.Second) // virtual: the lease runs out, the other takes over
		synctest.Wait()

		stopped, ok := log.stopped[first]
		if !ok {
			t.Fatalf("%s never stopped its work after the partition", first)
		}
		if stopped.Sub(cut) > ttl {
			t.Errorf("%s stopped %v after the partition, want within its %v lease", first, stopped.Sub(cut), ttl)
		}
		started, ok := log.started[second]
		if !ok {
			t.Fatalf("%s never took over", second)
		}
		if started.Before(stopped) {
			t.Errorf("%s started at +%v, before %s stopped at +%v: two leaders", second, started.Sub(cut), first, stopped.Sub(cut))
		}
		if started.Sub(cut) > ttl+ttl/10 {
			t.Errorf("%s took over %v after the partition, want within the TTL and a retry interval", second, started.Sub(cut))
		}
		if id, _ := srv.Holder("billing", "eu-west"); id != second {
			t.Errorf("server holder = %q, want %s", id, second)
		}
		if log.overlap {
			t.Error("both workers did a step of leader-only work at the same instant")
		}
	})
}

// workLog records when each worker's leader-only work ran.
type workLog struct {
	mu               sync.Mutex
	started, stopped map[string]time.Time
	working          map[string]bool
	overlap          bool
}

func (l *workLog) start(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.started == nil {
		l.started, l.stopped, l.working = map[string]time.Time{}, map[string]time.Time{}, map[string]bool{}
	}
	l.started[id] = time.Now()
	l.working[id] = true
}

func (l *workLog) stop(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopped[id] = time.Now()
	l.working[id] = false
}

func (l *workLog) step(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for other, on := range l.working {
		if on && other != id {
			l.overlap = true
		}
	}
}
