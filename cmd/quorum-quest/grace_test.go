package main

import (
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
	"google.golang.org/grpc/codes"
)

// The longest grace leaves every normal renewal room to land: under the
// client the runner builds, with every other renewal failing at once, each
// grant comes before the SIGTERM that the previous lease's deadline would
// have set off. maxGrace asks the library for its timing; a copy of the
// library's jitter, backoff or lease policy in the command would fail here
// once the library changed them.
func TestLongestGraceOutlastsRenewals(t *testing.T) {
	for _, ttl := range []time.Duration{time.Second, 2 * time.Second, 15 * time.Second} {
		t.Run(ttl.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { checkGraceAgainstRenewals(t, ttl) })
		})
	}
}

func checkGraceAgainstRenewals(t *testing.T, ttl time.Duration) {
	cfg, err := parseLock([]string{"--addr", "h:1", "--ttl", ttl.String(), "--", "cmd"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	grace := maxGrace(cfg.timing, cfg.reapAllowance)
	srv := qqtest.NewUnstartedServer()
	var keepAlives atomic.Int64
	srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
		if c.Method == qqtest.MethodKeepAlive && keepAlives.Add(1)%2 == 1 {
			return qqtest.Fault{Code: codes.Unavailable} // answered at once, as by a recycled connection
		}
		return qqtest.Fault{}
	})
	var mu sync.Mutex
	var grants []time.Time
	opts := append(cfg.timingOptions(), client.WithServerStub(srv.Stub()),
		client.WithTransitionHook(func(tr client.Transition) {
			if tr.Event == client.EventGranted {
				mu.Lock()
				grants = append(grants, tr.At)
				mu.Unlock()
			}
		}))
	q, err := client.NewQuorumQuestClient("grace", "renewals", ttl, "", opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Campaign(t.Context()); err != nil {
		t.Fatal(err)
	}
	usable := q.GetRemainingLease() // the bubble's clock has not moved since the grant was sent
	time.Sleep(100 * ttl)
	if !q.IsLeader() {
		t.Fatal("lost leadership while renewing")
	}
	if err := q.Close(); err != nil { // waits for the hook
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(grants) < 100 {
		t.Fatalf("%d grants in 100 TTLs; want a renewal every interval", len(grants))
	}
	for k := 1; k < len(grants); k++ {
		sigterm := grants[k-1].Add(usable - grace - cfg.reapAllowance)
		if answered := grants[k].Add(renewalSlack); answered.After(sigterm) {
			t.Fatalf("renewal %d answered (with the slack) %v after the SIGTERM of the longest grace %v",
				k, answered.Sub(sigterm), grace)
		}
	}
}
