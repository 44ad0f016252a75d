package benchmark

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quorum-quest/client-go/client"
	"github.com/quorum-quest/client-go/qqtest"
)

// The bare renewers' ClientSchedule copies the client's keep-alive by hand
// (keepAliveInterval, and the jitter in Schedule.next). This holds the copy
// to the original: a client with default settings, renewing against the
// in-memory server in virtual time, must renew between 0.9 and 1.1 of
// keepAliveInterval(ttl) after each renewal returned, with its delays
// spread over that range. If the client's schedule changes, the scale
// baseline no longer renews at the client's rate and this fails.
func TestClientScheduleIsTheClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const ttl, renewals = 15 * time.Second, 200
		srv := qqtest.NewUnstartedServer()
		var mu sync.Mutex
		var sent []time.Time
		srv.SetFaultFunc(func(c qqtest.Call) qqtest.Fault {
			if c.Method == qqtest.MethodKeepAlive {
				mu.Lock()
				sent = append(sent, time.Now())
				mu.Unlock()
			}
			return qqtest.Fault{}
		})
		c, err := client.NewQuorumQuestClient("svc", "dom", ttl, "in-process", client.WithServerStub(srv.Stub()))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		ctx := context.Background()
		if err := c.Campaign(ctx); err != nil {
			t.Fatal(err)
		}
		// Campaign leaves keep-alive running; the server answers in no
		// virtual time, so each renewal is sent a drawn delay after the
		// one before it.
		time.Sleep(renewals * keepAliveInterval(ttl) * 11 / 10)
		c.StopKeepAlive()
		mu.Lock()
		defer mu.Unlock()
		if len(sent) < renewals {
			t.Fatalf("%d renewals, want at least %d", len(sent), renewals)
		}
		interval := keepAliveInterval(ttl)
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for i := 1; i < len(sent); i++ {
			gap := sent[i].Sub(sent[i-1])
			lo, hi = min(lo, gap), max(hi, gap)
		}
		if lo < interval*9/10 || hi > interval*11/10 {
			t.Fatalf("client renewed %v to %v after the renewal before; ClientSchedule assumes %v to %v",
				lo, hi, interval*9/10, interval*11/10)
		}
		if hi-lo < interval/10 {
			t.Fatalf("client's delays span only %v to %v; ClientSchedule assumes them spread over 0.9 to 1.1 of %v",
				lo, hi, interval)
		}
	})
}
