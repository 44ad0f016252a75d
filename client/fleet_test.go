package client_test

import (
	"sync"
	"testing"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/internal/testutil"
	"github.com/quorum-quest/client-go/qqtest"
)

// A leader dialling a fleet of two servers (over one store) keeps its
// leadership, without an instant of not leading, when the server behind
// one of its links vanishes without a reset: renewals go on over the
// other link after the hedge delay.
func TestLeaderSurvivesTheLossOfAServer(t *testing.T) {
	if testing.Short() {
		t.Skip("observes 4 s of real time")
	}
	const ttl = 2 * time.Second
	store := qqtest.NewUnstartedServer()
	var servers []string
	for range 2 {
		s, err := testutil.StartTCPServer(store, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		servers = append(servers, s.Addr())
	}
	p, err := testutil.NewProxy(servers[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	var mu sync.Mutex
	var stepsDown []client.Transition
	leader, err := client.NewQuorumQuestClient(service, domain, ttl, p.Addr()+","+servers[1],
		client.WithClientID("leader"),
		client.WithTransitionHook(func(tr client.Transition) {
			if tr.From.Leading() && !tr.To.Leading() {
				mu.Lock()
				stepsDown = append(stepsDown, tr)
				mu.Unlock()
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer leader.Close()
	mustAcquire(t, leader)
	if err := leader.StartKeepAlive(bg); err != nil {
		t.Fatal(err)
	}
	before := store.Calls().KeepAlive
	if err := p.SetMode(testutil.ProxySilent); err != nil {
		t.Fatal(err)
	}
	<-time.After(2 * ttl) // the window observed, not a wait for a condition
	mu.Lock()
	defer mu.Unlock()
	if len(stepsDown) > 0 {
		t.Fatalf("the leader stepped down with one server of two silent: %+v", stepsDown)
	}
	if !leader.IsLeader() {
		t.Fatal("the leader no longer leads")
	}
	if holder, _ := store.Holder(service, domain); holder != "leader" {
		t.Fatalf("the store's holder is %q", holder)
	}
	if renewed := store.Calls().KeepAlive - before; renewed < 4 {
		t.Fatalf("%d renewals reached the store in 2 TTL", renewed)
	}
}
